import { DISPATCH_TUNING } from "../../config/tuning";
import { distanceKm, isMappable, type LatLng } from "../../domain/geo";
import { decide as decideRunner } from "../../domain/runner";
import { UnmappablePositionError, type GeoIndex } from "../../adapters/geo-index";
import { runtimeOf } from "../../lib/runtime";
import type { DispatchDoc } from "../../models/dispatch.model";
import { commandDispatch, dispatchesOf, releaseOffer, runnersOf } from "./commands";
import { firstFree, type RunnerSnapshot } from "./free-runners";
import { isolated } from "./isolated";
import type { DispatchTry, RunnerThis, Tried } from "./models";

/**
 * Dispatch (`runner.assigned`): once a booking's escrow is held and its pickup known, it is
 * offered to the nearest free runner in range who has not had it and may carry its pets
 * (verified and able to: domain/eligibility.ts; domain/dispatch.ts), or, with
 * DISPATCH_PREFER_RATED, to the best rated of those within DISPATCH_RATING_TIE_M of the nearest
 * (free-runners.ts). One guarded write claims the runner, one records the offer with its event.
 * Not accepted in time, or declined: the next nearest (offers.ts). No one in range: the booking
 * waits for a runner coming online nearby (`dispatchNear`), and for the periodic sweep (sweep.ts).
 * A pickup the geo index refuses fails the dispatch for good. One booking's failure never holds
 * up another's (`isolated`).
 */

/**
 * Offers a searching booking to the nearest free runner in range that has not had it yet and
 * may carry its pets.
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

async function offerNearest(
  service: RunnerThis,
  bookingId: string,
  dispatch: DispatchDoc,
  pickup: LatLng,
  seen: RunnerSnapshot,
): Promise<Tried> {
  const { config } = runtimeOf(service.broker);
  const { radiusKm, offerTimeoutMs } = config.dispatch;
  const { preferRated, tieKm } = config.dispatchRating;
  const tried = new Set(dispatch.tried);
  const busy = new Set<string>();
  const { needs } = dispatch;
  // The index holds busy runners too: when the nearest page is all busy or tried, look
  // further (a bigger page) before concluding that no one in range is free.
  let near: Awaited<ReturnType<GeoIndex["nearby"]>> = [];
  for (let limit = 25; limit <= 1600; limit *= 4) {
    near = await service.geo.nearby(pickup, radiusKm, { limit });
    if (near.length === 0) break;
    if (
      (await firstFree(service, near, { radiusKm, tried, busy, needs }, seen)) ||
      near.length < limit
    )
      break;
  }
  for (;;) {
    const candidate = await firstFree(
      service,
      near,
      { radiusKm, tried, busy, needs, preferRatedWithinKm: preferRated ? tieKm : null },
      seen,
    );
    const at = new Date();
    if (!candidate) return requeue(service, bookingId, dispatch);
    const expires_at = new Date(at.getTime() + offerTimeoutMs);
    const runner = seen.get(candidate.runnerId) ?? null;
    const claim = decideRunner(runner, {
      type: "offer",
      booking_id: bookingId,
      pickup,
      expires_at,
      ...(needs ? { needs } : {}),
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
