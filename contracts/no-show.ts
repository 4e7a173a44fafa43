import { z } from "zod";
import type { NoShowOutcome, NoShowPlace } from "../domain/no-show";
import { contracts } from "./action";
import { IdParams, text } from "./common";

const photoId = z.string().min(1).max(64);

/** The runner is at the pickup or the drop-off: its tracked position says where it is. */
export const ArriveParams = IdParams;

/** Nobody came: what the runner says, and a photo of the place it took (both optional). */
export const NoShowParams = IdParams.extend({
  reason: text(500, { lines: true }).optional(),
  photo_id: photoId.optional(),
}).strict();

/** The pet handed back at the pickup: a photo, as at a pickup. */
export const ReturnPetParams = IdParams.extend({ photo_id: photoId }).strict();

/**
 * No-shows (domain/no-show.ts): the runner's arrival, its declaration that nobody came, and the
 * pet handed back at the pickup. Each picks its row of domain/booking.ts's table by where the
 * booking is (`arrive_at_pickup` or `arrive_at_dropoff`, …).
 */
export const NO_SHOW_ACTIONS = contracts({
  arrive: { roles: ["runner"], params: ArriveParams },
  noShow: { roles: ["runner"], params: NoShowParams },
  returnPet: { roles: ["runner"], params: ReturnPetParams },
});

/** A declared no-show as the API shows it. */
export interface NoShowEntity {
  where: NoShowPlace;
  outcome: NoShowOutcome;
  declared_at: string;
  reason: string | null;
  photo_id: string | null;
  /** Captured from the hold for the runner at the declaration. */
  fee_cents: number;
}
