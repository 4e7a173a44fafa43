import { TRACKING_TUNING } from "../../config/tuning";
import type { LiveFix, LiveRunnerChange } from "../../contracts";
import { trackIdOf } from "../../domain/track";
import { applyFix, emptyTrack, type FixRejection } from "../../domain/tracking";
import { TOPICS } from "../../events/catalog";
import { createEvent, nameUuid, type DomainEvent } from "../../events/envelope";
import type { DeliveredEvent, WriteBehind } from "../../adapters/event-bus";
import { pushLive } from "../../lib/live";
import { ignoreDuplicateKey } from "../../lib/mongo";
import { runtimeOf } from "../../lib/runtime";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import { waypointId, type TrackDoc, type WaypointDoc } from "../../models/track.model";
import {
  commandTrack,
  round3,
  type CachedTrack,
  type FixWrites,
  type Progress,
  type TrackingThis,
} from "./context";

/**
 * The fix path takes `runner.events` a fetched batch at a time: each fix is judged by the pure
 * filter (domain/tracking.ts) against the track's last state, and accepted fixes are pushed to
 * the booking's live room at once. The batch's waypoints (each carrying the track's running
 * state) and `tracking.updated` events are then written behind: the consumer goes on to the next
 * batch while they are stored, batches queued meanwhile go together (one insertMany, one
 * produce), and the offsets are committed only once they are stored. A replayed fix is not newer
 * than the track's last one, and its waypoint id is taken, so it adds nothing.
 */

const { cacheTtlMs, maxUnstoredBatches, storeWaitMs, adminPushEveryMs } = TRACKING_TUNING;

/** True once `promise` resolved within `ms`; false if it rejected or took longer. */
async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
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

/**
 * The active track a fix belongs to: the one it names, else the runner's latest. Kept in
 * memory; past the cache's TTL its status is looked up again (by _id: cheap on any backend),
 * in case another instance closed it. A track not in memory starts from its checkpoint.
 */
async function trackOf(
  service: TrackingThis,
  runnerId: string,
  bookingId: string | undefined,
): Promise<CachedTrack | null> {
  const key = bookingId ?? service.byRunner.get(runnerId);
  const cached = key ? service.active.get(key) : undefined;
  if (cached) {
    if (Date.now() - cached.loadedAt >= cacheTtlMs) {
      cached.loadedAt = Date.now(); // one look at a time, off the fix path
      revalidate(service, cached).catch((error: unknown) =>
        service.logger.warn("revalidating a track failed", error),
      );
    }
    return cached.runnerId === runnerId ? cached : null;
  }
  const doc = bookingId
    ? await service.models.tracks.findById(trackIdOf(bookingId), { outbox: 0 }).lean<TrackDoc>()
    : await service.models.tracks
        .findOne({ runner_id: runnerId, status: "active" }, { outbox: 0 })
        .sort({ started_at: -1 })
        .lean<TrackDoc>();
  if (!doc || doc.status !== "active" || doc.runner_id !== runnerId) {
    if (key) forget(service, key);
    return null;
  }
  // Found by its runner (a fix naming no booking) while the booking's fixes already keep it
  // live here: that one, not the older checkpoint, judges the fix.
  const live = service.active.get(doc.booking_id);
  if (live) {
    service.byRunner.set(runnerId, doc.booking_id);
    return live.runnerId === runnerId ? live : null;
  }
  const progress = { state: doc.state ?? emptyTrack(), eta: doc.eta_seconds };
  const track: CachedTrack = {
    id: doc._id,
    bookingId: doc.booking_id,
    runnerId,
    dropoff: doc.dropoff,
    live: progress,
    stored: progress,
    loadedAt: Date.now(),
    dirty: false,
  };
  service.active.set(doc.booking_id, track);
  if (!bookingId) service.byRunner.set(runnerId, doc.booking_id);
  return track;
}

/** Drops a cached track that is no longer active for its runner (another instance moved it). */
async function revalidate(service: TrackingThis, track: CachedTrack) {
  const doc = await service.models.tracks
    .findById(track.id, { status: 1, runner_id: 1 })
    .lean<Pick<TrackDoc, "status" | "runner_id">>();
  if (doc?.status !== "active" || doc.runner_id !== track.runnerId) {
    forget(service, track.bookingId, track.runnerId);
  }
}

export function forget(service: TrackingThis, bookingId: string, runnerId?: string | null) {
  const cached = service.active.get(bookingId);
  service.active.delete(bookingId);
  const runner = runnerId ?? cached?.runnerId;
  if (runner && service.byRunner.get(runner) === bookingId) service.byRunner.delete(runner);
}

/** Every instance drops the booking's cached track (the trip's state changed). */
export function forgetEverywhere(service: TrackingThis, bookingId: string, runnerId?: string) {
  service.broker
    .broadcast("tracking.forget", {
      booking_id: bookingId,
      ...(runnerId ? { runner_id: runnerId } : {}),
    })
    .catch((error: unknown) => service.logger.warn("cache hint failed", error));
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
    await commandTrack(this, track.id, {
      type: "checkpoint",
      state,
      eta_seconds: eta,
      at: now,
    }).catch((error: unknown) => {
      track.dirty = true;
      this.logger.warn(`checkpoint of ${track.id} failed`, error);
    });
  }
}

/** A batch of runner events: fixes judged and pushed live, their writes queued behind. */
export async function onRunnerBatch(
  this: TrackingThis,
  batch: DeliveredEvent[],
): Promise<WriteBehind | undefined> {
  const now = new Date();
  const waypoints: WaypointDoc[] = [];
  const updates: DomainEvent[] = [];
  const live: LiveFix[] = [];
  const runners: LiveRunnerChange[] = [];
  /** New progress per track, applied to the cache once every fix is judged. */
  const pending = new Map<CachedTrack, Progress>();
  const counts = new Map<"accepted" | "no_track" | FixRejection, number>();
  const count = (result: "accepted" | "no_track" | FixRejection) =>
    counts.set(result, (counts.get(result) ?? 0) + 1);

  for (const { event } of batch) {
    if (event.type === "runner.online" || event.type === "runner.offline") {
      const data = event.data as DomainEvent<"runner.online">["data"];
      runners.push({
        kind: event.type === "runner.online" ? "online" : "offline",
        runner_id: data.runner_id,
        ...(event.type === "runner.online" ? { lat: data.latitude, lng: data.longitude } : {}),
        at: data.occurred_at,
      });
      continue;
    }
    if (event.type !== "runner.location_update") continue;
    const data = event.data as DomainEvent<"runner.location_update">["data"];
    const track = await trackOf(this, data.runner_id, data.booking_id);
    if (!track) {
      count("no_track");
      continue;
    }
    const fix = {
      lat: data.latitude,
      lng: data.longitude,
      speed_kmh: data.speed_kmh,
      heading_degrees: data.heading_degrees,
      recorded_at: new Date(data.timestamp),
    };
    const before = pending.get(track)?.state ?? track.live.state;
    const verdict = applyFix(before, fix, track.dropoff ?? fix, now, this.policy);
    if (!verdict.ok) {
      count(verdict.reason);
      continue;
    }
    count("accepted");
    const eta = track.dropoff ? verdict.eta_seconds : null;
    pending.set(track, { state: verdict.state, eta });
    waypoints.push({
      _id: waypointId(track.id, fix.recorded_at),
      track_id: track.id,
      lat: fix.lat,
      lng: fix.lng,
      speed_kmh: data.speed_kmh ?? null,
      heading_degrees: data.heading_degrees ?? null,
      recorded_at: fix.recorded_at,
      total_distance_km: verdict.state.total_distance_km,
      eta_seconds: eta,
    });
    const at = fix.recorded_at.toISOString();
    live.push({
      booking_id: track.bookingId,
      lat: fix.lat,
      lng: fix.lng,
      speed_kmh: verdict.speed_kmh,
      heading_degrees: data.heading_degrees ?? null,
      recorded_at: at,
      total_distance_km: round3(verdict.state.total_distance_km),
      eta_seconds: eta,
    });
    updates.push(
      // The id follows from the fix, so a fix judged twice publishes the same event.
      createEvent(
        "tracking.updated",
        {
          track_id: track.id,
          booking_id: track.bookingId,
          runner_id: data.runner_id,
          latitude: fix.lat,
          longitude: fix.lng,
          speed_kmh: Math.min(1000, verdict.speed_kmh),
          occurred_at: now.toISOString(),
        },
        { service: "tracking", id: nameUuid(`${track.id}:${fix.recorded_at.getTime()}`) },
      ),
    );
    const pushed = this.lastAdminPush.get(data.runner_id) ?? 0;
    if (now.getTime() - pushed >= adminPushEveryMs) {
      this.lastAdminPush.set(data.runner_id, now.getTime());
      runners.push({ kind: "location", runner_id: data.runner_id, lat: fix.lat, lng: fix.lng, at });
    }
  }

  // Watchers first: the live channel does not wait for the database. Broadcast: every gateway
  // pushes to its own sockets, with no second trip through the socket.io adapter.
  if (live.length > 0) pushLive(this.broker, this.logger, "live.tracks", { fixes: live });
  if (runners.length > 0) {
    pushLive(this.broker, this.logger, "live.runners", { changes: runners });
  }
  for (const [result, n] of counts) {
    this.broker.metrics.increment("kilat.tracking.fixes.total", { result }, n);
  }
  if (pending.size === 0) return undefined;

  // Nothing above changed the cache, so a throw there lets the batch be judged again (one by
  // one) against the same states. From here on nothing throws: the next batch is judged
  // against this one while it is being stored.
  for (const [track, next] of pending) track.live = next;
  const durable = this.fixWriter.add([{ waypoints, updates, progress: pending }]);
  // Backpressure, bounded: the consumer heartbeats between batches.
  if (this.fixWriter.backlog > maxUnstoredBatches) await settledWithin(durable, storeWaitMs);
  return { durable };
}

/** The write behind the fix path: batches queued together, one insertMany and one produce. */
export async function storeFixes(this: TrackingThis, batches: FixWrites[]) {
  await Promise.all([
    // The driver, not mongoose: the documents are built right here, nothing to cast.
    this.models.waypoints.collection
      .insertMany(
        batches.flatMap((batch) => batch.waypoints) as unknown as Record<string, unknown>[],
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

/** One event (a batch that failed goes this way): handled when its fix is stored. */
async function onRunnerEvent(this: TrackingThis, event: DomainEvent) {
  const behind = await onRunnerBatch.call(this, [
    { event, meta: { topic: TOPICS.runner, partition: -1, offset: "-1", groupId: "", attempt: 1 } },
  ]);
  // Bounded, so a database that stays away ends in the usual retries and dead letter
  // (the queued write still lands if it comes back: it is keyed by the fix).
  if (behind && !(await settledWithin(behind.durable, storeWaitMs))) {
    throw new Error(`fix ${event.id} not stored within ${storeWaitMs} ms`);
  }
}

/** The runner service's events (group service-tracking-runners), one by one. */
export const runnerEvents: EventHandlers<TrackingThis> = {
  "runner.location_update": onRunnerEvent,
  "runner.online": onRunnerEvent,
  "runner.offline": onRunnerEvent,
};
