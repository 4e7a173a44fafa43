import { DISPATCH_TUNING } from "../../config/tuning";
import { RUNNER_ACTIONS } from "../../contracts";
import {
  decide,
  nextCandidate,
  type DispatchCommand,
  type DispatchStep,
} from "../../domain/dispatch";
import { distanceKm, type LatLng } from "../../domain/geo";
import { decide as decideRunner } from "../../domain/runner";
import { actionsOf, callerOf, orThrow } from "../../lib/action";
import type { GeoIndex } from "../../lib/geo-index";
import { runtimeOf } from "../../lib/runtime";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerDoc } from "../../models/runner.model";
import { RETRIES, commandRunner, dispatchesOf, runnersOf, type RunnerThis } from "./context";

/**
 * Dispatch (`runner.assigned`): once a booking's escrow is held and its pickup known, it is
 * offered to the nearest free runner in range who has not had it (domain/dispatch.ts). One
 * guarded write claims the runner, one records the offer with its event. Not accepted in time,
 * or declined: the next nearest. No one in range: the booking waits for a runner coming online
 * nearby, and for the periodic sweep.
 */

const action = actionsOf<RunnerThis>();

/** One command to a booking's dispatch, decided on what is stored (again on a lost race). */
function commandDispatch(
  service: RunnerThis,
  bookingId: string,
  step: DispatchStep,
  known?: DispatchDoc,
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
 * Offers a searching booking to the nearest free runner in range that has not had it yet.
 * Returns the runner offered, or null (the booking stays searching, at the back of the queue).
 */
export async function tryDispatch(
  service: RunnerThis,
  bookingId: string,
  known?: DispatchDoc,
): Promise<string | null> {
  const { radiusKm, offerTimeoutMs } = runtimeOf(service.broker).config.dispatch;
  const dispatch = known ?? (await dispatchesOf(service).load(bookingId));
  if (!dispatch || dispatch.status !== "searching" || !dispatch.pickup) return null;
  const pickup = { lat: dispatch.pickup.lat, lng: dispatch.pickup.lng };
  const tried = new Set(dispatch.tried);
  const busy = new Set<string>();
  const free = new Map<string, RunnerDoc>();
  // The index holds busy runners too: when the nearest page is all busy or tried, look
  // further (a bigger page) before concluding that no one in range is free.
  let near: Awaited<ReturnType<GeoIndex["nearby"]>> = [];
  for (let limit = 25; limit <= 1600; limit *= 4) {
    near = await service.geo.nearby(pickup, radiusKm, { limit });
    if (near.length === 0) break;
    const docs = await service.models.runners
      .find(
        {
          _id: { $in: near.map((runner) => runner.runnerId) },
          availability: "online",
          offer: null,
          active_booking_id: null,
        },
        { outbox: 0 },
      )
      .lean<RunnerDoc[]>();
    for (const doc of docs) free.set(doc._id, doc);
    for (const runner of near) if (!free.has(runner.runnerId)) busy.add(runner.runnerId);
    if (nextCandidate(near, { radiusKm, tried, busy }) || near.length < limit) break;
  }
  for (;;) {
    const candidate = nextCandidate(near, { radiusKm, tried, busy });
    const at = new Date();
    if (!candidate) {
      await commandDispatch(service, bookingId, { type: "requeue" }, dispatch);
      return null;
    }
    const expires_at = new Date(at.getTime() + offerTimeoutMs);
    const runner = free.get(candidate.runnerId) ?? null;
    const claim = decideRunner(runner, {
      type: "offer",
      booking_id: bookingId,
      pickup,
      expires_at,
      at,
    });
    const claimed =
      claim.ok && (await runnersOf(service).save(candidate.runnerId, runner, claim)).ok;
    if (!claimed) {
      busy.add(candidate.runnerId); // taken meanwhile
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
      return null;
    }
    return candidate.runnerId;
  }
}

/** The offer to `runnerId` is over (declined, expired, runner gone): the next one, please. */
export async function moveOn(
  service: RunnerThis,
  bookingId: string,
  runnerId: string,
  type: "move_on" | "decline" = "move_on",
) {
  const reopened = await commandDispatch(service, bookingId, { type, runner_id: runnerId });
  await releaseOffer(service, runnerId, bookingId);
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
  for (const doc of inReach) await tryDispatch(service, doc._id, doc);
}

/** The runner turns the offer down; it moves to the next nearest runner. */
export const decline = action(RUNNER_ACTIONS.decline, async function (ctx) {
  orThrow(await moveOn(this, ctx.params.id, callerOf(ctx).sub, "decline"));
  return { declined: true, booking_id: ctx.params.id };
});

/** Dispatch starts once both halves are known, whichever event came first. */
async function noteReady(service: RunnerThis, bookingId: string, step: DispatchStep) {
  const noted = await commandDispatch(service, bookingId, step);
  if (noted.ok && noted.state.status === "searching")
    await tryDispatch(service, bookingId, noted.state);
}

/** The booking and payment services' events (groups service-runner-bookings, -payments). */
export const bookingEvents: EventHandlers<RunnerThis> = {
  async "booking.requested"(event) {
    const { booking_id, pickup_lat, pickup_lng } = event.data;
    await noteReady(this, booking_id, {
      type: "pickup_known",
      pickup: { lat: pickup_lat, lng: pickup_lng },
    });
  },

  /** The booking is taken (by the offered runner or another): dispatch ends, runner is busy. */
  async "booking.accepted"(event) {
    const { booking_id, runner_id } = event.data;
    const accepted = await commandDispatch(this, booking_id, { type: "accepted", runner_id });
    const offeredTo =
      accepted.ok && accepted.before?.status === "offered" ? accepted.before.runner_id : null;
    if (offeredTo && offeredTo !== runner_id) await releaseOffer(this, offeredTo, booking_id);
    const taken = await commandRunner(this, runner_id, {
      type: "take_booking",
      booking_id,
      at: new Date(),
    });
    // It held an offer for another booking: that one moves on now, not at its timeout.
    const other = taken.ok ? taken.before?.offer?.booking_id : undefined;
    if (other && other !== booking_id) await moveOn(this, other, runner_id);
  },

  /** The pet is handed over: the runner is free for the next job. */
  async "booking.delivered"(event) {
    const { booking_id, runner_id } = event.data;
    await commandDispatch(this, booking_id, { type: "closed" });
    await commandRunner(this, runner_id, { type: "free", booking_id, at: new Date() });
  },

  async "booking.cancelled"(event) {
    const { booking_id } = event.data;
    const cancelled = await commandDispatch(this, booking_id, { type: "cancelled" });
    const runnerId = cancelled.ok ? cancelled.before?.runner_id : null;
    if (!runnerId) return;
    await releaseOffer(this, runnerId, booking_id);
    await commandRunner(this, runnerId, { type: "free", booking_id, at: new Date() });
  },
};

export const paymentEvents: EventHandlers<RunnerThis> = {
  async "payment.escrow_held"(event) {
    await noteReady(this, event.data.booking_id, { type: "escrow_held" });
  },
};
