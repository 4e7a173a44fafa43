import type Redis from "ioredis";
import type { ChainableCommander } from "ioredis";
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

export interface RedisGeoIndexOptions extends GeoIndexOptions {
  /** Prefix of the two keys, e.g. `kilat:runners`; on a cluster give it a `{hash tag}`. */
  key: string;
}

/**
 * Redis measures with an Earth radius of 6372.797 km, domain/geo.ts with the 6371.009 km mean,
 * so its distances read 0.028 % long (2.8 m per 10 km). The search radius is widened by this
 * factor and every distance recomputed with distanceKm, so radius and order match the memory
 * adapter's.
 */
const SEARCH_SLACK = 1.001;
const SEARCH_SLACK_KM = 0.001;
/** Below float noise between Redis's and our haversine, far below GEO's ~0.3 m precision. */
const NOISE_KM = 1e-9;

/** Atomic, so a runner re-reporting between the scan and the removal is not dropped. */
const PRUNE_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for i = 1, #ids, 1000 do
  local last = math.min(i + 999, #ids)
  redis.call('ZREM', KEYS[1], unpack(ids, i, last))
  redis.call('ZREM', KEYS[2], unpack(ids, i, last))
end
return ids
`;

/** Moves a member only when it has a fresh last report: check and write in one round trip. */
const TOUCH_SCRIPT = `
local seen = redis.call('ZSCORE', KEYS[2], ARGV[4])
if not seen or tonumber(seen) < tonumber(ARGV[5]) then return 0 end
redis.call('GEOADD', KEYS[1], ARGV[1], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
`;

/**
 * Redis adapter of the geo-index port: `<key>:geo` holds positions (a GEO set, 52-bit geohashes,
 * so positions come back within ~0.6 m) and `<key>:seen` the last report per runner (a sorted
 * set scored by epoch ms). Both are written in one MULTI, so they never disagree for long; a
 * member found in one but not the other is treated as absent.
 */
export class RedisGeoIndex implements GeoIndex {
  readonly kind = "redis" as const;
  private readonly geoKey: string;
  private readonly seenKey: string;
  private readonly staleAfterMs: number;

  constructor(
    private readonly redis: Redis,
    options: RedisGeoIndexOptions,
  ) {
    this.geoKey = `${options.key}:geo`;
    this.seenKey = `${options.key}:seen`;
    this.staleAfterMs = options.staleAfterMs;
  }

  async upsert(runnerId: string, position: LatLng, at?: Date): Promise<void> {
    assertPosition(position);
    const atMs = reportMs(at);
    await exec(
      this.redis
        .multi()
        .geoadd(this.geoKey, position.lng, position.lat, runnerId)
        .zadd(this.seenKey, atMs, runnerId),
    );
  }

  async touch(runnerId: string, position: LatLng, at?: Date): Promise<boolean> {
    assertPosition(position);
    const atMs = reportMs(at);
    const moved = await this.redis.eval(
      TOUCH_SCRIPT,
      2,
      this.geoKey,
      this.seenKey,
      String(position.lng),
      String(position.lat),
      String(atMs),
      runnerId,
      String(staleBefore(new Date(atMs), this.staleAfterMs)),
    );
    return moved === 1;
  }

  async remove(runnerId: string): Promise<void> {
    await exec(this.redis.multi().zrem(this.geoKey, runnerId).zrem(this.seenKey, runnerId));
  }

  /**
   * GEOSEARCH's COUNT would cut before stale runners are dropped, so this fetches a page larger
   * than the limit and, when stale ones leave it short, asks again for a bigger page. It stops
   * once the page held everything in range, or once the limit-th fresh runner is nearer than
   * the page's last row (nothing unseen can then come before it, ties included).
   */
  async nearby(
    center: LatLng,
    radiusKm: number,
    options: { limit?: number; now?: Date } = {},
  ): Promise<NearbyRunner[]> {
    const limit = nearbyLimit(center, radiusKm, options.limit);
    if (limit === 0) return [];
    const cutoff = staleBefore(options.now, this.staleAfterMs);
    for (let count = limit * 2; ; count *= 4) {
      const rows = await this.search(center, radiusKm * SEARCH_SLACK + SEARCH_SLACK_KM, count);
      if (rows.length === 0) return [];
      const scores = await this.redis.zmscore(
        this.seenKey,
        rows.map((row) => row.runnerId),
      );
      const fresh: NearbyRunner[] = [];
      rows.forEach((row, i) => {
        const score = scores[i];
        if (score === null || Number(score) < cutoff) return;
        const distance = distanceKm(center, row);
        if (distance > radiusKm) return;
        fresh.push({ ...row, at: new Date(Number(score)), distanceKm: distance });
      });
      fresh.sort(
        (a, b) =>
          a.distanceKm - b.distanceKm ||
          (a.runnerId < b.runnerId ? -1 : a.runnerId > b.runnerId ? 1 : 0),
      );
      const exhausted = rows.length < count;
      const lastRow = distanceKm(center, rows[rows.length - 1]);
      if (
        exhausted ||
        (fresh.length >= limit && fresh[limit - 1].distanceKm < lastRow - NOISE_KM)
      ) {
        return fresh.slice(0, limit);
      }
    }
  }

  async get(runnerId: string, now?: Date): Promise<IndexedRunner | null> {
    const [positions, score] = await exec(
      this.redis.multi().geopos(this.geoKey, runnerId).zscore(this.seenKey, runnerId),
    );
    const position = (positions as ([string, string] | null)[])[0];
    if (!position || score === null) return null;
    const atMs = Number(score);
    if (atMs < staleBefore(now, this.staleAfterMs)) return null;
    return { runnerId, lng: Number(position[0]), lat: Number(position[1]), at: new Date(atMs) };
  }

  async pruneStale(now?: Date): Promise<string[]> {
    const cutoff = staleBefore(now, this.staleAfterMs);
    return (await this.redis.eval(
      PRUNE_SCRIPT,
      2,
      this.geoKey,
      this.seenKey,
      String(cutoff),
    )) as string[];
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.geoKey);
  }

  /** The client belongs to whoever passed it in (it is usually shared): it stays open. */
  async close(): Promise<void> {}

  /** Members within radiusKm by Redis's own distance, nearest first, with their stored position. */
  private async search(
    center: LatLng,
    radiusKm: number,
    count: number,
  ): Promise<{ runnerId: string; lat: number; lng: number }[]> {
    const reply = await this.redis.geosearch(
      this.geoKey,
      "FROMLONLAT",
      center.lng,
      center.lat,
      "BYRADIUS",
      radiusKm,
      "km",
      "ASC",
      "COUNT",
      count,
      "WITHCOORD",
    );
    // With WITHCOORD each row is [member, [longitude, latitude]], numbers as strings.
    return (reply as [string, [string, string]][]).map(([runnerId, [lng, lat]]) => ({
      runnerId,
      lat: Number(lat),
      lng: Number(lng),
    }));
  }
}

/** The replies of a MULTI, throwing the first command error (exec() only reports them). */
async function exec(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error("Redis transaction was aborted");
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
