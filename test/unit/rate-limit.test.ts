import { RateLimiter } from "../../lib/rate-limit";

const T0 = 1_000_000;

/** Calls `allow` `times` times at `nowMs`; how many went. */
const burstAt = (limiter: RateLimiter, key: string, nowMs: number, times: number) =>
  Array.from({ length: times }, () => limiter.allow(key, nowMs)).filter(Boolean).length;

describe("RateLimiter", () => {
  it("lets a new key go `burst` times at once, then drops", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 3, maxKeys: 10 });
    expect([1, 2, 3, 4, 5].map(() => limiter.allow("a", T0))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it("refills continuously at ratePerSec: a token is due exactly after 1 / rate seconds", () => {
    const limiter = new RateLimiter({ ratePerSec: 5, burst: 1, maxKeys: 10 });
    expect(limiter.allow("a", T0)).toEqual(true);
    expect(limiter.allow("a", T0 + 199)).toEqual(false);
    expect(limiter.allow("a", T0 + 200)).toEqual(true);
    // Fractions add up: 100 ms + 100 ms is a token.
    expect(limiter.allow("a", T0 + 300)).toEqual(false);
    expect(limiter.allow("a", T0 + 400)).toEqual(true);
  });

  it("refills no further than burst, however long the key was quiet", () => {
    const limiter = new RateLimiter({ ratePerSec: 10, burst: 4, maxKeys: 10 });
    expect(burstAt(limiter, "a", T0, 4)).toEqual(4);
    expect(burstAt(limiter, "a", T0 + 3_600_000, 10)).toEqual(4);
  });

  it("over time, lets through the burst plus the rate, and no more", () => {
    const limiter = new RateLimiter({ ratePerSec: 5, burst: 10, maxKeys: 10 });
    let allowed = 0;
    // 100 calls a second for 10 s.
    for (let ms = 0; ms < 10_000; ms += 10) if (limiter.allow("a", T0 + ms)) allowed += 1;
    expect(allowed).toEqual(10 + 49);
    expect(limiter.dropped).toEqual(1000 - allowed);
  });

  it("given ratePerSec 0, lets a key go only its burst, ever", () => {
    const limiter = new RateLimiter({ ratePerSec: 0, burst: 2, maxKeys: 10 });
    expect(burstAt(limiter, "a", T0, 2)).toEqual(2);
    expect(limiter.allow("a", T0 + 3_600_000)).toEqual(false);
  });

  it("keeps a bucket per key", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 10 });
    expect(limiter.allow("a", T0)).toEqual(true);
    expect(limiter.allow("a", T0)).toEqual(false);
    expect(limiter.allow("b", T0)).toEqual(true);
  });

  it("counts drops in total and per key", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 10 });
    burstAt(limiter, "a", T0, 4);
    burstAt(limiter, "b", T0, 2);
    expect(limiter.dropped).toEqual(4);
    expect(limiter.dropCount("a")).toEqual(3);
    expect(limiter.dropCount("b")).toEqual(1);
    expect(limiter.dropCount("never-seen")).toEqual(0);
  });

  it("given a clock that steps back, refills nothing and does not count the time twice", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 10 });
    expect(limiter.allow("a", T0 + 5_000)).toEqual(true);
    expect(limiter.allow("a", T0)).toEqual(false);
    expect(limiter.allow("a", T0 + 5_999)).toEqual(false);
    expect(limiter.allow("a", T0 + 6_000)).toEqual(true);
  });

  describe("memory bound", () => {
    it("never tracks more than maxKeys keys", () => {
      const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 100 });
      for (let i = 0; i < 10_000; i += 1) {
        limiter.allow(`key-${i}`, T0 + i);
        expect(limiter.size).toEqual(Math.min(i + 1, 100));
      }
    });

    it("forgets the least recently seen key first; any call, dropped or not, counts as seen", () => {
      const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 3 });
      limiter.allow("a", T0);
      limiter.allow("b", T0);
      limiter.allow("c", T0);
      expect(limiter.allow("a", T0)).toEqual(false); // a is now the most recent
      limiter.allow("d", T0); // forgets b
      expect(limiter.size).toEqual(3);
      expect(limiter.dropCount("a")).toEqual(1);
      // b comes back with a full bucket; c, untouched since, was the oldest and goes.
      expect(limiter.allow("b", T0)).toEqual(true);
      expect(limiter.allow("a", T0)).toEqual(false);
      expect(limiter.allow("d", T0)).toEqual(false);
      expect(limiter.allow("c", T0)).toEqual(true);
    });

    it("does not count reading a key's drops as seeing it", () => {
      const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 2 });
      burstAt(limiter, "a", T0, 2);
      limiter.allow("b", T0);
      expect(limiter.dropCount("a")).toEqual(1);
      limiter.allow("c", T0); // forgets a, though it was just read
      expect(limiter.dropCount("a")).toEqual(0);
      expect(limiter.allow("b", T0)).toEqual(false);
    });

    it("keeps the total of drops for keys since forgotten", () => {
      const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 1 });
      burstAt(limiter, "a", T0, 3);
      burstAt(limiter, "b", T0, 2);
      expect(limiter.dropCount("a")).toEqual(0);
      expect(limiter.dropCount("b")).toEqual(1);
      expect(limiter.dropped).toEqual(3);
    });
  });

  it.each([
    { ratePerSec: -1, burst: 1, maxKeys: 1 },
    { ratePerSec: NaN, burst: 1, maxKeys: 1 },
    { ratePerSec: 1, burst: 0.5, maxKeys: 1 },
    { ratePerSec: 1, burst: Infinity, maxKeys: 1 },
    { ratePerSec: 1, burst: 1, maxKeys: 0 },
    { ratePerSec: 1, burst: 1, maxKeys: 1.5 },
  ])("given options %p that could never or always allow, refuses to build", (options) => {
    expect(() => new RateLimiter(options)).toThrow(RangeError);
  });

  it("given a time that is not a number, throws rather than breaking the bucket", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 1 });
    expect(() => limiter.allow("a", NaN)).toThrow(RangeError);
    expect(limiter.size).toEqual(0);
  });
});
