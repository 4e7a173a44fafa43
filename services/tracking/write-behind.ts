import { TRACKING_TUNING } from "../../config/tuning";
import { TOPICS } from "../../events/catalog";
import { collectionOf, ignoreDuplicateKey } from "../../lib/mongo";
import { runtimeOf } from "../../lib/runtime";
import type { FixWrites, TrackingThis } from "./models";
import { commandTrack } from "./trips";

/**
 * What the fix path writes, behind it: a batch's waypoints and `tracking.updated` events are
 * stored while the consumer goes on to the next batch; batches queued meanwhile go together (one
 * insertMany, one produce), and their offsets are committed only once they are stored. Now and
 * then, a checkpoint saves where each moved track stands.
 */

const { adminPushEveryMs } = TRACKING_TUNING;

/** True once `promise` resolved within `ms`; false if it rejected or took longer. */
export async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stored = await Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return stored;
}

/** The write behind the fix path: batches queued together, one insertMany and one produce. */
export async function storeFixes(this: TrackingThis, batches: FixWrites[]) {
  // The driver, not mongoose: the documents are built right here, nothing to cast.
  await Promise.all([
    collectionOf(this.models.waypoints)
      .insertMany(
        batches.flatMap((batch) => batch.waypoints),
        { ordered: false },
      )
      .catch(ignoreDuplicateKey),
    runtimeOf(this.broker).bus.publish(
      TOPICS.tracking,
      batches.flatMap((batch) => batch.updates),
    ),
  ]);
  for (const batch of batches) {
    for (const [track, stored] of batch.progress) {
      track.stored = stored;
      track.dirty = true;
    }
  }
}

/**
 * Saves the stored state of tracks that moved since the last checkpoint. Off the fix path on
 * purpose: every stored fix is in a waypoint already, and a track reloaded after a crash
 * continues from here (the distance of fixes since then is measured from the checkpoint's
 * position). Never a state ahead of the stored fixes: fixes not yet stored are read again after
 * a crash, and must not look old against it.
 */
export async function checkpoint(this: TrackingThis) {
  const now = new Date();
  for (const [runnerId, at] of this.lastAdminPush) {
    if (now.getTime() - at > 10 * adminPushEveryMs) this.lastAdminPush.delete(runnerId);
  }
  // One track at a time: the process's one connection stays free for the fix path in between.
  for (const track of this.active.values()) {
    if (!track.dirty) continue;
    track.dirty = false;
    const { state, eta } = track.stored;
    // The welfare watch's progress goes along (alerts were stored as they opened and closed).
    const watch = track.welfare?.aboard ? track.welfare : null;
    await commandTrack(this, track.id, {
      type: "checkpoint",
      state,
      eta_seconds: eta,
      ...(watch
        ? { welfare: { heard_at: watch.heard_at, still: watch.still, rev: watch.rev } }
        : {}),
      at: now,
    }).catch((error: unknown) => {
      track.dirty = true;
      this.logger.warn(`checkpoint of ${track.id} failed`, error);
    });
  }
}
