import { Schema, type Connection, type Model } from "mongoose";
import { OutboxEntrySchema, type OutboxEntry } from "./outbox.schema";

export const AVAILABILITIES = ["offline", "online", "busy"] as const;
export type Availability = (typeof AVAILABILITIES)[number];

/** The one booking a runner is being offered, with what the app shows about it. */
export interface OfferRef {
  booking_id: string;
  pickup: { lat: number; lng: number };
  offered_at: Date;
  expires_at: Date;
}

/**
 * A runner's profile and availability. Positions are not here: they change every few seconds
 * and live in the geo index; this document changes when the runner's availability does.
 */
export interface RunnerDoc {
  _id: string;
  name: string | null;
  vehicle: string | null;
  stripe_account_id: string | null;
  availability: Availability;
  /** Where the runner went online; the geo index has the live position. */
  last_lat: number | null;
  last_lng: number | null;
  active_booking_id: string | null;
  offer: OfferRef | null;
  created_at: Date;
  updated_at: Date;
  outbox: OutboxEntry[];
}

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });
const Offer = new Schema<OfferRef>(
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
