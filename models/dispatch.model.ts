import { Schema, type Connection, type Model } from "mongoose";
import { OutboxEntrySchema, type OutboxEntry } from "./outbox.schema";

/**
 * waiting: the booking or its escrow is not known yet · searching: no offer open (no runner in
 * range, or the last one declined) · offered: one runner holds the offer · accepted / cancelled
 * / closed: dispatch is over.
 */
export const DISPATCH_STATUSES = [
  "waiting",
  "searching",
  "offered",
  "accepted",
  "cancelled",
  "closed",
] as const;
export type DispatchStatus = (typeof DISPATCH_STATUSES)[number];

/** Dispatch state of one booking (`_id` = booking id); the offer events go out of its outbox. */
export interface DispatchDoc {
  _id: string;
  pickup: { lat: number; lng: number } | null;
  escrow_held: boolean;
  status: DispatchStatus;
  /** Who holds the offer (offered) or took the booking (accepted). */
  runner_id: string | null;
  offer_expires_at: Date | null;
  /** Runners offered it already, in order; none is offered it twice. */
  tried: string[];
  created_at: Date;
  updated_at: Date;
  outbox: OutboxEntry[];
}

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });

const DispatchSchema = new Schema<DispatchDoc>(
  {
    _id: { type: String, required: true },
    pickup: { type: Point, default: null },
    escrow_held: { type: Boolean, required: true, default: false },
    status: { type: String, required: true, enum: DISPATCH_STATUSES, default: "waiting" },
    runner_id: { type: String, default: null },
    offer_expires_at: { type: Date, default: null },
    tried: { type: [String], default: [] },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "dispatches", versionKey: false },
);
DispatchSchema.index({ status: 1, offer_expires_at: 1 });
DispatchSchema.index({ status: 1, updated_at: 1 });

export function dispatchModel(connection: Connection): Model<DispatchDoc> {
  return (
    (connection.models.Dispatch as Model<DispatchDoc> | undefined) ??
    connection.model<DispatchDoc>("Dispatch", DispatchSchema)
  );
}
