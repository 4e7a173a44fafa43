import { LruCache } from "../../lib/lru-cache";

describe("LruCache", () => {
  it("keeps at most its capacity, forgetting the least recently used first", () => {
    const cache = new LruCache<string, number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("a")).toBe(1); // a is now the most recent
    cache.set("c", 3);
    expect([cache.get("a"), cache.get("b"), cache.get("c"), cache.size]).toEqual([
      1,
      undefined,
      3,
      2,
    ]);
    cache.set("a", 10);
    expect([cache.get("a"), cache.size]).toEqual([10, 2]);
  });
});
