import { Schema, type Connection, type Model } from "mongoose";
import { AVAILABILITIES, type Offer, type Runner } from "../domain/runner";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

/** A runner as stored: profile and availability (domain/runner.ts) with its outbox. */
export type RunnerDoc = Runner & WithOutbox;

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });
const Offer = new Schema<Offer>(
  {
    booking_id: { type: String, required: true },
    pickup: { type: Point, required: true },
    offered_at: { type: Date, required: true },
    expires_at: { type: Date, required: true },
  },
  { _id: false },
);

const RunnerSchema = new Schema<RunnerDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, default: null },
    vehicle: { type: String, default: null },
    stripe_account_id: { type: String, default: null },
    availability: { type: String, required: true, enum: AVAILABILITIES, default: "offline" },
    last_lat: { type: Number, default: null },
    last_lng: { type: Number, default: null },
    active_booking_id: { type: String, default: null },
    active_since: { type: Date, default: null },
    offer: { type: Offer, default: null },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "runners", versionKey: false },
);
RunnerSchema.index({ availability: 1 });
RunnerSchema.index({ "offer.expires_at": 1 });

export function runnerModel(connection: Connection): Model<RunnerDoc> {
  return (
    (connection.models.Runner as Model<RunnerDoc> | undefined) ??
    connection.model<RunnerDoc>("Runner", RunnerSchema)
  );
}
