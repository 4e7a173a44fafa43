import { Schema } from "mongoose";

/**
 * Events waiting to be published, kept on the aggregate they belong to, so a state change and
 * the events it causes are one document write (no multi-document transaction needed).
 */
export interface OutboxEntry {
  id: string;
  topic: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  partitionkey: string;
  data: Record<string, unknown>;
  created_at: Date;
  /**
   * The trace context of the write that queued the event (tracing on only): the relay publishes
   * later, outside the request, and the event still belongs to its trace.
   */
  traceparent?: string;
  tracestate?: string;
}

export const OutboxEntrySchema = new Schema<OutboxEntry>(
  {
    id: { type: String, required: true },
    topic: { type: String, required: true },
    type: { type: String, required: true },
    source: { type: String, required: true },
    subject: { type: String, required: true },
    time: { type: String, required: true },
    partitionkey: { type: String, required: true },
    data: { type: Schema.Types.Mixed, required: true },
    created_at: { type: Date, required: true },
    traceparent: { type: String, required: false },
    tracestate: { type: String, required: false },
  },
  { _id: false },
);

/** The fields a model needs for OutboxRelay to drain it. */
export interface WithOutbox {
  _id: string;
  outbox: OutboxEntry[];
}
