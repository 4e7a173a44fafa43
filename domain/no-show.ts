import { distanceKm, type LatLng } from "./geo";

/**
 * No-shows: the runner reports its arrival at the pickup or the drop-off (its tracked position
 * within ARRIVAL_RADIUS_M of the place), waits NO_SHOW_WAIT, and may then declare that nobody
 * came. At the pickup the booking is cancelled and NO_SHOW_FEE_CENTS of the hold goes to the
 * runner; at the drop-off the pet goes back to the pickup (`returning`, then `returned`, with the
 * fee or the trip's price captured, NO_SHOW_RETURN_CHARGE) or the booking is held for an admin as
 * a dispute. The moves are rows of
 * domain/booking.ts's table; what they check and what they charge is here.
 */

/** Where a runner arrives, and where nobody came. */
export type NoShowPlace = "pickup" | "dropoff";

/** What a declared no-show led to: the booking cancelled, the pet on its way back, or operations. */
export type NoShowOutcome = "cancelled" | "returning" | "ops";

/** A no-show as the booking keeps it. */
export interface NoShow {
  where: NoShowPlace;
  outcome: NoShowOutcome;
  declared_at: Date;
  /** What the runner said (optional). */
  reason: string | null;
  /** A photo the runner took of the place (optional). */
  photo_id: string | null;
  /** Captured from the hold for the runner at the declaration (the pickup's fee; 0 otherwise). */
  fee_cents: number;
}

/** What a no-show's declaration is told by the caller: the configured wait and fee. */
export interface NoShowRules {
  waitMs: number;
  feeCents: number;
  /** What a pet handed back after a drop-off no-show costs: the fee, or the trip's price. */
  returnCharge?: "fee" | "price";
}

/** What a pet handed back after a drop-off no-show costs its owner, never more than the hold. */
export const returnCharge = (rules: NoShowRules | undefined, heldCents: number): number =>
  rules?.returnCharge === "price" ? heldCents : noShowFee(rules?.feeCents ?? 0, heldCents);

/** Metres between two points, rounded to the metre. */
export const metresBetween = (a: LatLng, b: LatLng): number => Math.round(distanceKm(a, b) * 1000);

/** Why a position is not an arrival at `place` (said with the distance), or null. */
export function arrivalProblem(
  position: LatLng,
  place: LatLng,
  radiusM: number,
  where: NoShowPlace,
): string | null {
  const distance = metresBetween(position, place);
  if (distance <= radiusM) return null;
  const name = where === "pickup" ? "pickup" : "drop-off";
  return `You are ${distance} m from the ${name}: come within ${radiusM} m`;
}

/** The fee of a pickup no-show: the configured one, never more than the hold. */
export const noShowFee = (feeCents: number, heldCents: number): number =>
  Math.max(0, Math.min(feeCents, heldCents));

/** Milliseconds left of the wait after an arrival at `arrivedAt` (0: a no-show may be declared). */
export const waitLeftMs = (arrivedAt: Date, at: Date, waitMs: number): number =>
  Math.max(0, arrivedAt.getTime() + waitMs - at.getTime());

/** "7 min 12 s": a wait as a person reads it. */
export function spoken(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return `${rest} s`;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

/**
 * Why a no-show may not be declared yet at a place the runner reported its arrival at
 * (`arrivedAt`, null: never reported), or null.
 */
export function noShowTooEarly(
  arrivedAt: Date | null | undefined,
  at: Date,
  waitMs: number,
  where: NoShowPlace,
): string | null {
  const name = where === "pickup" ? "pickup" : "drop-off";
  if (!arrivedAt) return `Report your arrival at the ${name} first (POST /api/bookings/:id/arrive)`;
  const left = waitLeftMs(arrivedAt, at, waitMs);
  if (left === 0) return null;
  return `Wait ${spoken(left)} more: a no-show may be declared ${spoken(waitMs)} after the arrival`;
}
