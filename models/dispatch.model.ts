import { Schema, type Connection, type Model } from "mongoose";
import { DISPATCH_STATUSES, type Dispatch } from "../domain/dispatch";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

/** A booking's dispatch as stored (domain/dispatch.ts), its offers in its outbox. */
export type DispatchDoc = Dispatch & WithOutbox;

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });

const DispatchSchema = new Schema<DispatchDoc>(
  {
    _id: { type: String, required: true },
    booking_number: { type: String },
    owner_id: { type: String },
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
