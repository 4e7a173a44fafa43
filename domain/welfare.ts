import { distanceKm, type LatLng } from "./geo";

/**
 * The welfare watch of a trip, decide-style like the fix filter (domain/tracking.ts): while a pet
 * is aboard (picked up, not yet delivered), a runner who stays within `stopRadiusM` for more than
 * `stopMs`, or whose fixes stop for more than `silentMs`, raises an alert; it clears when the
 * runner moves on (stationary), is heard from again (silent), or the watch ends. Each function
 * takes the time as an argument and returns the new state with at most one change; the tracking
 * service owns the clock, the track cache and the write that publishes the change.
 *
 * Two clocks meet here: a fix's `recorded_at` is the phone's, `now` the server's. The time spent
 * standing still is measured between fixes on the phone's clock and, since the last fix, on the
 * server's, so a phone whose clock is off by minutes neither raises nor hides an alert.
 */

export const WELFARE_REASONS = ["stationary", "silent"] as const;
export type WelfareReason = (typeof WELFARE_REASONS)[number];

/** config.welfare: the limits, from WELFARE_STOP_MINUTES, WELFARE_STOP_RADIUS_M, WELFARE_SILENT_MINUTES. */
export interface WelfarePolicy {
  stopMs: number;
  stopRadiusM: number;
  silentMs: number;
}

/** Where the runner has stayed: the first fix there, and the first and latest times it was there. */
export interface StillPoint extends LatLng {
  since: Date;
  until: Date;
}

export interface WelfareAlert {
  reason: WelfareReason;
  /** stationary: when the runner stopped there; silent: when it was last heard from. */
  since: Date;
  raised_at: Date;
  /** Where the runner stopped, or was last seen still; null when no fix came since the pickup. */
  position: LatLng | null;
}

/** What ended an alert: the runner moved on, was heard from again, or the watch ended. */
export type ClearedBy = "moved" | "heard" | "delivered" | "cancelled";

export interface ClearedAlert extends WelfareAlert {
  cleared_at: Date;
  cleared_by: ClearedBy;
}

/** How many of a trip's cleared alerts it keeps (the operations page shows the recent ones). */
export const CLEARED_ALERTS_KEPT = 10;

export interface Welfare {
  /** From the pickup until delivery or cancellation. */
  aboard: boolean;
  aboard_since: Date;
  /** The server's time of the last fix taken while aboard (the pickup's, before the first). */
  heard_at: Date;
  /** Null until the first fix after the pickup. */
  still: StillPoint | null;
  /** At most one alert at a time. */
  alert: WelfareAlert | null;
  /** The trip's alerts that are over, latest last, at most CLEARED_ALERTS_KEPT. */
  cleared: ClearedAlert[];
  /** When the latest of them cleared. */
  cleared_at: Date | null;
  /**
   * Counts the stored moves of the watch (pickup, each alert, the end): a write of the watch is
   * guarded on it, so a copy that missed one (another instance's alert) cannot overwrite it.
   * Only the track's decider (domain/track.ts) changes it.
   */
  rev: number;
}

/** What moves between stored moves of the watch: kept in memory, saved with each checkpoint. */
export type WelfareProgress = Pick<Welfare, "heard_at" | "still">;

export type WelfareChange =
  | { type: "tracking.stopped"; alert: WelfareAlert }
  | { type: "tracking.resumed"; alert: ClearedAlert };

/** The watch after a fix, a tick or its end, and the change to publish (at most one). */
export interface WelfareStep {
  welfare: Welfare;
  change: WelfareChange | null;
}

const later = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);
const unchanged = (welfare: Welfare): WelfareStep => ({ welfare, change: null });

/** The watch after a fix heard at `now` that leaves the runner at `still` (once per fix: no spread). */
const heard = (welfare: Welfare, now: Date, still: StillPoint): Welfare => ({
  aboard: welfare.aboard,
  aboard_since: welfare.aboard_since,
  heard_at: later(welfare.heard_at, now),
  still,
  alert: welfare.alert,
  cleared: welfare.cleared,
  cleared_at: welfare.cleared_at,
  rev: welfare.rev,
});

/** The watch from a pickup at `at`: nothing heard yet, so the silence counts from there. */
export function boardWelfare(at: Date, previous: Welfare | null = null): Welfare {
  return {
    aboard: true,
    aboard_since: at,
    heard_at: at,
    still: null,
    alert: null,
    cleared: previous?.cleared ?? [],
    cleared_at: previous?.cleared_at ?? null,
    rev: previous?.rev ?? 0,
  };
}

/**
 * The watch with a change applied: an alert opened, or the open one moved to the cleared list.
 * What the service judged and what the store decides both go through here.
 */
export function applyWelfareChange(welfare: Welfare, change: WelfareChange): Welfare {
  if (change.type === "tracking.stopped") return { ...welfare, alert: change.alert };
  return {
    ...welfare,
    alert: null,
    cleared: [...welfare.cleared, change.alert].slice(-CLEARED_ALERTS_KEPT),
    cleared_at: change.alert.cleared_at,
  };
}

/** The stored watch with the progress a cache judged since (heard_at never goes back). */
export function withProgress(welfare: Welfare, progress: WelfareProgress): Welfare {
  return {
    ...welfare,
    heard_at: later(welfare.heard_at, progress.heard_at),
    still: progress.still,
  };
}

function clear(welfare: Welfare, at: Date, by: ClearedBy): WelfareStep {
  if (!welfare.alert) return unchanged(welfare);
  const change: WelfareChange = {
    type: "tracking.resumed",
    alert: { ...welfare.alert, cleared_at: at, cleared_by: by },
  };
  return { welfare: applyWelfareChange(welfare, change), change };
}

function raise(
  welfare: Welfare,
  reason: WelfareReason,
  since: Date,
  now: Date,
  position: LatLng | null,
): WelfareStep {
  const change: WelfareChange = {
    type: "tracking.stopped",
    alert: { reason, since, raised_at: now, position },
  };
  return { welfare: applyWelfareChange(welfare, change), change };
}

const positionOf = (still: StillPoint | null): LatLng | null =>
  still ? { lat: still.lat, lng: still.lng } : null;

/**
 * How long the runner has stood still with the pet aboard, as of `now`: between its fixes there
 * (phone time), plus the time since the last of them (server time) — no fix since is no sign of
 * moving — and no longer than the pet has been aboard (server time): a runner that waited at the
 * pickup, its phone's fixes of the wait sent late, has not kept the pet waiting.
 */
export function stillForMs(welfare: Welfare, now: Date): number {
  const { still } = welfare;
  if (!still) return 0;
  const sinceHeard = Math.max(0, now.getTime() - welfare.heard_at.getTime());
  return Math.min(
    still.until.getTime() - still.since.getTime() + sinceHeard,
    now.getTime() - welfare.aboard_since.getTime(),
  );
}

/**
 * A fix taken while the watch runs (`now`: when the server got it). Outside the radius of where
 * the runner stood, it stands somewhere new (and a stationary alert clears); any fix ends a
 * silence. Within the radius (GPS jitter included) the stand-still goes on, and past `stopMs`
 * raises a stationary alert. Call it with fixes the filter accepted: in recorded order.
 */
export function welfareOnFix(
  welfare: Welfare,
  fix: LatLng & { recorded_at: Date },
  now: Date,
  policy: WelfarePolicy,
): WelfareStep {
  if (!welfare.aboard) return unchanged(welfare);
  const { still } = welfare;
  if (!still || distanceKm(still, fix) * 1000 > policy.stopRadiusM) {
    const since = fix.recorded_at;
    const moved = heard(welfare, now, { lat: fix.lat, lng: fix.lng, since, until: since });
    return clear(moved, now, welfare.alert?.reason === "silent" ? "heard" : "moved");
  }
  const until = later(still.until, fix.recorded_at);
  const stays = heard(welfare, now, { lat: still.lat, lng: still.lng, since: still.since, until });
  if (welfare.alert?.reason === "silent") return clear(stays, now, "heard");
  if (!welfare.alert && stillForMs(stays, now) > policy.stopMs) {
    return raise(stays, "stationary", still.since, now, positionOf(still));
  }
  return unchanged(stays);
}

/**
 * The clock alone (no fix): a silence past `silentMs` raises a silent alert; failing that, a
 * stand-still that has run past `stopMs` with no fix since (a phone that sends nothing while it
 * does not move) raises a stationary one. An open alert waits for a fix or the end.
 */
export function welfareOnTick(welfare: Welfare, now: Date, policy: WelfarePolicy): WelfareStep {
  if (!welfare.aboard || welfare.alert) return unchanged(welfare);
  if (now.getTime() - welfare.heard_at.getTime() > policy.silentMs) {
    return raise(welfare, "silent", welfare.heard_at, now, positionOf(welfare.still));
  }
  if (welfare.still && stillForMs(welfare, now) > policy.stopMs) {
    return raise(welfare, "stationary", welfare.still.since, now, positionOf(welfare.still));
  }
  return unchanged(welfare);
}

/** The pet is handed over (or the booking cancelled): the watch ends, an open alert clears. */
export function endWelfare(
  welfare: Welfare,
  at: Date,
  by: Extract<ClearedBy, "delivered" | "cancelled">,
): WelfareStep {
  if (!welfare.aboard) return unchanged(welfare);
  const step = clear(welfare, at, by);
  return { ...step, welfare: { ...step.welfare, aboard: false } };
}

/**
 * How often the service looks for trips gone silent or still with no fix to tell it: a fifth of
 * the shorter limit (an alert is at most that late), between 200 ms and 30 s.
 */
export function welfareSweepEveryMs(policy: WelfarePolicy): number {
  return Math.min(30_000, Math.max(200, Math.min(policy.stopMs, policy.silentMs) / 5));
}
