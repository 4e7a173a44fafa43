import Redis from "ioredis";
import { MemoryGeoIndex } from "./memory";
import type { GeoIndex } from "./port";
import { RedisGeoIndex } from "./redis";

export * from "./port";
export { MemoryGeoIndex } from "./memory";
export { RedisGeoIndex, type RedisGeoIndexOptions } from "./redis";

/**
 * Redis when redisUrl is set (every instance then sees the same runners), else the in-process
 * index (embedded mode). The Redis client is created here and close() quits it.
 */
export function createGeoIndex(options: { redisUrl?: string; key: string; staleAfterMs: number }): {
  index: GeoIndex;
  close(): Promise<void>;
} {
  const { redisUrl, key, staleAfterMs } = options;
  if (!redisUrl) {
    const index = new MemoryGeoIndex({ staleAfterMs });
    return { index, close: () => index.close() };
  }
  // Auto-pipelining: the fixes moved in one tick share one socket write.
  const redis = new Redis(redisUrl, {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
  });
  const index = new RedisGeoIndex(redis, { key, staleAfterMs });
  let closing: Promise<void> | undefined;
  return {
    index,
    close: () =>
      (closing ??= (async () => {
        await index.close();
        // quit() waits for replies in flight; it rejects when the connection is already gone.
        await redis.quit().catch(() => redis.disconnect());
      })()),
  };
}
