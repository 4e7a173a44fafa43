import { DEFAULT_TRACKING_POLICY, aheadOfClock } from "../../domain/tracking";
import { RateLimiter } from "../../lib/rate-limit";

const NOW = Date.parse("2026-12-01T10:00:00.000Z");
const SKEW = DEFAULT_TRACKING_POLICY.maxClockSkewMs;

describe("buffered fixes", () => {
  it("given fixes counted by when they were recorded, when 10 over 5 minutes come at once, then all pass", () => {
    const limiter = new RateLimiter({ ratePerSec: 5, burst: 5, maxKeys: 10 });
    const recorded = Array.from({ length: 10 }, (_, i) => NOW - 300_000 + i * 30_000);
    expect(recorded.map((at) => limiter.allow("runner-1", at))).toEqual(recorded.map(() => true));
  });

  it("given 10 fixes recorded at one moment, then a second's worth passes and the rest are dropped", () => {
    const limiter = new RateLimiter({ ratePerSec: 5, burst: 5, maxKeys: 10 });
    const passed = Array.from({ length: 10 }, () => limiter.allow("runner-1", NOW));
    expect(passed).toEqual([true, true, true, true, true, false, false, false, false, false]);
    // A fix recorded a second later has its second's worth again.
    expect(limiter.allow("runner-1", NOW + 1000)).toBe(true);
  });

  it.each([
    ["now", NOW, false],
    ["at the edge of the allowed skew", NOW + SKEW, false],
    ["just past it", NOW + SKEW + 1, true],
    ["an hour ago", NOW - 3_600_000, false],
    ["not a time", NaN, true],
  ])("given a fix recorded %s, then it is from the future: %s", (_when, at, ahead) => {
    expect(aheadOfClock(at, NOW)).toBe(ahead);
  });
});
