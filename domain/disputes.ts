import type { DisputeOutcome } from "../events/catalog";

export { DISPUTE_OUTCOMES, type DisputeOutcome } from "../events/catalog";

/**
 * A dispute: instead of confirming a delivered booking, its owner reports a problem before the
 * auto-confirm; an admin then resolves it, releasing the escrow to the runner, refunding part of
 * it, or refunding all of it. The moves are rows of domain/booking.ts's table; what each outcome
 * comes to in money is here and in domain/fees.ts.
 */

/** The owner's report: a reason of DISPUTE_REASONS, what happened, and their photos of it. */
export interface DisputeReport {
  reason: string;
  text: string;
  /** Photos the owner uploaded for this booking (`?stage=dispute`), checked by the caller. */
  photo_ids: string[];
}

/** An admin's decision: the outcome, the amount refunded for a partial refund, a note. */
export interface DisputeResolution {
  outcome: DisputeOutcome;
  refund_cents?: number;
  note?: string;
}

/** A dispute as the booking keeps it: the report, and once resolved, the decision. */
export interface Dispute extends DisputeReport {
  opened_by: string;
  opened_at: Date;
  outcome: DisputeOutcome | null;
  /** What goes back to the owner: 0 for a release, all of the hold for a full refund. */
  refund_cents: number | null;
  note: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
}

/** What the owner gets back of a hold of `heldCents` under this resolution. */
export function refundOf(resolution: DisputeResolution, heldCents: number): number {
  switch (resolution.outcome) {
    case "release":
      return 0;
    case "partial_refund":
      return resolution.refund_cents ?? 0;
    case "full_refund":
      return heldCents;
  }
}

/**
 * Why a resolution does not fit a hold of `heldCents` (said of `refund_cents`), or null. A partial
 * refund leaves the runner something and returns the owner something: 1 to held − 1; the other
 * outcomes name no amount (theirs follows from the outcome).
 */
export function refundProblem(resolution: DisputeResolution, heldCents: number): string | null {
  const cents = resolution.refund_cents;
  if (resolution.outcome !== "partial_refund") {
    return cents === undefined ? null : "only with outcome partial_refund";
  }
  if (cents === undefined) return "required with outcome partial_refund";
  if (!Number.isInteger(cents) || cents < 1 || cents > heldCents - 1) {
    return `a partial refund is 1 to ${heldCents - 1} (the hold is ${heldCents})`;
  }
  return null;
}

/** Whether `dispute` was resolved exactly as `resolution` says: asking again is a repeat. */
export const resolvedAs = (
  dispute: Dispute | null | undefined,
  resolution: DisputeResolution | undefined,
  heldCents: number,
): boolean =>
  Boolean(dispute?.resolved_at) &&
  resolution !== undefined &&
  dispute?.outcome === resolution.outcome &&
  dispute.refund_cents === refundOf(resolution, heldCents);

/** A handover as a card dispute's evidence tells it: when, where, and whether the PIN matched. */
export interface HandoverFacts {
  at: string;
  position: { lat: number; lng: number } | null;
  pin_verified?: boolean;
}

const place = (position: HandoverFacts["position"]) =>
  position
    ? `at ${position.lat.toFixed(5)}, ${position.lng.toFixed(5)} (the runner's GPS)`
    : "(no GPS fix at that moment)";

/**
 * The text of a card dispute's evidence: the trip happened, shown by the handovers at both ends.
 * Null without a handover to tell of (the runner never collected the pet): nothing to give.
 */
export function handoverEvidenceText(booking: {
  booking_number: string;
  pickup_proof: HandoverFacts | null;
  dropoff_proof: HandoverFacts | null;
}): string | null {
  const { pickup_proof: pickup, dropoff_proof: dropoff } = booking;
  if (!pickup && !dropoff) return null;
  return [
    `Kilat pet transport, booking ${booking.booking_number}.`,
    ...(pickup
      ? [`Picked up ${pickup.at} ${place(pickup.position)}; the runner photographed the pet.`]
      : []),
    ...(dropoff
      ? [
          `Handed over ${dropoff.at} ${place(dropoff.position)}; the runner photographed the pet` +
            (dropoff.pin_verified
              ? ", and the recipient gave the PIN that only the cardholder's booking showed."
              : "."),
        ]
      : []),
  ].join("\n");
}
