import { Schema, type Connection, type Model } from "mongoose";
import { BOOKING_STATUSES, type Booking } from "../domain/booking";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

/** A booking as stored: the aggregate (domain/booking.ts) with its outbox. */
export type BookingDoc = Booking & WithOutbox;

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });
const BookingPetSchema = new Schema(
  {
    pet_id: String,
    name: String,
    species: String,
    breed: { type: String, default: null },
    weight_kg: Number,
    crate_size: String,
    temperament: { type: String, default: null },
    care_notes: { type: String, default: null },
  },
  { _id: false },
);
const NeedsSchema = new Schema(
  {
    species: [String],
    crate_size: { type: String, default: null },
    count: Number,
    needs_ac: Boolean,
  },
  { _id: false },
);
const ProofSchema = new Schema(
  {
    photo_id: { type: String, required: true },
    at: { type: Date, required: true },
    position: { type: Point, default: null },
    pin_verified: { type: Boolean, default: undefined },
  },
  { _id: false },
);

/** An owner's report of a problem, and an admin's resolution of it (domain/disputes.ts). */
const DisputeSchema = new Schema(
  {
    reason: { type: String, required: true },
    text: { type: String, required: true },
    photo_ids: { type: [String], default: [] },
    opened_by: { type: String, required: true },
    opened_at: { type: Date, required: true },
    outcome: { type: String, default: null },
    refund_cents: { type: Number, default: null },
    note: { type: String, default: null },
    resolved_by: { type: String, default: null },
    resolved_at: { type: Date, default: null },
  },
  { _id: false },
);

/** The runner's declaration that nobody came (domain/no-show.ts). */
const NoShowSchema = new Schema(
  {
    where: { type: String, required: true },
    outcome: { type: String, required: true },
    declared_at: { type: Date, required: true },
    reason: { type: String, default: null },
    photo_id: { type: String, default: null },
    fee_cents: { type: Number, required: true },
  },
  { _id: false },
);

const BookingSchema = new Schema<BookingDoc>(
  {
    _id: { type: String, required: true },
    booking_number: { type: String, required: true, unique: true },
    owner_id: { type: String, required: true, index: true },
    runner_id: { type: String, default: null, index: true },
    status: { type: String, required: true, enum: BOOKING_STATUSES },
    pet_type: { type: String, required: true },
    pet_name: { type: String, required: true },
    notes: { type: String, default: null },
    pickup: { type: Point, required: true },
    dropoff: { type: Point, required: true },
    distance_km: { type: Number, required: true },
    estimated_price_cents: { type: Number, required: true },
    currency: { type: String, required: true },
    payment_status: { type: String, required: true, default: "unpaid" },
    final_price_cents: { type: Number, default: null },
    accepted_at: { type: Date, default: null },
    picked_up_at: { type: Date, default: null },
    delivered_at: { type: Date, default: null },
    confirmed_at: { type: Date, default: null },
    completed_at: { type: Date, default: null },
    cancelled_at: { type: Date, default: null },
    cancelled_by: { type: String, default: null },
    cancel_reason: { type: String, default: null },
    auto_confirm_at: { type: Date, default: null },
    payment_due_at: { type: Date, default: null },
    accept_due_at: { type: Date, default: null },
    pickup_at: { type: Date, default: null },
    pay_by: { type: Date, default: null },
    pets: { type: [BookingPetSchema], default: undefined },
    needs: { type: NeedsSchema, default: undefined },
    handover_pin: { type: String, default: null },
    pin_tries: { type: Number, default: 0 },
    handover_locked_at: { type: Date, default: null },
    pickup_proof: { type: ProofSchema, default: null },
    dropoff_proof: { type: ProofSchema, default: null },
    dispute: { type: DisputeSchema, default: undefined },
    arrived_at_pickup: { type: Date, default: undefined },
    arrived_at_dropoff: { type: Date, default: undefined },
    no_show: { type: NoShowSchema, default: undefined },
    returned_at: { type: Date, default: undefined },
    return_proof: { type: ProofSchema, default: undefined },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "bookings", versionKey: false },
);
BookingSchema.index({ created_at: -1, _id: -1 });
BookingSchema.index({ status: 1, auto_confirm_at: 1 });
BookingSchema.index({ status: 1, payment_due_at: 1 });
BookingSchema.index({ status: 1, accept_due_at: 1 });
BookingSchema.index({ status: 1, pay_by: 1 });

export function bookingModel(connection: Connection): Model<BookingDoc> {
  return (
    (connection.models.Booking as Model<BookingDoc> | undefined) ??
    connection.model<BookingDoc>("Booking", BookingSchema)
  );
}
