import { DISPATCH_TUNING } from "../../config/tuning";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerDoc } from "../../models/runner.model";
import { goOffline } from "./availability";
import { commandDispatch, runnersOf } from "./commands";
import type { RunnerSnapshot } from "./free-runners";
import { isolated } from "./isolated";
import type { RunnerThis } from "./models";
import { requeue, tryDispatch } from "./offer-round";
import { moveOn } from "./offers";

/**
 * Periodic, on every instance (all writes are guarded): expired offers move on, searching
 * bookings get another try, runners silent past RUNNER_STALE_AFTER go offline. Each booking and
 * runner is handled on its own: one that fails is logged, counted and tried again next sweep,
 * and neither the records after it nor the later steps wait for it.
 */
export async function sweep(this: RunnerThis) {
  const now = new Date();
  await moveOnExpired(this, now);
  await startScheduled(this, now);
  await retrySearching(this, now);
  await pruneStale(this, now);
}

async function moveOnExpired(service: RunnerThis, now: Date) {
  const { searchBatch } = DISPATCH_TUNING;
  await isolated(service, "expired_offer", "the expired offers", async () => {
    const expired = await service.models.dispatches
      .find({ status: "offered", offer_expires_at: { $lte: now } }, { _id: 1, runner_id: 1 })
      .limit(searchBatch)
      .lean<Pick<DispatchDoc, "_id" | "runner_id">[]>();
    for (const { _id: bookingId, runner_id: runnerId } of expired) {
      if (!runnerId) continue;
      await isolated(service, "expired_offer", `booking ${bookingId}`, () =>
        moveOn(service, bookingId, runnerId),
      );
    }
  });
  // An offer whose dispatch record never got written (a crash in between) is let go.
  await isolated(service, "orphaned_offer", "the orphaned offers", async () => {
    const orphaned = await service.models.runners
      .find({ "offer.expires_at": { $lte: now } }, { _id: 1, offer: 1 })
      .limit(searchBatch)
      .lean<Pick<RunnerDoc, "_id" | "offer">[]>();
    for (const { _id: runnerId, offer } of orphaned) {
      if (!offer) continue;
      await isolated(service, "orphaned_offer", `runner ${runnerId}`, () =>
        moveOn(service, offer.booking_id, runnerId),
      );
    }
  });
}

/**
 * Waiting bookings get another try now and then (runners move into range); a runner coming
 * online nearby tries them at once (dispatchNear).
 */
async function retrySearching(service: RunnerThis, now: Date) {
  const { searchBatch, searchRetryMs } = DISPATCH_TUNING;
  if (now.getTime() - service.lastSearchRetry < searchRetryMs) return;
  service.lastSearchRetry = now.getTime();
  await isolated(service, "search", "the searching bookings", async () => {
    const searching = await service.models.dispatches
      .find(
        { status: "searching", updated_at: { $lte: new Date(now.getTime() - searchRetryMs) } },
        { outbox: 0 },
      )
      .sort({ updated_at: 1 })
      .limit(searchBatch)
      .lean<DispatchDoc[]>();
    const seen: RunnerSnapshot = new Map();
    for (const doc of searching) {
      const what = `booking ${doc._id}`;
      const tried = await isolated(service, "search", what, () =>
        tryDispatch(service, doc._id, doc, seen),
      );
      // Behind the others, so a booking that keeps failing cannot hold the head of the queue.
      if (!tried) await isolated(service, "search", what, () => requeue(service, doc._id, doc));
    }
  });
}

/**
 * Held scheduled bookings whose dispatch lead came (DISPATCH_LEAD_MINUTES before the pickup)
 * start searching: the wait is the dispatch's stored `starts_at`, so a restart forgets none.
 */
async function startScheduled(service: RunnerThis, now: Date) {
  await isolated(service, "scheduled", "the scheduled bookings", async () => {
    const due = await service.models.dispatches
      .find({ status: "waiting", escrow_held: true, starts_at: { $lte: now } }, { _id: 1 })
      .sort({ starts_at: 1 })
      .limit(DISPATCH_TUNING.searchBatch)
      .lean<Pick<DispatchDoc, "_id">[]>();
    for (const { _id: bookingId } of due) {
      await isolated(service, "scheduled", `booking ${bookingId}`, async () => {
        const started = await commandDispatch(service, bookingId, { type: "due" });
        if (started.ok && started.state.status === "searching") {
          await tryDispatch(service, bookingId, started.state);
        }
      });
    }
  });
}

async function pruneStale(service: RunnerThis, now: Date) {
  await isolated(service, "stale_runner", "the stale runners", async () => {
    for (const runnerId of await service.geo.pruneStale(now)) {
      await isolated(service, "stale_runner", `runner ${runnerId}`, async () => {
        const doc = await runnersOf(service).load(runnerId);
        if (doc) await goOffline(service, runnerId, "system", now, doc);
      });
    }
  });
}
