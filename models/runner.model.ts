import { Schema, type Connection, type Model } from "mongoose";
import { CRATE_SIZES, PET_TYPES, VEHICLE_KINDS } from "../config/defaults";
import {
  AVAILABILITIES,
  VERIFICATION_STATUSES,
  type CrateCapacity,
  type Offer,
  type Runner,
  type Verification,
} from "../domain/runner";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";
import { PetNeedsSchema } from "./dispatch.model";

/** A runner as stored: profile and availability (domain/runner.ts) with its outbox. */
export type RunnerDoc = Runner & WithOutbox;

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });
const Offer = new Schema<Offer>(
  {
    booking_id: { type: String, required: true },
    pickup: { type: Point, required: true },
    offered_at: { type: Date, required: true },
    expires_at: { type: Date, required: true },
    needs: { type: PetNeedsSchema },
  },
  { _id: false },
);

const CrateCapacity = new Schema<CrateCapacity>(
  {
    largest: { type: String, required: true, enum: CRATE_SIZES },
    pets: { type: Number, required: true },
  },
  { _id: false },
);

const Verification = new Schema<Verification>(
  {
    status: { type: String, required: true, enum: VERIFICATION_STATUSES },
    documents: { type: [String], default: [] },
    requested_at: { type: Date, default: null },
    decided_at: { type: Date, default: null },
    decided_by: { type: String, default: null },
    note: { type: String, default: null },
  },
  { _id: false },
);

const RatingTally = new Schema(
  { count: { type: Number, required: true }, sum: { type: Number, required: true } },
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
    // Absent until the runner sets them (domain/runner.ts): no defaults here either.
    vehicle_kind: { type: String, enum: [...VEHICLE_KINDS, null] },
    crate_capacity: { type: CrateCapacity },
    species: { type: [{ type: String, enum: PET_TYPES }], default: undefined },
    air_conditioning: { type: Boolean },
    verification: { type: Verification },
    // Absent until the first rating (a copy of the runner's tally: models/runner-rating.model.ts).
    rating: { type: RatingTally },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "runners", versionKey: false },
);
RunnerSchema.index({ availability: 1 });
RunnerSchema.index({ "offer.expires_at": 1 });
// The admins' queue of verification requests, oldest first.
RunnerSchema.index({ "verification.status": 1, "verification.requested_at": 1 });

export function runnerModel(connection: Connection): Model<RunnerDoc> {
  return (
    (connection.models.Runner as Model<RunnerDoc> | undefined) ??
    connection.model<RunnerDoc>("Runner", RunnerSchema)
  );
}
