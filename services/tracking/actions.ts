import { TRACKING_ACTIONS, type WelfareAlertsEntity } from "../../contracts";
import { mayWatchTrip } from "../../domain/access";
import { trackIdOf } from "../../domain/track";
import { actionsOf, callerOf, notFound } from "../../lib/action";
import type { TrackDoc, WaypointDoc } from "../../models/track.model";
import { round3 } from "./distance";
import type { TrackingThis } from "./models";
import { welfareAlertEntity, welfareEntity } from "./welfare";

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
    // The distance only grows: the track's checkpoint may lag its newest stored fix.
    total_distance_km: round3(Math.max(track.total_distance_km ?? 0, last?.total_distance_km ?? 0)),
    eta_seconds: track.status === "completed" ? 0 : (last?.eta_seconds ?? null),
    started_at: track.started_at?.toISOString() ?? null,
    completed_at: track.completed_at?.toISOString() ?? null,
    /** The open welfare alert, while the pet is aboard. */
    welfare: track.welfare?.alert ? welfareEntity(track.welfare.alert) : null,
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

/** Cleared alerts stay on the operations page this long. */
const RECENTLY_CLEARED_MS = 3_600_000;
/** The most trips each list of the operations page reads. */
const ALERTS_LISTED = 500;

/** For the operations page: open welfare alerts and those cleared in the last hour, newest first. */
export const welfareAlerts = action(
  TRACKING_ACTIONS.welfareAlerts,
  async function (): Promise<WelfareAlertsEntity> {
    const since = new Date(Date.now() - RECENTLY_CLEARED_MS);
    const [open, cleared] = await Promise.all([
      this.models.tracks
        .find(
          { status: "active", "welfare.aboard": true, "welfare.alert": { $ne: null } },
          { outbox: 0 },
        )
        .sort({ "welfare.alert.raised_at": -1 })
        .limit(ALERTS_LISTED)
        .lean<TrackDoc[]>(),
      this.models.tracks
        .find({ "welfare.cleared_at": { $gte: since } }, { outbox: 0 })
        .sort({ "welfare.cleared_at": -1 })
        .limit(ALERTS_LISTED)
        .lean<TrackDoc[]>(),
    ]);
    return {
      open: open
        .flatMap((doc) =>
          doc.welfare?.alert ? [welfareAlertEntity(this, doc, doc.welfare.alert)] : [],
        )
        .sort((a, b) => b.raised_at.localeCompare(a.raised_at)),
      cleared: cleared
        .flatMap((doc) =>
          (doc.welfare?.cleared ?? [])
            .filter((alert) => alert.cleared_at >= since)
            .map((alert) => ({
              ...welfareAlertEntity(this, doc, alert),
              cleared_at: alert.cleared_at.toISOString(),
              cleared_by: alert.cleared_by,
            })),
        )
        .sort((a, b) => b.cleared_at.localeCompare(a.cleared_at)),
    };
  },
);

/**
 * The track's last fix recorded at or before `at`, or null: the one the fix path judged last
 * where this instance keeps the trip (none there: the trip has had no fix). Elsewhere, the
 * track's checkpoint says whether it had any fix (read by `_id`); only then are the waypoints
 * read, which on FerretDB means reading every waypoint.
 */
export const positionAt = action(TRACKING_ACTIONS.positionAt, async function (ctx) {
  const at = new Date(ctx.params.at);
  const trackId = trackIdOf(ctx.params.booking_id);
  const trip = this.active.get(ctx.params.booking_id);
  const last = trip
    ? trip.live.state.last
    : (await this.models.tracks.findById(trackId, { state: 1 }).lean<TrackDoc>())?.state?.last;
  const fix = !last
    ? null
    : last.recorded_at <= at
      ? last
      : await this.models.waypoints
          .findOne({ track_id: trackId, recorded_at: { $lte: at } })
          .sort({ recorded_at: -1 })
          .lean<WaypointDoc>();
  if (!fix) return null;
  // The ETA as of now, for a share link's page (the latest the track has).
  const eta = this.active.get(ctx.params.booking_id)?.live.eta ?? null;
  return {
    lat: fix.lat,
    lng: fix.lng,
    recorded_at: fix.recorded_at.toISOString(),
    eta_seconds: eta,
  };
});
