import { TRACKING_TUNING } from "../../config/tuning";
import { broadcast } from "../../lib/broadcast";
import { trackIdOf } from "../../domain/track";
import { emptyTrack } from "../../domain/tracking";
import type { Welfare } from "../../domain/welfare";
import type { TrackDoc } from "../../models/track.model";
import type { CachedTrack, TrackingThis } from "./models";

/**
 * The active tracks the fix path judges against, kept in memory per booking (and the latest per
 * runner, for fixes naming no booking). A trip's move on any instance drops them everywhere.
 */

const { cacheTtlMs } = TRACKING_TUNING;

/**
 * The active track a fix belongs to: the one it names, else the runner's latest. Kept in
 * memory; past the cache's TTL its status is looked up again (by _id: cheap on any backend),
 * in case another instance closed it. A track not in memory starts from its checkpoint.
 */
export async function trackOf(
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
    if (key) forgetTrack(service, key);
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
    welfare: doc.welfare ?? null,
    loadedAt: Date.now(),
    dirty: false,
  };
  service.active.set(doc.booking_id, track);
  if (!bookingId) service.byRunner.set(runnerId, doc.booking_id);
  return track;
}

/**
 * Drops a cached track that is no longer active for its runner, or whose welfare watch moved
 * without it (another instance moved them).
 */
async function revalidate(service: TrackingThis, track: CachedTrack) {
  const doc = await service.models.tracks
    .findById(track.id, { status: 1, runner_id: 1, "welfare.rev": 1 })
    .lean<Pick<TrackDoc, "status" | "runner_id"> & { welfare?: Pick<Welfare, "rev"> }>();
  if (
    doc?.status !== "active" ||
    doc.runner_id !== track.runnerId ||
    (doc.welfare?.rev ?? 0) > (track.welfare?.rev ?? 0)
  ) {
    forgetTrack(service, track.bookingId, track.runnerId);
  }
}

/** Drops the booking's cached track here (and its runner's pointer to it). */
export function forgetTrack(service: TrackingThis, bookingId: string, runnerId?: string | null) {
  const cached = service.active.get(bookingId);
  service.active.delete(bookingId);
  const runner = runnerId ?? cached?.runnerId;
  if (runner && service.byRunner.get(runner) === bookingId) service.byRunner.delete(runner);
}

/** Every instance drops the booking's cached track (the trip's state changed). */
export function forgetTrackEverywhere(service: TrackingThis, bookingId: string, runnerId?: string) {
  broadcast(service.broker, service.logger, "tracking.forget", {
    booking_id: bookingId,
    ...(runnerId ? { runner_id: runnerId } : {}),
  });
}
