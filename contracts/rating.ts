import { z } from "zod";
import { MAX_STARS, MIN_STARS, type Rating } from "../domain/ratings";
import { contracts } from "./action";
import { IdParams, text } from "./common";

/** A rating of the other party of a completed booking: whole stars, and optional words. */
export const RateParams = IdParams.extend({
  stars: z
    .number({ message: `expected a whole number of stars from ${MIN_STARS} to ${MAX_STARS}` })
    .int(`expected a whole number of stars from ${MIN_STARS} to ${MAX_STARS}`)
    .min(MIN_STARS, `must be at least ${MIN_STARS}`)
    .max(MAX_STARS, `must be at most ${MAX_STARS}`),
  text: text(500, { lines: true, emptyAllowed: true }).optional(),
}).strict();

/** Ratings after a trip (domain/ratings.ts): each party rates the other once, double-blind. */
export const RATING_ACTIONS = contracts({
  rate: { roles: ["owner", "runner"], params: RateParams },
  ratings: { roles: ["owner", "runner", "admin"], params: IdParams },
});

/** One rating, as those who may see it see it: the stored rating without its bookkeeping. */
export interface RatingEntity extends Omit<
  Rating,
  "_id" | "created_at" | "window_ends_at" | "revealed_at"
> {
  created_at: string;
}

/** A booking's ratings as the caller may see them, and whether the caller may still rate. */
export interface BookingRatingsEntity {
  booking_id: string;
  /** Null until the booking completes. */
  window_ends_at: string | null;
  /** The caller is a party that has not rated yet, and the window is open. */
  can_rate: boolean;
  items: RatingEntity[];
  /** Ratings given that the caller may not see yet (double-blind): at most one. */
  hidden: number;
}

/** A runner's rating by the owners it carried for. */
export interface RunnerRatingEntity {
  count: number;
  /** The mean of the stars to two decimals; null before the first rating. */
  average: number | null;
}
