import Redis from "ioredis";
import { createGeoIndex, RedisGeoIndex } from "../../adapters/geo-index";
import { CENTER, geoIndexContract, offset } from "../contract/geo-index.contract";
import { describeWithInfra, uniqueName } from "../support/infra";

describeWithInfra(["redis"], "geo index contract: Redis adapter (real server)", (infra) => {
  let redis: Redis;
  const prefixes: string[] = [];
  /** A key prefix of its own per index, deleted after the suite. */
  const freshKey = () => {
    const key = uniqueName("geo-contract");
    prefixes.push(key);
    return key;
  };

  beforeAll(() => {
    redis = new Redis(infra.redis, { maxRetriesPerRequest: 2 });
  });

  afterAll(async () => {
    const keys = prefixes.flatMap((key) => [`${key}:geo`, `${key}:seen`]);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  geoIndexContract(
    async (staleAfterMs) => new RedisGeoIndex(redis, { key: freshKey(), staleAfterMs }),
  );

  it("keeps positions in <key>:geo and last reports in <key>:seen, and leaves the client open", async () => {
    const key = freshKey();
    const index = new RedisGeoIndex(redis, { key, staleAfterMs: 60_000 });
    const at = new Date("2025-03-01T08:00:00.000Z");
    await index.upsert("runner-1", offset(1), at);

    expect(await redis.geopos(`${key}:geo`, "runner-1")).toHaveLength(1);
    expect(await redis.zscore(`${key}:seen`, "runner-1")).toBe(String(at.getTime()));
    await index.close();
    expect(await redis.ping()).toBe("PONG");
  });

  it("treats a position without a last report as absent", async () => {
    const key = freshKey();
    const index = new RedisGeoIndex(redis, { key, staleAfterMs: 60_000 });
    await redis.geoadd(`${key}:geo`, CENTER.lng, CENTER.lat, "half-written");

    expect(await index.nearby(CENTER, 5)).toEqual([]);
    expect(await index.get("half-written")).toBeNull();
  });

  it("createGeoIndex with a URL owns its client and quits it on close", async () => {
    const key = freshKey();
    const { index, close } = createGeoIndex({ redisUrl: infra.redis, key, staleAfterMs: 60_000 });
    expect(index.kind).toBe("redis");
    await index.upsert("runner-1", offset(1));
    expect(await redis.zcard(`${key}:geo`)).toBe(1);

    await close();
    await close();
    await expect(index.size()).rejects.toThrow();
  });
});
