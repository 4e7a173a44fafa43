import { TRACKING_TUNING } from "../../config/tuning";
import type { LiveFix, LiveRunnerChange } from "../../contracts";
import { applyFix, type FixRejection } from "../../domain/tracking";
import { welfareOnFix, type Welfare } from "../../domain/welfare";
import { TOPICS } from "../../events/catalog";
import { createEvent, nameUuid, type DomainEvent } from "../../events/envelope";
import type { DeliveredEvent, WriteBehind } from "../../adapters/event-bus";
import { broadcast } from "../../lib/broadcast";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import { waypointId, type WaypointDoc } from "../../models/track.model";
import { round3 } from "./distance";
import type { CachedTrack, Progress, TrackingThis } from "./models";
import { trackOf } from "./track-cache";
import { newestWatch, storeWelfareChange } from "./welfare";
import { settledWithin } from "./write-behind";

/**
 * The fix path takes `runner.events` a fetched batch at a time: each fix is judged by the pure
 * filter (domain/tracking.ts) against the track's last state (track-cache.ts), and accepted fixes
 * are pushed to the booking's live room at once. The batch's waypoints (each carrying the track's
 * running state) and `tracking.updated` events are then written behind (write-behind.ts). A
 * replayed fix is not newer than the track's last one, and its waypoint id is taken, so it adds
 * nothing.
 */

const { maxUnstoredBatches, storeWaitMs, adminPushEveryMs } = TRACKING_TUNING;

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
  /** The welfare watch of aboard trips, after the batch's fixes: applied with `pending`. */
  const watches = new Map<CachedTrack, Welfare>();
  const counts = new Map<"accepted" | "no_track" | FixRejection, number>();
  const count = (result: "accepted" | "no_track" | FixRejection) =>
    counts.set(result, (counts.get(result) ?? 0) + 1);

  for (const { event } of batch) {
    if (event.type === "runner.online") {
      const { runner_id, latitude, longitude, occurred_at } = event.data;
      runners.push({ kind: "online", runner_id, lat: latitude, lng: longitude, at: occurred_at });
      continue;
    }
    if (event.type === "runner.offline") {
      runners.push({
        kind: "offline",
        runner_id: event.data.runner_id,
        at: event.data.occurred_at,
      });
      continue;
    }
    if (event.type !== "runner.location_update") continue;
    const { data } = event;
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
    const watch = watches.get(track) ?? track.welfare;
    if (watch?.aboard) {
      // O(1) on the cached watch; a database write only when an alert opens or clears.
      const step = welfareOnFix(watch, fix, now, this.welfarePolicy);
      watches.set(
        track,
        step.change ? await storeWelfareChange(this, track.bookingId, step, now) : step.welfare,
      );
    }
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
  if (live.length > 0) broadcast(this.broker, this.logger, "live.tracks", { fixes: live });
  if (runners.length > 0) {
    broadcast(this.broker, this.logger, "live.runners", { changes: runners });
  }
  for (const [result, n] of counts) {
    this.broker.metrics.increment("kilat.tracking.fixes.total", { result }, n);
  }
  if (pending.size === 0) return undefined;

  // Nothing above changed the cache, so a throw there lets the batch be judged again (one by
  // one) against the same states. From here on nothing throws: the next batch is judged
  // against this one while it is being stored.
  for (const [track, next] of pending) track.live = next;
  // A sweep may have stored an alert on the watch meanwhile: the copy with more moves stands.
  for (const [track, watch] of watches) track.welfare = newestWatch(watch, track.welfare);
  const durable = this.fixWriter.add([{ waypoints, updates, progress: pending }]);
  // Backpressure, bounded: the consumer heartbeats between batches.
  if (this.fixWriter.backlog > maxUnstoredBatches) await settledWithin(durable, storeWaitMs);
  return { durable };
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
