import { TRACKING_ACTIONS } from "../../contracts";
import { mayWatchTrip } from "../../domain/access";
import { trackIdOf } from "../../domain/track";
import { actionsOf, callerOf, notFound } from "../../lib/action";
import type { TrackDoc, WaypointDoc } from "../../models/track.model";
import { round3 } from "./distance";
import type { TrackingThis } from "./models";

const action = actionsOf<TrackingThis>();

/** The booking's track, if there is one and the user may watch the trip. */
async function watchable(
  service: TrackingThis,
  bookingId: string,
  user: Parameters<typeof mayWatchTrip>[0],
) {
  const track = await service.models.tracks
    .findById(trackIdOf(bookingId), { outbox: 0 })
    .lean<TrackDoc>();
  return track && mayWatchTrip(user, track) ? track : null;
}

/** A booking's trip for its owner, its runner or an admin: totals, ETA, latest waypoints. */
export const get = action(TRACKING_ACTIONS.get, async function (ctx) {
  const track = await watchable(this, ctx.params.id, callerOf(ctx));
  if (!track) throw notFound("Track");
  const [latest, count] = await Promise.all([
    this.models.waypoints
      .find({ track_id: track._id })
      .sort({ recorded_at: -1 })
      .limit(ctx.params.limit)
      .lean<WaypointDoc[]>(),
    this.models.waypoints.countDocuments({ track_id: track._id }),
  ]);
  // A fix stored under both waypoint id forms (`<track>:<time>`, `<time>:<track>`) is listed once.
  const points = latest.filter(
    (point, i) => i === 0 || point.recorded_at.getTime() !== latest[i - 1].recorded_at.getTime(),
  );
  const last = points[0];
  return {
    track_id: track._id,
    booking_id: track.booking_id,
    status: track.status,
    total_distance_km: round3(track.total_distance_km ?? last?.total_distance_km ?? 0),
    eta_seconds: track.status === "completed" ? 0 : (last?.eta_seconds ?? null),
    started_at: track.started_at?.toISOString() ?? null,
    completed_at: track.completed_at?.toISOString() ?? null,
    waypoint_count: count,
    waypoints: points.reverse().map((point) => ({
      lat: point.lat,
      lng: point.lng,
      speed_kmh: point.speed_kmh,
      heading_degrees: point.heading_degrees,
      recorded_at: point.recorded_at.toISOString(),
    })),
  };
});

/** For the gateway: who may join a booking's live room (its owner, its runner, an admin). */
export const mayWatch = action(TRACKING_ACTIONS.mayWatch, async function (ctx) {
  const { booking_id, user_id, role } = ctx.params;
  return { ok: (await watchable(this, booking_id, { sub: user_id, role })) !== null };
});
