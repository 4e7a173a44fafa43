import { Schema, type Connection, type Model } from "mongoose";
import { OutboxEntrySchema, type OutboxEntry } from "./outbox.schema";

export const BOOKING_STATUSES = [
  "requested",
  "accepted",
  "picked_up",
  "in_transit",
  "delivered",
  "confirmed",
  "completed",
  "cancelled",
] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

export interface BookingDoc {
  _id: string;
  booking_number: string;
  owner_id: string;
  runner_id: string | null;
  status: BookingStatus;
  pet_type: string;
  pet_name: string;
  notes: string | null;
  pickup: { lat: number; lng: number };
  dropoff: { lat: number; lng: number };
  distance_km: number;
  estimated_price_cents: number;
  currency: string;
  payment_status: "unpaid" | "pending" | "held" | "failed" | "released" | "refunded";
  created_at: Date;
  updated_at: Date;
  outbox: OutboxEntry[];
}

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });

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
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "bookings", versionKey: false },
);
BookingSchema.index({ created_at: -1, _id: -1 });

export function bookingModel(connection: Connection): Model<BookingDoc> {
  return (
    (connection.models.Booking as Model<BookingDoc> | undefined) ??
    connection.model<BookingDoc>("Booking", BookingSchema)
  );
}
