import { z } from "zod";
import { MOVES } from "../domain/booking";
import { DISPUTE_OUTCOMES, type DisputeOutcome } from "../domain/disputes";
import { contracts } from "./action";
import { IdParams, PageParams, text } from "./common";

/** Photos a dispute may name: enough to show an injury from a few sides. */
export const DISPUTE_PHOTOS_MAX = 5;

/**
 * The owner's report of a problem with a delivered booking: a reason of DISPUTE_REASONS (checked
 * by the action against the configured list), what happened, and photos they uploaded for it
 * (`POST /api/bookings/:id/photos?stage=dispute`).
 */
export const DisputeParams = IdParams.extend({
  reason: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,39}$/, "expected a reason such as injured (DISPUTE_REASONS)"),
  text: text(1000, { lines: true }),
  photo_ids: z
    .array(z.string().min(1).max(64))
    .max(DISPUTE_PHOTOS_MAX)
    .refine((ids) => new Set(ids).size === ids.length, "names a photo twice")
    .default([]),
}).strict();

/**
 * An admin's resolution: the outcome, and for a partial refund the amount going back to the
 * owner (1 to the hold less 1, checked by the action against the booking's hold).
 */
export const ResolveParams = IdParams.extend({
  outcome: z.enum(DISPUTE_OUTCOMES),
  refund_cents: z.number().int().positive().optional(),
  note: text(500, { lines: true }).optional(),
}).strict();

export const DisputesParams = z.object({ ...PageParams }).strict();

/** A dispute's moves (rows of domain/booking.ts) and the operators' list of open ones. */
export const DISPUTE_ACTIONS = contracts({
  dispute: { roles: MOVES.dispute.api, params: DisputeParams },
  resolve: { roles: MOVES.resolve.api, params: ResolveParams },
  disputes: { roles: ["admin"], params: DisputesParams },
});

/** A booking's dispute as the API shows it. */
export interface DisputeEntity {
  reason: string;
  text: string;
  photo_ids: string[];
  opened_at: string;
  outcome: DisputeOutcome | null;
  refund_cents: number | null;
  note: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
}
