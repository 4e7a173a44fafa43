import { z } from "zod";
import {
  BOOKING_STATUSES,
  MOVE_NAMES,
  MOVES,
  type BookingStatus,
  type MoveName,
  type PaymentStatus,
} from "../domain/booking";
import { petType } from "../events/schemas";
import { contracts, type ActionContract } from "./action";
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

/** A move that takes the caller's reason (domain/booking.ts marks it `reason`). */
export const ReasonParams = IdParams.extend({
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
});

/** The moves callers may make through the API: those whose row names roles. */
export const PUBLIC_MOVES = MOVE_NAMES.filter((name) => MOVES[name].api.length > 0);

type MoveContract = ActionContract<typeof IdParams | typeof ReasonParams>;

/** Each move's action (`booking.<move>`): the roles and body its row names. */
export const MOVE_ACTIONS = {} as Record<MoveName, MoveContract>;
for (const name of MOVE_NAMES) {
  const row = MOVES[name];
  MOVE_ACTIONS[name] = { roles: row.api, params: "reason" in row ? ReasonParams : IdParams };
}

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
