import { DISPATCH_TUNING } from "../../config/tuning";
import { RUNNER_ACTIONS } from "../../contracts";
import {
  decide,
  nextCandidate,
  type Candidate,
  type DispatchCommand,
  type DispatchStep,
} from "../../domain/dispatch";
import { distanceKm, isMappable, type LatLng } from "../../domain/geo";
import { decide as decideRunner } from "../../domain/runner";
import { actionsOf, callerOf, orThrow } from "../../lib/action";
import type { Outcome } from "../../lib/aggregate";
import { UnmappablePositionError, type GeoIndex } from "../../adapters/geo-index";
import { runtimeOf } from "../../lib/runtime";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerDoc } from "../../models/runner.model";
import {
  RETRIES,
  commandRunner,
  dispatchesOf,
  runnersOf,
  type DispatchTry,
  type RunnerThis,
  type Tried,
} from "./context";

/**
 * Dispatch (`runner.assigned`): once a booking's escrow is held and its pickup known, it is
 * offered to the nearest free runner in range who has not had it (domain/dispatch.ts). One
 * guarded write claims the runner, one records the offer with its event. Not accepted in time,
 * or declined: the next nearest. No one in range: the booking waits for a runner coming online
 * nearby, and for the periodic sweep. A pickup the geo index refuses fails the dispatch for good.
 * One booking's failure never holds up another's (`isolated`).
 */

const action = actionsOf<RunnerThis>();

/** One command to a booking's dispatch, decided on what is stored (again on a lost race). */
function commandDispatch(
  service: RunnerThis,
  bookingId: string,
  step: DispatchStep,
  known?: DispatchDoc | null,
) {
  return dispatchesOf(service).execute(
    bookingId,
    decide,
    (): DispatchCommand => ({ ...step, booking_id: bookingId, at: new Date() }),
    RETRIES,
    known,
  );
}

/**
 * What one round of tries (a runner coming online, a sweep) has learnt of the runners near its
 * bookings: a runner's document while free, null once not (busy, offered, or taken by this round).
 * The next booking of the round asks the database only about runners not known yet.
 */
export type RunnerSnapshot = Map<string, RunnerDoc | null>;

/**
 * Offers a searching booking to the nearest free runner in range that has not had it yet.
 * Returns the runner offered, or null (the booking stays searching, at the back of the queue).
 * One try per booking runs at a time here: callers meanwhile share one more after it.
 */
export async function tryDispatch(
  service: RunnerThis,
  bookingId: string,
  known?: DispatchDoc,
  seen: RunnerSnapshot = new Map(),
): Promise<string | null> {
  const current = service.dispatching.get(bookingId);
  if (!current) return (await startTry(service, bookingId, known, seen)).runnerId;
  // The running try may have looked before what prompts this one (a runner coming online
  // nearby): one more after it, on the dispatch as that one left it, and not one per caller.
  current.next ??= current.running
    .then(
      (tried) => tried.state ?? undefined,
      () => undefined,
    )
    .then((state) => startTry(service, bookingId, state, seen));
  return (await current.next).runnerId;
}

function startTry(
  service: RunnerThis,
  bookingId: string,
  known: DispatchDoc | undefined,
  seen: RunnerSnapshot,
): Promise<Tried> {
  const run: DispatchTry = { running: attempt(service, bookingId, known, seen), next: null };
  service.dispatching.set(bookingId, run);
  const done = () => {
    if (service.dispatching.get(bookingId) === run && run.next === null)
      service.dispatching.delete(bookingId);
  };
  run.running.then(done, done);
  return run.running;
}

async function attempt(
  service: RunnerThis,
  bookingId: string,
  known: DispatchDoc | undefined,
  seen: RunnerSnapshot,
): Promise<Tried> {
  const dispatch = known ?? (await dispatchesOf(service).load(bookingId));
  if (!dispatch || dispatch.status !== "searching" || !dispatch.pickup)
    return { runnerId: null, state: dispatch };
  const pickup = { lat: dispatch.pickup.lat, lng: dispatch.pickup.lng };
  if (!isMappable(pickup)) return giveUp(service, bookingId, dispatch, "the map cannot hold it");
  try {
    return await offerNearest(service, bookingId, dispatch, pickup, seen);
  } catch (error) {
    // The index refuses the position itself: no later try can do better. Any other error (a
    // RangeError from an invalid date or a driver, too) is worth the event's retries.
    if (error instanceof UnmappablePositionError)
      return giveUp(service, bookingId, dispatch, error.message);
    throw error;
  }
}

/** To the back of the searching queue: the sweeps take the longest-waiting first. */
export async function requeue(
  service: RunnerThis,
  bookingId: string,
  known?: DispatchDoc,
): Promise<Tried> {
  const requeued = await commandDispatch(service, bookingId, { type: "requeue" }, known);
  return { runnerId: null, state: requeued.ok ? requeued.state : null };
}

async function giveUp(
  service: RunnerThis,
  bookingId: string,
  dispatch: DispatchDoc,
  reason: string,
): Promise<Tried> {
  const { lat, lng } = dispatch.pickup ?? { lat: NaN, lng: NaN };
  service.logger.warn(
    `Dispatch of booking ${bookingId} failed for good: pickup ${lat},${lng}: ${reason}`,
  );
  const failed = await commandDispatch(service, bookingId, { type: "fail" }, dispatch);
  return { runnerId: null, state: failed.ok ? failed.state : null };
}

/**
 * The nearest of `near` that is free, learning runners one at a time, nearest first, by `_id`
 * (FerretDB narrows by `_id` alone: a query for several runners reads the whole collection,
 * however many runners it holds); a runner found taken joins `busy`.
 */
async function firstFree(
  service: RunnerThis,
  near: readonly Candidate[],
  options: { radiusKm: number; tried: ReadonlySet<string>; busy: Set<string> },
  seen: RunnerSnapshot,
): Promise<Candidate | null> {
  for (;;) {
    const candidate = nextCandidate(near, options);
    if (!candidate) return null;
    if (!seen.has(candidate.runnerId)) {
      const free = await service.models.runners
        .findOne(
          { _id: candidate.runnerId, availability: "online", offer: null, active_booking_id: null },
          { outbox: 0 },
        )
        .lean<RunnerDoc>();
      seen.set(candidate.runnerId, free);
    }
    if (seen.get(candidate.runnerId)) return candidate;
    options.busy.add(candidate.runnerId);
  }
}

async function offerNearest(
  service: RunnerThis,
  bookingId: string,
  dispatch: DispatchDoc,
  pickup: LatLng,
  seen: RunnerSnapshot,
): Promise<Tried> {
  const { radiusKm, offerTimeoutMs } = runtimeOf(service.broker).config.dispatch;
  const tried = new Set(dispatch.tried);
  const busy = new Set<string>();
  // The index holds busy runners too: when the nearest page is all busy or tried, look
  // further (a bigger page) before concluding that no one in range is free.
  let near: Awaited<ReturnType<GeoIndex["nearby"]>> = [];
  for (let limit = 25; limit <= 1600; limit *= 4) {
    near = await service.geo.nearby(pickup, radiusKm, { limit });
    if (near.length === 0) break;
    if ((await firstFree(service, near, { radiusKm, tried, busy }, seen)) || near.length < limit)
      break;
  }
  for (;;) {
    const candidate = await firstFree(service, near, { radiusKm, tried, busy }, seen);
    const at = new Date();
    if (!candidate) return requeue(service, bookingId, dispatch);
    const expires_at = new Date(at.getTime() + offerTimeoutMs);
    const runner = seen.get(candidate.runnerId) ?? null;
    const claim = decideRunner(runner, {
      type: "offer",
      booking_id: bookingId,
      pickup,
      expires_at,
      at,
    });
    const claimed =
      claim.ok && (await runnersOf(service).save(candidate.runnerId, runner, claim)).ok;
    // Offered now, or taken meanwhile: not free for the rest of the round either way.
    seen.set(candidate.runnerId, null);
    if (!claimed) {
      busy.add(candidate.runnerId);
      continue;
    }
    const offered = await commandDispatch(
      service,
      bookingId,
      { type: "offer", runner_id: candidate.runnerId, expires_at },
      dispatch,
    );
    if (!offered.ok) {
      // Another dispatcher (or a cancellation) got there first: give the runner back.
      await releaseOffer(service, candidate.runnerId, bookingId);
      return { runnerId: null, state: null };
    }
    return { runnerId: candidate.runnerId, state: offered.state };
  }
}

/** The offer to `runnerId` is over (declined, expired, runner gone): the next one, please. */
export async function moveOn(
  service: RunnerThis,
  bookingId: string,
  runnerId: string,
  {
    type = "move_on",
    offerKept = true,
  }: { type?: "move_on" | "decline"; offerKept?: boolean } = {},
) {
  const reopened = await commandDispatch(service, bookingId, { type, runner_id: runnerId });
  if (offerKept) await releaseOffer(service, runnerId, bookingId);
  if (reopened.ok) await tryDispatch(service, bookingId, reopened.state);
  return reopened;
}

async function releaseOffer(service: RunnerThis, runnerId: string, bookingId: string) {
  await commandRunner(service, runnerId, {
    type: "release_offer",
    booking_id: bookingId,
    at: new Date(),
  });
}

/** The runner goes busy on the booking; an offer it held for another one moves on now. */
export async function takeBooking(
  service: RunnerThis,
  runnerId: string,
  bookingId: string,
  at: Date,
  by: "claim" | "event",
): Promise<Outcome<RunnerDoc>> {
  const taken = await commandRunner(service, runnerId, {
    type: "take_booking",
    booking_id: bookingId,
    at,
    by,
  });
  // Not at its timeout: the booking it was offered should not wait for a runner now busy. Taking
  // the booking dropped the offer in the same write: nothing for the runner to give back.
  const other = taken.ok ? taken.before?.offer?.booking_id : undefined;
  if (other && other !== bookingId) await moveOn(service, other, runnerId, { offerKept: false });
  return taken;
}

/** A runner came online here: open bookings within its reach get another try. */
export async function dispatchNear(service: RunnerThis, position: LatLng) {
  const { radiusKm } = runtimeOf(service.broker).config.dispatch;
  const open = await service.models.dispatches
    .find({ status: "searching" }, { outbox: 0 })
    .sort({ updated_at: 1 })
    .limit(DISPATCH_TUNING.searchBatch)
    .lean<DispatchDoc[]>();
  const reach = (doc: DispatchDoc) => (doc.pickup ? distanceKm(position, doc.pickup) : Infinity);
  const inReach = open.filter((doc) => reach(doc) <= radiusKm).sort((a, b) => reach(a) - reach(b));
  const seen: RunnerSnapshot = new Map();
  for (const doc of inReach)
    await isolated(service, "search", `booking ${doc._id}`, () =>
      tryDispatch(service, doc._id, doc, seen),
    );
}

const SKIPPED_METRIC = "kilat.runner.dispatch.skipped.total";

/**
 * One record's step of a sweep (or of a runner coming online): a failure is logged and counted,
 * and the others go on; the record gets its next try at the next sweep. False when it failed.
 */
export async function isolated(
  service: RunnerThis,
  step: "expired_offer" | "orphaned_offer" | "search" | "stale_runner",
  what: string,
  work: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    service.logger.warn(`Dispatch ${step} of ${what} failed, skipped: ${reason}`);
    const { metrics } = service.broker;
    if (!metrics.getMetric(SKIPPED_METRIC)) {
      metrics.register({
        type: "counter",
        name: SKIPPED_METRIC,
        labelNames: ["step"],
        description: "Dispatch steps (one booking or runner each) that failed and were skipped",
      });
    }
    metrics.increment(SKIPPED_METRIC, { step });
    return false;
  }
}

/** The runner turns the offer down; it moves to the next nearest runner. */
export const decline = action(RUNNER_ACTIONS.decline, async function (ctx) {
  orThrow(await moveOn(this, ctx.params.id, callerOf(ctx).sub, { type: "decline" }));
  return { declined: true, booking_id: ctx.params.id };
});

/** Dispatch starts once both halves are known, whichever event came first. */
async function noteReady(service: RunnerThis, bookingId: string, step: DispatchStep, known?: null) {
  const noted = await commandDispatch(service, bookingId, step, known);
  if (noted.ok && noted.state.status === "searching")
    await tryDispatch(service, bookingId, noted.state);
}

/** The booking and payment services' events (groups service-runner-bookings, -payments). */
export const bookingEvents: EventHandlers<RunnerThis> = {
  async "booking.requested"(event) {
    const { booking_id, pickup_lat, pickup_lng } = event.data;
    // The booking's first event, so its dispatch is created, not read first: when the escrow's
    // event came first (or this is a repeat), the insert finds it there and it is read then.
    await noteReady(
      this,
      booking_id,
      { type: "pickup_known", pickup: { lat: pickup_lat, lng: pickup_lng } },
      null,
    );
  },

  /** The booking is taken (by the offered runner or another): dispatch ends, runner is busy. */
  async "booking.accepted"(event) {
    const { booking_id, runner_id } = event.data;
    const accepted = await commandDispatch(this, booking_id, { type: "accepted", runner_id });
    const offeredTo =
      accepted.ok && accepted.before?.status === "offered" ? accepted.before.runner_id : null;
    if (offeredTo && offeredTo !== runner_id) await releaseOffer(this, offeredTo, booking_id);
    // The accept claimed the runner already (runner.claim), so this is mostly a repeat. It is
    // kept as the repair of a runner that is not busy on an accepted booking (a claim given back
    // by a call that lost meanwhile, an accept made before claims existed), but it takes only a
    // runner on no other booking: late, this event must not pull a runner off its next trip.
    await takeBooking(this, runner_id, booking_id, new Date(), "event");
  },

  /** The pet is handed over: the runner is free for the next job. */
  async "booking.delivered"(event) {
    const { booking_id, runner_id } = event.data;
    await commandDispatch(this, booking_id, { type: "closed" });
    await commandRunner(this, runner_id, { type: "free", booking_id, at: new Date() });
    // Its fixes naming the booking are no longer trip fixes here (elsewhere: after tripTrustMs).
    this.trips.delete(runner_id);
  },

  async "booking.cancelled"(event) {
    await ended(this, event.data.booking_id);
  },

  /** Unpaid by its deadline; a hold that lands as it expires may have started dispatch. */
  async "booking.expired"(event) {
    await ended(this, event.data.booking_id);
  },
};

/** A booking that will not go ahead: no more offers, and its runner (if one had it) is free. */
async function ended(service: RunnerThis, bookingId: string): Promise<void> {
  const cancelled = await commandDispatch(service, bookingId, { type: "cancelled" });
  const runnerId = cancelled.ok ? cancelled.before?.runner_id : null;
  if (!runnerId) return;
  await releaseOffer(service, runnerId, bookingId);
  await commandRunner(service, runnerId, { type: "free", booking_id: bookingId, at: new Date() });
  service.trips.delete(runnerId);
}

export const paymentEvents: EventHandlers<RunnerThis> = {
  async "payment.escrow_held"(event) {
    await noteReady(this, event.data.booking_id, { type: "escrow_held" });
  },
};
