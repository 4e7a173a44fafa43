import { TRACKING } from "../config/defaults";
import { FIX_FILTER } from "../config/tuning";
import { distanceKm, type LatLng } from "./geo";

/**
 * Live tracking of a runner, decide-style like the booking state machine: `applyFix` says whether
 * a GPS fix extends the track and what the track becomes; it has no side effects and takes the
 * time as an argument, so the tracking service owns the clock and the persistence.
 */

/** One GPS reading from the runner's phone. */
export interface Fix {
  lat: number;
  lng: number;
  speed_kmh?: number;
  heading_degrees?: number;
  recorded_at: Date;
}

export interface TrackPoint {
  lat: number;
  lng: number;
  recorded_at: Date;
}

export interface TrackState {
  /** The last accepted fix: fixes are ordered against it, and it is where the runner is now. */
  last: TrackPoint | null;
  /**
   * Where the counted distance was last measured from. It stays put while the runner only
   * jitters, so a slow walker whose every step is below `jitterKm` still adds up. Absent (a state
   * stored without it) means `last`.
   */
  anchor?: TrackPoint | null;
  total_distance_km: number;
  /** exponentially smoothed speed, km/h; null before the first measured speed */
  smoothed_speed_kmh: number | null;
}

export interface TrackingPolicy {
  maxSpeedKmh: number;
  /** fixes further in the future than this are invalid */
  maxClockSkewMs: number;
  /** EMA weight of the newest speed sample, 0..1 */
  smoothing: number;
  /** assumed speed for the ETA while none is measured or the runner stands still */
  fallbackSpeedKmh: number;
  /** movements below this are GPS jitter: not added to the distance and not speed-checked */
  jitterKm: number;
}

/** The values of config/, where their reasons are; MAX_SPEED_KMH overrides the speed limit. */
export const DEFAULT_TRACKING_POLICY: TrackingPolicy = {
  maxSpeedKmh: TRACKING.maxSpeedKmh,
  ...FIX_FILTER,
};

/** Below this the runner is standing still, and the ETA would run to days. */
const MIN_MOVING_KMH = 1;
const MS_PER_HOUR = 3_600_000;

export const emptyTrack = (): TrackState => ({
  last: null,
  anchor: null,
  total_distance_km: 0,
  smoothed_speed_kmh: null,
});

export type FixRejection = "invalid" | "duplicate" | "out_of_order" | "impossible_speed";

export type FixVerdict =
  | { ok: true; state: TrackState; segment_km: number; speed_kmh: number; eta_seconds: number }
  | { ok: false; reason: FixRejection };

const inRange = (value: number, min: number, max: number) =>
  Number.isFinite(value) && value >= min && value <= max;

/**
 * A fix recorded further ahead of our clock than phones drift: refused, whatever else it says.
 * Written so that an invalid time (NaN) counts as ahead: it fails closed.
 */
export function aheadOfClock(
  recordedAtMs: number,
  nowMs: number,
  policy: TrackingPolicy = DEFAULT_TRACKING_POLICY,
) {
  return !(recordedAtMs <= nowMs + policy.maxClockSkewMs);
}

/** Why a fix is too old to take; see `staleFix`. */
export type StaleFix = "before_acceptance" | "too_old";

/**
 * A fix too old to take, or null. Naming the runner's active booking (`acceptedAtMs` known), it
 * must be recorded after that booking was accepted (less the clock skew phones have): a trip is
 * measured from its start, however long a phone kept its fixes. Otherwise it may be at most
 * `maxAgeMs` old. Counting by recorded time (the rate limit) is right for buffered fixes; this
 * keeps a client from inventing years of them. Written so an invalid time (NaN) is stale.
 */
export function staleFix(
  recordedAtMs: number,
  nowMs: number,
  acceptedAtMs: number | null,
  maxAgeMs: number,
  policy: TrackingPolicy = DEFAULT_TRACKING_POLICY,
): StaleFix | null {
  if (acceptedAtMs !== null) {
    return recordedAtMs >= acceptedAtMs - policy.maxClockSkewMs ? null : "before_acceptance";
  }
  return recordedAtMs >= nowMs - maxAgeMs ? null : "too_old";
}

/** Fixes come off the wire: every field is checked, not trusted to match its type. */
function isValid(fix: Fix, now: Date, policy: TrackingPolicy): boolean {
  if (!inRange(fix.lat, -90, 90) || !inRange(fix.lng, -180, 180)) return false;
  if (fix.speed_kmh !== undefined && !inRange(fix.speed_kmh, 0, Infinity)) return false;
  const heading = fix.heading_degrees;
  if (heading !== undefined && !(Number.isFinite(heading) && heading >= 0 && heading < 360)) {
    return false;
  }
  if (!(fix.recorded_at instanceof Date)) return false;
  const at = fix.recorded_at.getTime();
  return Number.isFinite(at) && !aheadOfClock(at, now.getTime(), policy);
}

const point = (fix: Fix): TrackPoint => ({
  lat: fix.lat,
  lng: fix.lng,
  // A copy: the caller's Date is mutable, and the state must not change behind our back.
  recorded_at: new Date(fix.recorded_at.getTime()),
});

const hoursBetween = (from: TrackPoint, to: Fix) =>
  (to.recorded_at.getTime() - from.recorded_at.getTime()) / MS_PER_HOUR;

/**
 * The km/h needed to get from `from` to the fix, or null when the move is within GPS jitter and
 * says nothing about speed.
 */
function impliedSpeed(from: TrackPoint, fix: Fix, policy: TrackingPolicy): number | null {
  const km = distanceKm(from, fix);
  return km > policy.jitterKm ? km / hoursBetween(from, fix) : null;
}

/**
 * Decides whether a fix extends the track; never mutates `state`. Checks run cheapest first:
 * invalid, then duplicate / out_of_order against the last accepted fix, then impossible_speed.
 * Throws a RangeError when `dropoff` is not a point (a data error, not a bad fix).
 */
export function applyFix(
  state: TrackState,
  fix: Fix,
  dropoff: LatLng,
  now: Date,
  policy: TrackingPolicy = DEFAULT_TRACKING_POLICY,
): FixVerdict {
  if (!isValid(fix, now, policy)) return { ok: false, reason: "invalid" };
  const { last } = state;
  if (last) {
    const at = fix.recorded_at.getTime();
    const lastAt = last.recorded_at.getTime();
    if (at === lastAt) return { ok: false, reason: "duplicate" };
    if (at < lastAt) return { ok: false, reason: "out_of_order" };
  }
  if (fix.speed_kmh !== undefined && fix.speed_kmh > policy.maxSpeedKmh) {
    return { ok: false, reason: "impossible_speed" };
  }

  const anchor = state.anchor ?? last;
  let segmentKm = 0;
  let implied: number | null = null;
  if (last && anchor) {
    // The hop from the last fix is the tightest bound after a long stand-still (the anchor is old
    // then); the move from the anchor catches jitter creeping up over sub-second fixes.
    const sinceLast = impliedSpeed(last, fix, policy);
    const sinceAnchor = impliedSpeed(anchor, fix, policy);
    if ((sinceLast ?? 0) > policy.maxSpeedKmh || (sinceAnchor ?? 0) > policy.maxSpeedKmh) {
      return { ok: false, reason: "impossible_speed" };
    }
    if (sinceAnchor !== null) segmentKm = distanceKm(anchor, fix);
    // Within jitter the runner is standing still as far as we can tell.
    implied = sinceAnchor ?? 0;
  }

  const sample = fix.speed_kmh ?? implied;
  const previous = state.smoothed_speed_kmh;
  const smoothed =
    sample === null
      ? previous
      : previous === null
        ? sample
        : policy.smoothing * sample + (1 - policy.smoothing) * previous;

  const here = point(fix);
  return {
    ok: true,
    state: {
      last: here,
      anchor: segmentKm > 0 || !anchor ? here : anchor,
      total_distance_km: state.total_distance_km + segmentKm,
      smoothed_speed_kmh: smoothed,
    },
    segment_km: segmentKm,
    speed_kmh: sample ?? 0,
    eta_seconds: etaSeconds(fix, dropoff, smoothed, policy),
  };
}

/**
 * Integer seconds to cover the remaining great-circle distance at `speedKmh` (the fallback while
 * none is measured or the runner stands still). Rounded up, so 0 means arrived: within GPS jitter
 * of the drop-off.
 */
export function etaSeconds(
  position: LatLng,
  dropoff: LatLng,
  speedKmh: number | null,
  policy: TrackingPolicy = DEFAULT_TRACKING_POLICY,
): number {
  const km = distanceKm(position, dropoff);
  // A bad drop-off is a data error upstream; NaN must not reach the tracking events.
  if (!Number.isFinite(km)) throw new RangeError("etaSeconds: position or drop-off is not a point");
  if (km <= policy.jitterKm) return 0;
  const speed =
    speedKmh !== null && Number.isFinite(speedKmh) && speedKmh >= MIN_MOVING_KMH
      ? speedKmh
      : policy.fallbackSpeedKmh;
  return Math.ceil((km / speed) * 3600);
}
