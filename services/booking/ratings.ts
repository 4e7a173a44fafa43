import { RATING_ACTIONS, type BookingRatingsEntity, type RatingEntity } from "../../contracts";
import { maySeeBooking } from "../../domain/access";
import type { Booking } from "../../domain/booking";
import {
  ONLY_PARTIES,
  RATER_ROLES,
  decide,
  raterRoleOf,
  ratingId,
  visibleRatings,
  windowEndOf,
  type Rating,
} from "../../domain/ratings";
import { actionsOf, callerOf, notFound, orThrow, rejected } from "../../lib/action";
import type { AggregateStore } from "../../lib/aggregate";
import { runtimeOf } from "../../lib/runtime";
import type { RatingDoc } from "../../models/rating.model";
import { bookingsOf, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/** Ratings the reveal sweep publishes at most per run (one read). */
const PAGE = 100;

/**
 * The reveal sweep runs every quarter of the rating window, within these bounds: a rating is
 * shown at most a minute after its window ends.
 */
const REVEAL_SWEEP_MS = { min: 1000, max: 60_000 };

export const revealEveryMs = ({ ratingWindowMs }: { ratingWindowMs: number }) =>
  Math.min(REVEAL_SWEEP_MS.max, Math.max(REVEAL_SWEEP_MS.min, Math.floor(ratingWindowMs / 4)));

const ratingsOf = (service: BookingThis): AggregateStore<RatingDoc> =>
  service.aggregate(service.models.ratings, "rating");

const toEntity = (rating: Rating): RatingEntity => ({
  booking_id: rating.booking_id,
  booking_number: rating.booking_number,
  rater_role: rating.rater_role,
  rater_id: rating.rater_id,
  ratee_role: rating.ratee_role,
  ratee_id: rating.ratee_id,
  stars: rating.stars,
  text: rating.text,
  created_at: rating.created_at.toISOString(),
});

/** The booking, to those who may see it (404 to anyone else, as `booking.get` answers). */
async function visibleBooking(
  service: BookingThis,
  id: string,
  caller: ReturnType<typeof callerOf>,
): Promise<Booking> {
  const booking = await bookingsOf(service).load(id);
  if (!booking || !maySeeBooking(caller, booking)) throw notFound("Booking");
  return booking;
}

/** The ratings given of a booking, read by `_id`: the one lookup every backend indexes. */
async function ratingsOfBooking(service: BookingThis, bookingId: string): Promise<Rating[]> {
  const store = ratingsOf(service);
  const found = await Promise.all(RATER_ROLES.map((role) => store.load(ratingId(bookingId, role))));
  return found.filter((rating): rating is RatingDoc => rating !== null);
}

/**
 * Shows each rating of the booking to the other party, with its `booking.rated`, when both have
 * rated. A reveal made meanwhile (the other rater's call, a sweep) is left as it is.
 */
async function revealPair(service: BookingThis, ratings: Rating[], at: Date): Promise<void> {
  if (ratings.length < RATER_ROLES.length) return;
  for (const rating of ratings.filter((given) => given.revealed_at === null)) {
    await ratingsOf(service).execute(rating._id, decide, () => ({
      type: "reveal" as const,
      both: true,
      at,
    }));
  }
}

/**
 * The owner or the runner of a completed booking rates the other, once, within RATING_WINDOW of
 * its completion: 201 with the rating. Shown to the other party once both have rated (then both
 * are published) or the window ends (the sweep below).
 */
export const rate = action(RATING_ACTIONS.rate, async function (ctx) {
  const caller = callerOf(ctx);
  const { id, stars, text } = ctx.params;
  const booking = await visibleBooking(this, id, caller);
  const role = raterRoleOf(caller, booking);
  if (role === null) throw rejected({ kind: "forbidden", message: ONLY_PARTIES });
  const at = new Date();
  const { ratingWindowMs } = runtimeOf(this.broker).config;
  const outcome = await ratingsOf(this).execute(ratingId(booking._id, role), decide, () => ({
    type: "rate" as const,
    booking,
    rater: caller,
    stars,
    text: text || null,
    at,
    windowMs: ratingWindowMs,
  }));
  const rating = orThrow(outcome);
  await revealPair(this, await ratingsOfBooking(this, booking._id), at);
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/bookings/${booking._id}/ratings`;
  return toEntity(rating);
});

/**
 * A booking's ratings as the caller may see them (domain/ratings.ts `visibleRatings`): admins
 * all; a party its own, and the other's once both have rated or the window has ended.
 */
export const ratings = action(
  RATING_ACTIONS.ratings,
  async function (ctx): Promise<BookingRatingsEntity> {
    const caller = callerOf(ctx);
    const booking = await visibleBooking(this, ctx.params.id, caller);
    const given = await ratingsOfBooking(this, booking._id);
    const now = new Date();
    // A pair whose reveal a crash cut short is published now rather than at the window's end.
    if (given.some((rating) => rating.revealed_at === null)) await revealPair(this, given, now);
    const ends =
      given[0]?.window_ends_at ??
      windowEndOf(booking, runtimeOf(this.broker).config.ratingWindowMs);
    const shown = visibleRatings(caller, booking, given, ends, now);
    const role = raterRoleOf(caller, booking);
    const open = booking.status === "completed" && ends !== null && now <= ends;
    return {
      booking_id: booking._id,
      window_ends_at: ends?.toISOString() ?? null,
      can_rate: open && role !== null && !given.some((rating) => rating.rater_role === role),
      items: shown.map(toEntity),
      hidden: given.length - shown.length,
    };
  },
);

/**
 * Shows and publishes the ratings whose window has ended with the other party silent: oldest
 * first, a page per run. One that cannot be written is logged and tried again on the next run.
 */
export async function revealDue(this: BookingThis): Promise<number> {
  const now = new Date();
  const due = await this.models.ratings
    .find({ revealed_at: null, window_ends_at: { $lte: now } }, { _id: 1 })
    .sort({ window_ends_at: 1, _id: 1 })
    .limit(PAGE)
    .lean<{ _id: string }[]>();
  let revealed = 0;
  for (const { _id } of due) {
    try {
      const outcome = await ratingsOf(this).execute(_id, decide, () => ({
        type: "reveal" as const,
        both: false,
        at: now,
      }));
      if (outcome.ok) revealed++;
    } catch (error) {
      this.logger.warn(`reveal of rating ${_id} failed: ${(error as Error).message}`);
    }
  }
  return revealed;
}
