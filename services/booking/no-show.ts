import { NO_SHOW_ACTIONS } from "../../contracts";
import { isItsRunner, type User } from "../../domain/access";
import {
  MOVES,
  noShowWaitFrom,
  type Booking,
  type BookingMove,
  type MoveName,
} from "../../domain/booking";
import type { LatLng } from "../../domain/geo";
import {
  arrivalProblem,
  metresBetween,
  noShowTooEarly,
  waitLeftMs,
  type NoShowPlace,
} from "../../domain/no-show";
import { actionsOf, callerOf, clientError, orThrow } from "../../lib/action";
import { runtimeOf } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import { handoverCommand, trackAt } from "./handover";
import { bookingsOf, toEntity, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/**
 * No-shows (domain/no-show.ts): the runner reports its arrival, declares after NO_SHOW_WAIT that
 * nobody came, and after a no-show at the drop-off hands the pet back at the pickup. Each is a
 * row of domain/booking.ts's table, picked by where the booking is; what the row cannot know,
 * where the runner is, is checked here first, so a runner too far away is a 422 that changes
 * nothing.
 *
 * The position is the runner's track as the tracking service recorded it, not a position the app
 * sends with the call: the track's fixes passed the fix filter (speed, age) and a crafted body
 * cannot move them. A fix older than FIX_FRESH_MS says where the runner was, not where it is.
 */
const FIX_FRESH_MS = 2 * 60_000;

/** A move of this file, as the table takes it. */
function noShowMove(
  service: BookingThis,
  type: MoveName,
  actor: User,
  extra: Partial<BookingMove> = {},
): BookingMove {
  const { autoConfirmAfterMs, noShow } = runtimeOf(service.broker).config;
  return {
    type,
    actor,
    at: new Date(),
    autoConfirmAfterMs,
    noShow: { waitMs: noShow.waitMs, feeCents: noShow.feeCents, returnCharge: noShow.returnCharge },
    ...extra,
  };
}

/** Whether the move would change the booking: its runner asks, from the row's status, not a repeat. */
function changes(booking: Booking | null, command: BookingMove): booking is Booking {
  const row = MOVES[command.type];
  return (
    booking !== null &&
    isItsRunner(command.actor, booking) &&
    (row.from as readonly string[]).includes(booking.status) &&
    !("repeats" in row && row.repeats(booking, command))
  );
}

/** Refuses (422, with the distance) a runner whose tracked position is not at `where`. */
async function checkPosition(
  service: BookingThis,
  booking: Booking,
  where: NoShowPlace,
  at: Date,
): Promise<LatLng> {
  const place = where === "pickup" ? booking.pickup : booking.dropoff;
  const fix = await trackAt(service, booking._id, at);
  const fresh = fix && at.getTime() - new Date(fix.recorded_at).getTime() <= FIX_FRESH_MS;
  if (!fix || !fresh) {
    throw clientError(
      "VALIDATION_ERROR",
      "No recent position on this trip: send your location (POST /api/runners/me/location) and try again",
      { recorded_at: fix?.recorded_at ?? null },
    );
  }
  const position = { lat: fix.lat, lng: fix.lng };
  const { arrivalRadiusM } = runtimeOf(service.broker).config.noShow;
  const problem = arrivalProblem(position, place, arrivalRadiusM, where);
  if (problem) {
    throw clientError("VALIDATION_ERROR", problem, {
      distance_m: metresBetween(position, place),
      radius_m: arrivalRadiusM,
    });
  }
  return position;
}

/** Where the booking is on its way: the pickup until the pet is aboard, then the drop-off. */
const placeOf = (booking: BookingDoc | null): NoShowPlace =>
  !booking || ["requested", "accepted"].includes(booking.status) ? "pickup" : "dropoff";

/**
 * The runner is at the pickup (accepted) or the drop-off (in_transit): its tracked position
 * within ARRIVAL_RADIUS_M of it. The status stays; the arrival is stamped, the owner told
 * (`booking.runner_arrived`), and NO_SHOW_WAIT starts. Reported again, the first arrival stands.
 */
export const arrive = action(NO_SHOW_ACTIONS.arrive, async function (ctx) {
  const caller = callerOf(ctx);
  const booking = await bookingsOf(this).load(ctx.params.id);
  const where = placeOf(booking);
  const type = where === "pickup" ? "arrive_at_pickup" : "arrive_at_dropoff";
  const command = noShowMove(this, type, caller);
  if (changes(booking, command)) await checkPosition(this, booking, where, command.at);
  return toEntity(orThrow(await this.move(ctx.params.id, command, booking)), caller);
});

/**
 * NO_SHOW_WAIT after its arrival, the runner declares that nobody came (a reason and a photo of
 * the place, both optional). At the pickup the booking is cancelled, NO_SHOW_FEE_CENTS captured
 * for the runner and the rest refunded; at the drop-off the pet goes back to the pickup
 * (NO_SHOW_DROPOFF=return) or the booking is held for an admin (ops). Too early: 409 with the
 * time left.
 */
export const noShow = action(NO_SHOW_ACTIONS.noShow, async function (ctx) {
  const { id, reason, photo_id } = ctx.params;
  const caller = callerOf(ctx);
  const booking = await bookingsOf(this).load(id);
  const where = booking?.no_show?.where ?? placeOf(booking);
  const { noShow: rules } = runtimeOf(this.broker).config;
  const type =
    where === "pickup"
      ? "no_show_at_pickup"
      : rules.dropoff === "ops"
        ? "no_show_to_ops"
        : "no_show_at_dropoff";
  const base = noShowMove(this, type, caller, reason === undefined ? {} : { reason });
  if (changes(booking, base)) {
    const arrivedAt = noShowWaitFrom(booking, where);
    const early = noShowTooEarly(arrivedAt, base.at, rules.waitMs, where);
    if (early) {
      const left = arrivedAt ? waitLeftMs(arrivedAt, base.at, rules.waitMs) : null;
      throw clientError("CONFLICT", early, {
        seconds_left: left === null ? null : Math.ceil(left / 1000),
      });
    }
  }
  const { command, known } = await handoverCommand(
    this,
    id,
    base,
    photo_id === undefined ? {} : { photo_id },
  );
  return toEntity(orThrow(await this.move(id, command, known ?? booking)), caller);
});

/**
 * After a no-show at the drop-off, the runner hands the pet back at the pickup: a photo (as at a
 * pickup), its tracked position within ARRIVAL_RADIUS_M of the pickup. The booking ends
 * `returned` and NO_SHOW_RETURN_CHARGE is captured, the rest refunded (`booking.returned`).
 */
export const returnPet = action(NO_SHOW_ACTIONS.returnPet, async function (ctx) {
  const { id, photo_id } = ctx.params;
  const caller = callerOf(ctx);
  const booking = await bookingsOf(this).load(id);
  const base = noShowMove(this, "hand_back", caller);
  if (changes(booking, base)) {
    await checkPosition(this, booking, "pickup", base.at);
  }
  const { command, known } = await handoverCommand(this, id, base, { photo_id });
  return toEntity(orThrow(await this.move(id, command, known ?? booking)), caller);
});

/** The actions of this file, as the booking service lists them. */
export const NO_SHOW_HANDLERS = { arrive, noShow, returnPet };
