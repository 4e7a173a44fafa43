import type { WelfareAlertEntity, WelfareEntity } from "../../contracts";
import { decide, trackIdOf } from "../../domain/track";
import type { TrackPoint } from "../../domain/tracking";
import {
  welfareOnTick,
  withProgress,
  type Welfare,
  type WelfareAlert,
  type WelfareStep,
} from "../../domain/welfare";
import type { TrackDoc } from "../../models/track.model";
import type { TrackingThis } from "./models";
import { forgetTrackEverywhere } from "./track-cache";

/**
 * The welfare watch of trips with a pet aboard (domain/welfare.ts). Each fix the filter accepts
 * is judged against the watch kept in the track cache: no database write, unless an alert opens
 * or clears — then one write of the track, its event in the track's outbox. A sweep judges the
 * clock alone, for runners gone silent or standing still with no fix to tell.
 */

/**
 * Stores a step's change (its event through the track's outbox) and gives the watch as stored.
 * A change another instance made first, or an alert already over, is stored as nothing: its
 * stored watch is taken. A track that takes no change (delivered, cancelled) ends the watch here.
 */
export async function storeWelfareChange(
  service: TrackingThis,
  bookingId: string,
  step: WelfareStep,
  at: Date,
): Promise<Welfare> {
  if (!step.change) return step.welfare;
  const { heard_at, still } = step.welfare;
  const progress = { heard_at, still };
  const command = { type: "welfare", change: step.change, progress, at } as const;
  // A race lost to another move of the track is decided again on what it stored, so that a
  // refusal says the watch is over, not that someone else wrote first.
  const outcome = await service
    .aggregate(service.models.tracks, "track")
    .execute(trackIdOf(bookingId), decide, () => command, { retries: 2 });
  if (!outcome.ok || !outcome.state.welfare) return { ...step.welfare, aboard: false };
  return withProgress(outcome.state.welfare, progress);
}

/**
 * Which of two copies of a watch is current: the one with more stored moves; of equal ones the
 * first (the cache's, whose progress is newer than the last checkpoint's).
 */
export function newestWatch(first: Welfare | null, second: Welfare | null): Welfare | null {
  if (!first || !second) return first ?? second;
  return second.rev > first.rev ? second : first;
}

/**
 * Every trip with a pet aboard, judged on the clock: a silence or a stand-still past its limit
 * raises an alert. Judged on the cached watch where this instance has one, else on the stored
 * one (a checkpoint behind at most). One trip that fails does not hold up the others.
 */
export async function sweepWelfare(this: TrackingThis) {
  const now = new Date();
  const aboard = await this.models.tracks
    .find({ status: "active", "welfare.aboard": true }, { booking_id: 1, welfare: 1 })
    .lean<Pick<TrackDoc, "_id" | "booking_id" | "welfare">[]>();
  for (const doc of aboard) {
    const cached = this.active.get(doc.booking_id);
    const watch = newestWatch(cached?.welfare ?? null, doc.welfare ?? null);
    if (!watch) continue;
    const step = welfareOnTick(watch, now, this.welfarePolicy);
    if (!step.change) continue;
    try {
      const stored = await storeWelfareChange(this, doc.booking_id, step, now);
      const current = this.active.get(doc.booking_id);
      if (current) current.welfare = newestWatch(stored, current.welfare);
      // Another instance judging the runner's fixes reloads the watch with its alert.
      else forgetTrackEverywhere(this, doc.booking_id);
    } catch (error) {
      this.logger.warn(`welfare check of ${doc._id} failed`, error);
    }
  }
}

const iso = (date: Date) => date.toISOString();

/** An alert as a trip's page shows it. */
export function welfareEntity(alert: WelfareAlert): WelfareEntity {
  return {
    reason: alert.reason,
    since: iso(alert.since),
    raised_at: iso(alert.raised_at),
    position: alert.position ? { lat: alert.position.lat, lng: alert.position.lng } : null,
  };
}

/** An alert on the operations page: the trip's, with where its runner was last seen. */
export function welfareAlertEntity(
  service: TrackingThis,
  doc: TrackDoc,
  alert: WelfareAlert,
): WelfareAlertEntity {
  const last: TrackPoint | null | undefined =
    service.active.get(doc.booking_id)?.live.state.last ?? doc.state?.last;
  return {
    booking_id: doc.booking_id,
    booking_number: doc.booking_number ?? doc.booking_id,
    runner_id: doc.runner_id,
    owner_id: doc.owner_id,
    pet_name: doc.pet_name ?? null,
    ...welfareEntity(alert),
    last_position: last
      ? { lat: last.lat, lng: last.lng, recorded_at: iso(last.recorded_at) }
      : null,
  };
}
