import { Schema, type Connection, type Model } from "mongoose";

/**
 * A runner's one active booking (`_id` = runner id). Taking it is an insert, so two accepts by
 * one runner at the same moment cannot both win: the unique `_id` decides.
 */
export interface RunnerLockDoc {
  _id: string;
  booking_id: string;
  /** The accept call that took it: only that call may give it back on a lost race. */
  token: string;
  taken_at: Date;
}

const RunnerLockSchema = new Schema<RunnerLockDoc>(
  {
    _id: { type: String, required: true },
    booking_id: { type: String, required: true },
    token: { type: String, required: true },
    taken_at: { type: Date, required: true },
  },
  { collection: "runner_locks", versionKey: false },
);

export function runnerLockModel(connection: Connection): Model<RunnerLockDoc> {
  return (
    (connection.models.RunnerLock as Model<RunnerLockDoc> | undefined) ??
    connection.model<RunnerLockDoc>("RunnerLock", RunnerLockSchema)
  );
}
