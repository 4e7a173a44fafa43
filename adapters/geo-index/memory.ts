import { distanceKm } from "../../domain/geo";
import {
  assertPosition,
  nearbyLimit,
  reportMs,
  staleBefore,
  type GeoIndex,
  type GeoIndexOptions,
  type IndexedRunner,
  type LatLng,
  type NearbyRunner,
} from "./port";

interface Entry {
  runnerId: string;
  lat: number;
  lng: number;
  atMs: number;
}

/** Nearer first, then by runnerId. */
const before = (distance: number, runnerId: string, other: NearbyRunner) =>
  distance < other.distanceKm || (distance === other.distanceKm && runnerId < other.runnerId);

/** A copy, so callers cannot move a runner by mutating what they got. */
const toRunner = (entry: Entry): IndexedRunner => ({
  runnerId: entry.runnerId,
  lat: entry.lat,
  lng: entry.lng,
  at: new Date(entry.atMs),
});

/**
 * The embedded geo index: a Map scanned linearly. nearby() keeps only the best `limit` matches
 * in sorted order as it goes, so a query allocates nothing but its result.
 */
export class MemoryGeoIndex implements GeoIndex {
  readonly kind = "memory" as const;
  private readonly runners = new Map<string, Entry>();
  private readonly staleAfterMs: number;

  constructor(options: GeoIndexOptions) {
    this.staleAfterMs = options.staleAfterMs;
  }

  async upsert(runnerId: string, position: LatLng, at?: Date): Promise<void> {
    assertPosition(position);
    const atMs = reportMs(at);
    this.runners.set(runnerId, { runnerId, lat: position.lat, lng: position.lng, atMs });
  }

  async touch(runnerId: string, position: LatLng, at?: Date): Promise<boolean> {
    assertPosition(position);
    const atMs = reportMs(at);
    const current = this.runners.get(runnerId);
    if (!current || current.atMs < staleBefore(new Date(atMs), this.staleAfterMs)) return false;
    this.runners.set(runnerId, { runnerId, lat: position.lat, lng: position.lng, atMs });
    return true;
  }

  async remove(runnerId: string): Promise<void> {
    this.runners.delete(runnerId);
  }

  async nearby(
    center: LatLng,
    radiusKm: number,
    options: { limit?: number; now?: Date } = {},
  ): Promise<NearbyRunner[]> {
    const limit = nearbyLimit(center, radiusKm, options.limit);
    const cutoff = staleBefore(options.now, this.staleAfterMs);
    const result: NearbyRunner[] = [];
    if (limit === 0) return result;
    for (const entry of this.runners.values()) {
      if (entry.atMs < cutoff) continue;
      const distance = distanceKm(center, entry);
      if (distance > radiusKm) continue;
      if (result.length === limit && !before(distance, entry.runnerId, result[limit - 1])) continue;
      let low = 0;
      let high = result.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (before(distance, entry.runnerId, result[mid])) high = mid;
        else low = mid + 1;
      }
      if (result.length === limit) result.pop();
      const { runnerId, lat, lng, atMs } = entry;
      result.splice(low, 0, { runnerId, lat, lng, at: new Date(atMs), distanceKm: distance });
    }
    return result;
  }

  async get(runnerId: string, now?: Date): Promise<IndexedRunner | null> {
    const entry = this.runners.get(runnerId);
    if (!entry || entry.atMs < staleBefore(now, this.staleAfterMs)) return null;
    return toRunner(entry);
  }

  async pruneStale(now?: Date): Promise<string[]> {
    const cutoff = staleBefore(now, this.staleAfterMs);
    const pruned: string[] = [];
    for (const [runnerId, entry] of this.runners) {
      if (entry.atMs < cutoff) {
        this.runners.delete(runnerId); // deleting the current key keeps Map iteration valid
        pruned.push(runnerId);
      }
    }
    return pruned;
  }

  async size(): Promise<number> {
    return this.runners.size;
  }

  /** The positions live in this process only: closing forgets them. */
  async close(): Promise<void> {
    this.runners.clear();
  }
}
