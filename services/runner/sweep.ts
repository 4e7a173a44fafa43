import { DISPATCH_TUNING } from "../../config/tuning";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerDoc } from "../../models/runner.model";
import { goOffline } from "./availability";
import { runnersOf, type RunnerThis } from "./context";
import { moveOn, tryDispatch } from "./dispatch";

/**
 * Periodic, on every instance (all writes are guarded): expired offers move on, searching
 * bookings get another try, runners silent past RUNNER_STALE_AFTER go offline.
 */
export async function sweep(this: RunnerThis) {
  const now = new Date();
  const { searchBatch, searchRetryMs } = DISPATCH_TUNING;
  const expired = await this.models.dispatches
    .find({ status: "offered", offer_expires_at: { $lte: now } }, { _id: 1, runner_id: 1 })
    .limit(searchBatch)
    .lean<Pick<DispatchDoc, "_id" | "runner_id">[]>();
  for (const doc of expired) if (doc.runner_id) await moveOn(this, doc._id, doc.runner_id);
  // An offer whose dispatch record never got written (a crash in between) is let go.
  const orphaned = await this.models.runners
    .find({ "offer.expires_at": { $lte: now } }, { _id: 1, offer: 1 })
    .limit(searchBatch)
    .lean<Pick<RunnerDoc, "_id" | "offer">[]>();
  for (const doc of orphaned) if (doc.offer) await moveOn(this, doc.offer.booking_id, doc._id);
  // Waiting bookings get another try now and then (runners move into range); a runner
  // coming online nearby tries them at once (dispatchNear).
  if (now.getTime() - this.lastSearchRetry >= searchRetryMs) {
    this.lastSearchRetry = now.getTime();
    const searching = await this.models.dispatches
      .find(
        { status: "searching", updated_at: { $lte: new Date(now.getTime() - searchRetryMs) } },
        { outbox: 0 },
      )
      .sort({ updated_at: 1 })
      .limit(searchBatch)
      .lean<DispatchDoc[]>();
    for (const doc of searching) await tryDispatch(this, doc._id, doc);
  }
  for (const runnerId of await this.geo.pruneStale(now)) {
    const doc = await runnersOf(this).load(runnerId);
    if (doc) await goOffline(this, doc, "system", now);
  }
}
