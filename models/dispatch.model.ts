import { Schema, type Connection, type Model } from "mongoose";
import { CRATE_SIZES, PET_TYPES } from "../config/defaults";
import { DISPATCH_STATUSES, type Dispatch } from "../domain/dispatch";
import type { PetNeeds } from "../domain/pets";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

/** A booking's dispatch as stored (domain/dispatch.ts), its offers in its outbox. */
export type DispatchDoc = Dispatch & WithOutbox;

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });

/** What carrying a booking's pets takes (domain/pets.ts); runner.model.ts keeps it on offers. */
export const PetNeedsSchema = new Schema<PetNeeds>(
  {
    species: { type: [{ type: String, enum: PET_TYPES }], default: [] },
    crate_size: { type: String, enum: [...CRATE_SIZES, null], default: null },
    count: { type: Number, required: true },
    needs_ac: { type: Boolean, required: true, default: false },
  },
  { _id: false },
);

const DispatchSchema = new Schema<DispatchDoc>(
  {
    _id: { type: String, required: true },
    booking_number: { type: String },
    owner_id: { type: String },
    needs: { type: PetNeedsSchema },
    pickup: { type: Point, default: null },
    escrow_held: { type: Boolean, required: true, default: false },
    starts_at: { type: Date, default: null },
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
DispatchSchema.index({ status: 1, starts_at: 1 });

export function dispatchModel(connection: Connection): Model<DispatchDoc> {
  return (
    (connection.models.Dispatch as Model<DispatchDoc> | undefined) ??
    connection.model<DispatchDoc>("Dispatch", DispatchSchema)
  );
}
