import { z } from "zod";
import { BOOKING_STATUSES, type BookingStatus, type PaymentStatus } from "../domain/booking";
import { petType } from "../events/schemas";
import { contracts } from "./action";
import { IdParams, PageParams, Point, text } from "./common";

export const CreateBookingParams = z
  .object({
    pet_type: petType,
    pet_name: text(80),
    pickup: Point,
    dropoff: Point,
    notes: text(500, { lines: true, emptyAllowed: true }).optional(),
  })
  .strict();

export const CancelBookingParams = IdParams.extend({
  reason: text(500, { lines: true }),
}).strict();

export const ListBookingsParams = z.object({
  status: z.enum(BOOKING_STATUSES).optional(),
  ...PageParams,
});

export const BOOKING_ACTIONS = contracts({
  create: { roles: ["owner"], params: CreateBookingParams, creates: true },
  get: { roles: ["owner", "runner", "admin"], params: IdParams },
  list: { roles: ["owner", "runner", "admin"], params: ListBookingsParams },
  accept: { roles: ["runner"], params: IdParams },
  pickup: { roles: ["runner"], params: IdParams },
  depart: { roles: ["runner"], params: IdParams },
  deliver: { roles: ["runner"], params: IdParams },
  confirm: { roles: ["owner", "admin"], params: IdParams },
  cancel: { roles: ["owner", "runner", "admin"], params: CancelBookingParams },
});

/** A booking as the API returns it. */
export interface BookingEntity {
  booking_id: string;
  booking_number: string;
  status: BookingStatus;
  owner_id: string;
  runner_id: string | null;
  pet_type: string;
  pet_name: string;
  notes: string | null;
  pickup: { lat: number; lng: number };
  dropoff: { lat: number; lng: number };
  distance_km: number;
  estimated_price_cents: number;
  currency: string;
  payment_status: PaymentStatus;
  final_price_cents: number | null;
  cancel_reason: string | null;
  auto_confirm_at: string | null;
  /** Unless its escrow is held by then, the booking expires at this time. */
  payment_due_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A booking move, as the gateway pushes it to the trip's watchers (`booking:status`). */
export interface BookingMoved {
  booking_id: string;
  status: BookingStatus;
}
