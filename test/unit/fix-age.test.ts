import { DEFAULT_TRACKING_POLICY, staleFix } from "../../domain/tracking";
import { ConfigError, loadConfig } from "../../lib/config";

const NOW = Date.parse("2026-03-01T08:00:00Z");
const HOUR = 3_600_000;
const SKEW = DEFAULT_TRACKING_POLICY.maxClockSkewMs;

describe("staleFix: how old a fix may be", () => {
  describe("given a fix naming the runner's active booking, accepted 2 hours ago", () => {
    const accepted = NOW - 2 * HOUR;

    it("when it was recorded after the acceptance (even beyond the max age), then it is taken", () => {
      expect(staleFix(accepted + 1, NOW, accepted, HOUR)).toEqual(null);
      expect(staleFix(accepted + 30 * 60_000, NOW, accepted, HOUR)).toEqual(null);
    });

    it("when it was recorded within the phones' clock skew before it, then it is taken", () => {
      expect(staleFix(accepted - SKEW, NOW, accepted, HOUR)).toEqual(null);
    });

    it("when it was recorded before that, then it is refused as before the acceptance", () => {
      expect(staleFix(accepted - SKEW - 1, NOW, accepted, HOUR)).toEqual("before_acceptance");
      expect(staleFix(Date.parse("2001-01-01T00:00:00Z"), NOW, accepted, HOUR)).toEqual(
        "before_acceptance",
      );
    });
  });

  describe("given a fix naming no booking the runner is on", () => {
    it("when it is at most the max age old, then it is taken", () => {
      expect(staleFix(NOW - HOUR, NOW, null, HOUR)).toEqual(null);
      expect(staleFix(NOW, NOW, null, HOUR)).toEqual(null);
    });

    it("when it is older, then it is refused as too old", () => {
      expect(staleFix(NOW - HOUR - 1, NOW, null, HOUR)).toEqual("too_old");
      expect(staleFix(Date.parse("2001-01-01T00:00:00Z"), NOW, null, HOUR)).toEqual("too_old");
    });
  });

  it("given an invalid time, when judged, then it is stale (fails closed)", () => {
    expect([staleFix(NaN, NOW, null, HOUR), staleFix(NaN, NOW, NOW, HOUR)]).toEqual([
      "too_old",
      "before_acceptance",
    ]);
  });
});

describe("the fix limits' configuration", () => {
  it("given nothing set, then a fix may be an hour old and 100 a second may arrive", () => {
    const { tracking } = loadConfig({});
    expect([tracking.fixMaxAgeMs, tracking.locationArrivalsPerSec]).toEqual([HOUR, 100]);
  });

  it("given FIX_MAX_AGE and LOCATION_ARRIVALS_PER_SEC, then they are used", () => {
    const { tracking } = loadConfig({ FIX_MAX_AGE: "10m", LOCATION_ARRIVALS_PER_SEC: "20" });
    expect([tracking.fixMaxAgeMs, tracking.locationArrivalsPerSec]).toEqual([600_000, 20]);
  });

  it("given a bad value, then the variable is named", () => {
    expect(() => loadConfig({ FIX_MAX_AGE: "an hour" })).toThrow(ConfigError);
    expect(() => loadConfig({ LOCATION_ARRIVALS_PER_SEC: "0" })).toThrow(
      /LOCATION_ARRIVALS_PER_SEC/,
    );
  });
});
