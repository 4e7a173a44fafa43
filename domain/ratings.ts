import { isAdmin, isItsRunner, isOwner, type Actor, type Parties } from "./access";
import type { Booking } from "./booking";
import { accept, reject, unreachable, type Decision } from "./decider";

/**
 * Ratings after a trip: once a booking completes, its owner and its runner each rate the other
 * (1–5 stars and a few words) within the rating window (RATING_WINDOW, 7 days by default).
 * Double-blind: a party sees its own rating at once, and the other party's only once both have
 * rated or the window has ended, so that neither rates in answer to the other. Each rating is
 * published (`booking.rated`) when it becomes visible; the owner's rating of the runner counts
 * in the runner's average.
 */
export const RATER_ROLES = ["owner", "runner"] as const;
export type RaterRole = (typeof RATER_ROLES)[number];

export const MIN_STARS = 1;
export const MAX_STARS = 5;

/** One party's rating of the other (`_id` = `<booking_id>:<rater_role>`: one each). */
export interface Rating {
  _id: string;
  booking_id: string;
  booking_number: string;
  rater_role: RaterRole;
  rater_id: string;
  ratee_role: RaterRole;
  ratee_id: string;
  stars: number;
  text: string | null;
  created_at: Date;
  /** The end of the booking's rating window: from then on every rating of it is shown. */
  window_ends_at: Date;
  /** When it was shown to the other party and published; null while hidden. */
  revealed_at: Date | null;
}

/** What rating needs to know of the booking. */
export type RatedBooking = Pick<
  Booking,
  "_id" | "booking_number" | "status" | "owner_id" | "runner_id" | "completed_at"
>;

export type RatingCommand =
  | {
      type: "rate";
      booking: RatedBooking;
      rater: Actor;
      stars: number;
      text: string | null;
      at: Date;
      windowMs: number;
    }
  /** Shows the rating to the other party: both have rated (`both`), or its window has ended. */
  | { type: "reveal"; both: boolean; at: Date };

export const ratingId = (bookingId: string, role: RaterRole) => `${bookingId}:${role}`;

export const otherRole = (role: RaterRole): RaterRole => (role === "owner" ? "runner" : "owner");

/** Which side of the booking the actor rates from: its owner, its runner, or neither (null). */
export function raterRoleOf(actor: Actor, booking: Parties): RaterRole | null {
  if (isOwner(actor, booking)) return "owner";
  if (isItsRunner(actor, booking)) return "runner";
  return null;
}

/** When the booking's rating window ends: `windowMs` after it completed (null: not completed). */
export function windowEndOf(booking: Pick<Booking, "completed_at">, windowMs: number) {
  return booking.completed_at ? new Date(booking.completed_at.getTime() + windowMs) : null;
}

export const ONLY_PARTIES = "Only the booking's owner and its runner rate it";
export const ONLY_COMPLETED = "Only a completed booking can be rated";
export const RATED_ALREADY = "You have rated this booking already";

/**
 * A rating (stored once: a second is refused), and its reveal (published once, with the
 * rating's `booking.rated`). Stars and text are checked by the contract; the rules here are who
 * rates, when, and how often.
 */
export function decide(state: Rating | null, command: RatingCommand): Decision<Rating> {
  switch (command.type) {
    case "rate": {
      const { booking, rater, at } = command;
      const role = raterRoleOf(rater, booking);
      if (role === null) return reject("forbidden", ONLY_PARTIES);
      const ends = windowEndOf(booking, command.windowMs);
      if (booking.status !== "completed" || ends === null) {
        return reject("conflict", ONLY_COMPLETED, { status: booking.status });
      }
      if (state) return reject("conflict", RATED_ALREADY);
      if (at.getTime() > ends.getTime()) {
        return reject("conflict", `The rating window closed at ${ends.toISOString()}`, {
          window_ends_at: ends.toISOString(),
        });
      }
      const ratee = otherRole(role);
      const rating: Rating = {
        _id: ratingId(booking._id, role),
        booking_id: booking._id,
        booking_number: booking.booking_number,
        rater_role: role,
        rater_id: rater.sub,
        ratee_role: ratee,
        ratee_id: (ratee === "owner" ? booking.owner_id : booking.runner_id) ?? "",
        stars: command.stars,
        text: command.text,
        created_at: at,
        window_ends_at: ends,
        revealed_at: null,
      };
      return accept<Rating>({}, rating);
    }
    case "reveal": {
      if (!state) return reject("not_found", "Rating not found");
      // Shown already: a repeated reveal (two sweeps, a sweep and the second rating) is a no-op.
      if (state.revealed_at !== null) return accept<Rating>({}, {});
      if (!command.both && command.at.getTime() < state.window_ends_at.getTime()) {
        return reject(
          "conflict",
          "The rating stays hidden until both have rated or the window ends",
        );
      }
      return accept<Rating>({ revealed_at: null }, { revealed_at: command.at }, [
        {
          type: "booking.rated",
          data: {
            booking_id: state.booking_id,
            booking_number: state.booking_number,
            rater_role: state.rater_role,
            rater_id: state.rater_id,
            ratee_role: state.ratee_role,
            ratee_id: state.ratee_id,
            stars: state.stars,
            occurred_at: command.at.toISOString(),
          },
        },
      ]);
    }
    default:
      return unreachable(command);
  }
}

/**
 * The ratings of one booking the viewer may see: admins all; a party its own, and the other's
 * once both have rated or the window has ended (`now` past `windowEndsAt`); anyone else none.
 */
export function visibleRatings<R extends Pick<Rating, "rater_role">>(
  viewer: Actor,
  booking: Parties,
  ratings: readonly R[],
  windowEndsAt: Date | null,
  now: Date,
): R[] {
  if (isAdmin(viewer)) return [...ratings];
  const role = raterRoleOf(viewer, booking);
  if (role === null) return [];
  const both = RATER_ROLES.every((side) => ratings.some((r) => r.rater_role === side));
  const ended = windowEndsAt !== null && now.getTime() >= windowEndsAt.getTime();
  return ratings.filter((rating) => rating.rater_role === role || both || ended);
}

/** A runner's ratings by owners, as kept: how many, and their stars summed (exact, as no mean is). */
export interface RatingTally {
  count: number;
  sum: number;
}

/** The mean of a tally to two decimals (4.67), or null when there is none yet. */
export function averageOf(tally: RatingTally | null | undefined): number | null {
  if (!tally || tally.count === 0) return null;
  return Math.round((tally.sum / tally.count) * 100) / 100;
}
