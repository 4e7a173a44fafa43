import { Schema, type Connection, type Model } from "mongoose";

/** One row per (consumer group, CloudEvent id) whose handler finished: the dedupe record. */
export interface ProcessedEvent {
  _id: string;
  group: string;
  event_id: string;
  type: string;
  processed_at: Date;
}

const ProcessedEventSchema = new Schema<ProcessedEvent>(
  {
    _id: { type: String, required: true },
    group: { type: String, required: true },
    event_id: { type: String, required: true },
    type: { type: String, required: true },
    processed_at: { type: Date, required: true },
  },
  { collection: "processed_events", versionKey: false },
);

export function processedEventModel(connection: Connection): Model<ProcessedEvent> {
  return (
    (connection.models.ProcessedEvent as Model<ProcessedEvent> | undefined) ??
    connection.model<ProcessedEvent>("ProcessedEvent", ProcessedEventSchema)
  );
}
