import { z } from "zod";
import {
  BOOKING_STATUSES,
  MOVE_NAMES,
  MOVES,
  type BookingStatus,
  type MoveName,
  type PaymentStatus,
} from "../domain/booking";
import type { BookingPet, PetNeeds } from "../domain/pets";
import { petType } from "../events/schemas";
import { contracts, type ActionContract } from "./action";
import { IdParams, PageParams, Point, text } from "./common";
import { DisputeParams, ResolveParams, type DisputeEntity } from "./dispute";
import type { NoShowEntity } from "./no-show";

/** MAX_PETS_PER_BOOKING's upper bound (lib/config.ts); the action holds to the configured one. */
const PET_IDS_MAX = 10;

/**
 * A booking names the owner's pets (`pet_ids`, their profiles), or, where QUICK_BOOKING allows,
 * one pet by type and name alone: exactly one of the two forms, which the handler tells apart by
 * `"pet_ids" in params`.
 */
export const CreateBookingParams = z
  .object({
    pet_ids: z.array(z.string().min(1).max(64)).min(1).max(PET_IDS_MAX).optional(),
    pet_type: petType.optional(),
    pet_name: text(80).optional(),
    pickup: Point,
    dropoff: Point,
    notes: text(500, { lines: true, emptyAllowed: true }).optional(),
    /** When the pet is to be picked up (ISO 8601 with an offset); absent: now. */
    pickup_at: z.iso
      .datetime({ offset: true, message: "expected an ISO 8601 time such as 2026-05-01T09:00:00Z" })
      .optional(),
  })
  .strict()
  .transform(({ pet_ids, pet_type, pet_name, ...trip }, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.issues.push({ code: "custom", path, message, input: undefined });
    if (pet_ids) {
      pet_ids.forEach((id, i) => {
        if (pet_ids.indexOf(id) !== i) issue(["pet_ids", i], "named twice");
      });
      if (pet_type !== undefined) issue(["pet_type"], "not with pet_ids");
      if (pet_name !== undefined) issue(["pet_name"], "not with pet_ids");
      return { ...trip, pet_ids };
    }
    if (pet_type === undefined || pet_name === undefined) {
      if (pet_type === undefined) issue(["pet_type"], "required, unless the booking names pet_ids");
      if (pet_name === undefined) issue(["pet_name"], "required, unless the booking names pet_ids");
      return z.NEVER;
    }
    return { ...trip, pet_type, pet_name };
  });
export type CreateBookingRequest = z.output<typeof CreateBookingParams>;

/** A move that takes the caller's reason (domain/booking.ts marks it `reason`). */
export const ReasonParams = IdParams.extend({
  reason: text(500, { lines: true }),
}).strict();

/** A handover with a photo: one the booking's runner uploaded (POST /api/bookings/:id/photos). */
export const PhotoProofParams = IdParams.extend({
  photo_id: z.string().min(1).max(64),
}).strict();

/** The drop-off: the photo, and the PIN the recipient tells the runner. */
export const HandoverParams = PhotoProofParams.extend({
  pin: z.string().regex(/^\d{4,6}$/, "expected the recipient's PIN: 4 to 6 digits"),
}).strict();

/** An admin lets a locked handover be tried again. */
export const UnlockParams = IdParams;

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

type MoveContract = ActionContract<
  | typeof IdParams
  | typeof ReasonParams
  | typeof PhotoProofParams
  | typeof HandoverParams
  | typeof DisputeParams
  | typeof ResolveParams
>;

/** The body a move's row asks for: a reason, proof of the handover, a dispute's, or nothing. */
function moveBody(row: (typeof MOVES)[MoveName]) {
  if ("reason" in row) return ReasonParams;
  if ("proof" in row) return row.proof === "photo" ? PhotoProofParams : HandoverParams;
  if ("dispute" in row) return row.dispute === "report" ? DisputeParams : ResolveParams;
  return IdParams;
}

/** Each move's action (`booking.<move>`): the roles and body its row names. */
export const MOVE_ACTIONS = {} as Record<MoveName, MoveContract>;
for (const name of MOVE_NAMES) {
  const row = MOVES[name];
  MOVE_ACTIONS[name] = { roles: row.api, params: moveBody(row) };
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
  /** The pets as their profiles were when booked (empty: booked by pet type and name alone). */
  pets: BookingPet[];
  /** What carrying them takes (null: a booking made before needs were kept). */
  needs: PetNeeds | null;
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
  /** Held and not accepted by then, the booking is cancelled and its hold released. */
  accept_due_at: string | null;
  /** When the pet is to be picked up (null: as soon as a runner accepts). */
  pickup_at: string | null;
  /** Its saved card could not be charged: unless paid by then, the booking is cancelled. */
  pay_by: string | null;
  /** The recipient's PIN: only to the owner and admins. */
  handover_pin?: string;
  /** Too many wrong PINs: no delivery until an admin unlocks it. */
  handover_locked: boolean;
  pickup_proof: HandoverProofEntity | null;
  dropoff_proof: HandoverProofEntity | null;
  /** The owner's report of a problem and its resolution: only on a booking disputed. */
  dispute?: DisputeEntity;
  /** When its runner reported its arrival at the pickup, at the drop-off (only once it did). */
  arrived_at_pickup?: string;
  arrived_at_dropoff?: string;
  /** Nobody came: where, what it led to, the fee (only once declared). */
  no_show?: NoShowEntity;
  /** The pet handed back at the pickup after a no-show at the drop-off (only once it was). */
  return_proof?: HandoverProofEntity;
  created_at: string;
  updated_at: string;
}

/** What shows a handover happened: its photo (GET /api/bookings/:id/photos/:photo_id), time, place. */
export interface HandoverProofEntity {
  photo_id: string;
  at: string;
  position: { lat: number; lng: number } | null;
  pin_verified?: boolean;
}

/** A booking move, as the gateway pushes it to the trip's watchers (`booking:status`). */
export interface BookingMoved {
  booking_id: string;
  status: BookingStatus;
}
