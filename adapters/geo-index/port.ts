export interface LatLng {
  lat: number;
  lng: number;
}

export interface IndexedRunner {
  runnerId: string;
  lat: number;
  lng: number;
  /** last report */
  at: Date;
}

export interface NearbyRunner extends IndexedRunner {
  distanceKm: number;
}

/**
 * The geo-index port: where the online, available runners are, for dispatch. Both adapters
 * (Redis GEO, in-process) measure with the haversine of domain/geo.ts, so a runner is in or out
 * of a radius, and ordered, the same way whichever adapter answers.
 */
export interface GeoIndex {
  readonly kind: "redis" | "memory";
  /** Adds a runner or moves it; `at` is when it last reported (defaults to now). */
  upsert(runnerId: string, position: LatLng, at?: Date): Promise<void>;
  /**
   * Moves a runner that is indexed and not stale; false (and nothing written) otherwise. The GPS
   * hot path uses it: one round trip both checks that the runner is online and moves it.
   */
  touch(runnerId: string, position: LatLng, at?: Date): Promise<boolean>;
  /** Takes a runner out (offline, busy). No error when absent. */
  remove(runnerId: string): Promise<void>;
  /** Runners within radiusKm of center, nearest first (ties by runnerId), excluding those whose last report is older than staleAfterMs before `now`; at most `limit` (default 20). */
  nearby(
    center: LatLng,
    radiusKm: number,
    options?: { limit?: number; now?: Date },
  ): Promise<NearbyRunner[]>;
  /** One runner, or null (also null when stale). */
  get(runnerId: string, now?: Date): Promise<IndexedRunner | null>;
  /** Removes runners whose last report is older than staleAfterMs before `now`; returns their ids. */
  pruneStale(now?: Date): Promise<string[]>;
  /** Number of (possibly stale) runners indexed. */
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface GeoIndexOptions {
  staleAfterMs: number;
}

export const DEFAULT_NEARBY_LIMIT = 20;

/** Redis GEO indexes Web Mercator, which stops here; both adapters refuse what it cannot store. */
export const MAX_LATITUDE = 85.05112878;

/**
 * A position the index cannot hold (beyond Web Mercator's latitudes, not a number). Its own
 * class, so that a caller can tell "no later try can do better" from any other RangeError (an
 * invalid date, a driver's): only this one is a reason to give up for good.
 */
export class UnmappablePositionError extends RangeError {
  override readonly name = "UnmappablePositionError";
}

/** Throws an UnmappablePositionError for a position Redis could not store. */
export function assertPosition(position: LatLng): void {
  const { lat, lng } = position;
  if (!(Math.abs(lat) <= MAX_LATITUDE) || !(Math.abs(lng) <= 180)) {
    throw new UnmappablePositionError(`position out of range: ${lat},${lng}`);
  }
}

/** The report time in epoch ms (now by default); an invalid Date would poison the score. */
export function reportMs(at?: Date): number {
  const ms = (at ?? new Date()).getTime();
  if (!Number.isFinite(ms)) throw new RangeError("report time is not a valid date");
  return ms;
}

/** Checks a nearby() query and returns its limit, so both adapters refuse the same input. */
export function nearbyLimit(center: LatLng, radiusKm: number, limit?: number): number {
  assertPosition(center);
  if (!(radiusKm >= 0) || !Number.isFinite(radiusKm)) {
    throw new RangeError(`radius must be a finite number of km >= 0, got ${radiusKm}`);
  }
  const resolved = limit ?? DEFAULT_NEARBY_LIMIT;
  if (!Number.isInteger(resolved) || resolved < 0) {
    throw new RangeError(`limit must be an integer >= 0, got ${resolved}`);
  }
  return resolved;
}

/** A runner whose last report is older than this (epoch ms) is stale. */
export const staleBefore = (now: Date | undefined, staleAfterMs: number): number =>
  (now ?? new Date()).getTime() - staleAfterMs;
