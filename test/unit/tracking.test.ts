import { distanceKm, type LatLng } from "../../domain/geo";
import {
  applyFix,
  DEFAULT_TRACKING_POLICY,
  emptyTrack,
  etaSeconds,
  type Fix,
  type FixVerdict,
  type TrackingPolicy,
  type TrackState,
} from "../../domain/tracking";

/** Kilometres per degree of latitude with geo.ts's earth radius: moves along a meridian are exact. */
const KM_PER_DEGREE = (6371.0088 * Math.PI) / 180;
const BASE: LatLng = { lat: -6.2, lng: 106.8 };
const north = (km: number): LatLng => ({ lat: BASE.lat + km / KM_PER_DEGREE, lng: BASE.lng });

const T0 = Date.parse("2026-03-01T08:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const NOW = at(100_000);
const DROPOFF = north(10);

/** A fix `km` north of BASE, `seconds` after T0. */
const fix = (km: number, seconds: number, extra: Partial<Fix> = {}): Fix => ({
  ...north(km),
  recorded_at: at(seconds),
  ...extra,
});

function accepted(verdict: FixVerdict) {
  if (!verdict.ok)
    throw new Error(`expected the fix to be accepted, was rejected: ${verdict.reason}`);
  return verdict;
}

/** Applies the fixes in order, every one of which must be accepted; the last verdict. */
function run(fixes: Fix[], policy: TrackingPolicy = DEFAULT_TRACKING_POLICY, start = emptyTrack()) {
  let state: TrackState = start;
  let verdict: ReturnType<typeof accepted> | undefined;
  for (const f of fixes) {
    verdict = accepted(applyFix(state, f, DROPOFF, NOW, policy));
    state = verdict.state;
  }
  if (!verdict) throw new Error("no fixes");
  return verdict;
}

const reason = (verdict: FixVerdict) => (verdict.ok ? "accepted" : verdict.reason);

describe("DEFAULT_TRACKING_POLICY and emptyTrack", () => {
  it("has the documented defaults", () => {
    expect(DEFAULT_TRACKING_POLICY).toEqual({
      maxSpeedKmh: 150,
      maxClockSkewMs: 30_000,
      smoothing: 0.3,
      fallbackSpeedKmh: 20,
      jitterKm: 0.005,
    });
  });
  it("starts with no fix, no distance and no speed, as a fresh object every time", () => {
    const a = emptyTrack();
    expect(a).toEqual({ last: null, anchor: null, total_distance_km: 0, smoothed_speed_kmh: null });
    a.total_distance_km = 5;
    expect(emptyTrack().total_distance_km).toEqual(0);
  });
});

describe("applyFix: invalid", () => {
  const valid = fix(0, 0, { speed_kmh: 10, heading_degrees: 90 });
  const apply = (changes: Partial<Fix>) =>
    applyFix(emptyTrack(), { ...valid, ...changes }, DROPOFF, NOW);

  it("accepts the fix the cases below each break one field of", () => {
    expect(reason(apply({}))).toEqual("accepted");
  });

  it.each<[string, Partial<Fix>]>([
    ["lat NaN", { lat: NaN }],
    ["lat Infinity", { lat: Infinity }],
    ["lat above 90", { lat: 90.000001 }],
    ["lat below -90", { lat: -90.000001 }],
    ["lng NaN", { lng: NaN }],
    ["lng -Infinity", { lng: -Infinity }],
    ["lng above 180", { lng: 180.000001 }],
    ["lng below -180", { lng: -180.000001 }],
    ["a negative speed", { speed_kmh: -0.1 }],
    ["speed NaN", { speed_kmh: NaN }],
    ["speed Infinity", { speed_kmh: Infinity }],
    ["heading 360", { heading_degrees: 360 }],
    ["a negative heading", { heading_degrees: -0.1 }],
    ["heading NaN", { heading_degrees: NaN }],
    ["an invalid Date", { recorded_at: new Date("not a date") }],
    ["a time that is not a Date", { recorded_at: "2026-03-01T08:00:00Z" as unknown as Date }],
    [
      "a time further ahead than the clock skew allows",
      { recorded_at: new Date(NOW.getTime() + DEFAULT_TRACKING_POLICY.maxClockSkewMs + 1) },
    ],
  ])("given %s, rejects it as invalid", (_name, changes) => {
    expect(reason(apply(changes))).toEqual("invalid");
  });

  it.each<[string, Partial<Fix>]>([
    ["lat 90", { lat: 90 }],
    ["lat -90", { lat: -90 }],
    ["lng 180", { lng: 180 }],
    ["lng -180", { lng: -180 }],
    ["speed 0", { speed_kmh: 0 }],
    ["heading 0", { heading_degrees: 0 }],
    ["heading 359.99", { heading_degrees: 359.99 }],
    ["no speed and no heading", { speed_kmh: undefined, heading_degrees: undefined }],
    [
      "a time exactly the clock skew ahead",
      { recorded_at: new Date(NOW.getTime() + DEFAULT_TRACKING_POLICY.maxClockSkewMs) },
    ],
  ])("given %s (the edge of the range), accepts it", (_name, changes) => {
    expect(reason(apply(changes))).toEqual("accepted");
  });

  it("measures the clock skew with the policy's allowance", () => {
    const policy = { ...DEFAULT_TRACKING_POLICY, maxClockSkewMs: 0 };
    const ahead = { ...valid, recorded_at: new Date(NOW.getTime() + 1) };
    expect(reason(applyFix(emptyTrack(), ahead, DROPOFF, NOW, policy))).toEqual("invalid");
    expect(reason(applyFix(emptyTrack(), ahead, DROPOFF, NOW))).toEqual("accepted");
  });

  it("given an invalid now, rejects every fix rather than skipping the clock check", () => {
    expect(reason(applyFix(emptyTrack(), valid, DROPOFF, new Date(NaN)))).toEqual("invalid");
  });

  it("checks validity before the order: a broken repeat of the last fix is invalid", () => {
    const { state } = run([fix(0, 0)]);
    expect(reason(applyFix(state, fix(0, 0, { lat: NaN }), DROPOFF, NOW))).toEqual("invalid");
  });
});

describe("applyFix: duplicate and out_of_order", () => {
  it("given the last accepted fix's time again, rejects it as a duplicate, wherever it is", () => {
    const { state } = run([fix(0, 0), fix(1, 60)]);
    expect(reason(applyFix(state, fix(1, 60), DROPOFF, NOW))).toEqual("duplicate");
    expect(reason(applyFix(state, fix(1.5, 60), DROPOFF, NOW))).toEqual("duplicate");
  });

  it("given a time before the last accepted fix, rejects it as out of order", () => {
    const { state } = run([fix(0, 0), fix(1, 60), fix(2, 120)]);
    expect(reason(applyFix(state, fix(1.5, 90), DROPOFF, NOW))).toEqual("out_of_order");
    expect(reason(applyFix(state, fix(2, 119.999), DROPOFF, NOW))).toEqual("out_of_order");
  });

  it("orders against the last accepted fix, not a rejected one", () => {
    const { state } = run([fix(0, 0)]);
    expect(reason(applyFix(state, fix(50, 60), DROPOFF, NOW))).toEqual("impossible_speed");
    expect(reason(applyFix(state, fix(0.5, 30), DROPOFF, NOW))).toEqual("accepted");
  });

  it("orders against a fix that moved less than the jitter, too", () => {
    const { state } = run([fix(0, 0), fix(0.002, 60)]);
    expect(state.last?.recorded_at).toEqual(at(60));
    expect(reason(applyFix(state, fix(0.002, 60), DROPOFF, NOW))).toEqual("duplicate");
    expect(reason(applyFix(state, fix(0.001, 30), DROPOFF, NOW))).toEqual("out_of_order");
  });
});

describe("applyFix: impossible_speed", () => {
  it("given a reported speed above the maximum, rejects it, even as the first fix", () => {
    expect(reason(applyFix(emptyTrack(), fix(0, 0, { speed_kmh: 150.01 }), DROPOFF, NOW))).toEqual(
      "impossible_speed",
    );
    expect(reason(applyFix(emptyTrack(), fix(0, 0, { speed_kmh: 150 }), DROPOFF, NOW))).toEqual(
      "accepted",
    );
  });

  it("given a jump faster than the maximum, rejects it, whatever speed is reported", () => {
    const { state } = run([fix(0, 0)]);
    // 1 km in 23 s is 156.5 km/h; in 25 s, 144 km/h.
    expect(reason(applyFix(state, fix(1, 23), DROPOFF, NOW))).toEqual("impossible_speed");
    expect(reason(applyFix(state, fix(1, 23, { speed_kmh: 10 }), DROPOFF, NOW))).toEqual(
      "impossible_speed",
    );
    expect(reason(applyFix(state, fix(1, 25), DROPOFF, NOW))).toEqual("accepted");
  });

  it("uses the policy's maximum", () => {
    const { state } = run([fix(0, 0)]);
    const policy = { ...DEFAULT_TRACKING_POLICY, maxSpeedKmh: 30 };
    // 1 km in 100 s is 36 km/h.
    expect(reason(applyFix(state, fix(1, 100), DROPOFF, NOW, policy))).toEqual("impossible_speed");
    expect(reason(applyFix(state, fix(1, 100), DROPOFF, NOW))).toEqual("accepted");
  });

  it("does not speed-check a move within the jitter, however little time passed", () => {
    const { state } = run([fix(0, 0)]);
    // 4 m in 1 ms would be 14,400 km/h.
    const verdict = accepted(applyFix(state, fix(0.004, 0.001), DROPOFF, NOW));
    expect(verdict.segment_km).toEqual(0);
  });

  it("after standing still for long, checks a jump against the last fix, not where it stood", () => {
    // Ten minutes of jitter around the start, then 10 km in one second.
    const { state } = run([fix(0, 0), fix(0.001, 300), fix(0.002, 600)]);
    expect(reason(applyFix(state, fix(10, 601), DROPOFF, NOW))).toEqual("impossible_speed");
  });

  it("catches jitter creeping past the threshold within a fraction of a second", () => {
    // 4.9 m then 5.1 m from the start within 0.1 s: each hop is jitter, together 184 km/h.
    const { state } = run([fix(0, 0), fix(0.0049, 0.05)]);
    expect(reason(applyFix(state, fix(0.0051, 0.1), DROPOFF, NOW))).toEqual("impossible_speed");
    expect(reason(applyFix(state, fix(0.0051, 1), DROPOFF, NOW))).toEqual("accepted");
  });
});

describe("applyFix: distance", () => {
  it("given a known route, sums its legs: 1 + 1.5 + 1.5 km along a meridian is 4 km", () => {
    const verdicts = [fix(0, 0), fix(1, 60), fix(2.5, 120), fix(4, 180)].reduce<FixVerdict[]>(
      (all, f) => {
        const previous = all.at(-1);
        const state = previous?.ok ? previous.state : emptyTrack();
        return [...all, applyFix(state, f, DROPOFF, NOW)];
      },
      [],
    );
    const segments = verdicts.map((v) => accepted(v).segment_km);
    expect(segments[0]).toEqual(0);
    expect(segments[1]).toBeCloseTo(1, 9);
    expect(segments[2]).toBeCloseTo(1.5, 9);
    expect(segments[3]).toBeCloseTo(1.5, 9);
    expect(accepted(verdicts[3]).state.total_distance_km).toBeCloseTo(4, 9);
  });

  it("given a route with turns, is the sum of the great-circle legs, not the straight line", () => {
    const monas = { lat: -6.1754, lng: 106.8272 };
    const sarinah = { lat: -6.1877, lng: 106.8238 };
    const grandIndonesia = { lat: -6.1951, lng: 106.8198 };
    const bundaranHi = { lat: -6.1951, lng: 106.8231 };
    const route = [monas, sarinah, grandIndonesia, bundaranHi];
    const { state } = run(route.map((p, i) => ({ ...p, recorded_at: at(i * 120) })));
    const legs =
      distanceKm(monas, sarinah) +
      distanceKm(sarinah, grandIndonesia) +
      distanceKm(grandIndonesia, bundaranHi);
    expect(state.total_distance_km).toBeCloseTo(legs, 9);
    expect(state.total_distance_km).toBeGreaterThan(distanceKm(monas, bundaranHi) + 0.1);
  });

  it("given a move within the jitter, adds nothing and reports a zero segment", () => {
    const verdict = run([fix(0, 0), fix(1, 60), fix(1.004, 70)]);
    expect(verdict.segment_km).toEqual(0);
    expect(verdict.state.total_distance_km).toBeCloseTo(1, 9);
  });

  it("given a slow walker whose every step is jitter, still counts the walk", () => {
    // 4 m every 3 s (4.8 km/h) for 40 m: counted each time it is more than 5 m from where it
    // was last counted, so at 8, 16, 24, 32 and 40 m.
    const steps = Array.from({ length: 11 }, (_, i) => fix(i * 0.004, i * 3));
    expect(run(steps).state.total_distance_km).toBeCloseTo(0.04, 9);
    expect(run(steps.slice(0, 10)).state.total_distance_km).toBeCloseTo(0.032, 9);
  });

  it("given no jitter allowance, counts every move", () => {
    const policy = { ...DEFAULT_TRACKING_POLICY, jitterKm: 0 };
    expect(run([fix(0, 0), fix(0.001, 1)], policy).state.total_distance_km).toBeCloseTo(0.001, 9);
  });

  it("given a stored state without an anchor, measures from the last fix", () => {
    const stored: TrackState = {
      last: { ...north(1), recorded_at: at(0) },
      total_distance_km: 3,
      smoothed_speed_kmh: null,
    };
    expect(run([fix(2, 60)], DEFAULT_TRACKING_POLICY, stored).state.total_distance_km).toBeCloseTo(
      4,
      9,
    );
  });
});

describe("applyFix: speed", () => {
  it("given no previous fix and no reported speed, has no speed yet", () => {
    const verdict = run([fix(0, 0)]);
    expect(verdict.speed_kmh).toEqual(0);
    expect(verdict.state.smoothed_speed_kmh).toBeNull();
  });

  it("given a reported speed on the first fix, takes it as the smoothed speed", () => {
    const verdict = run([fix(0, 0, { speed_kmh: 25 })]);
    expect(verdict.speed_kmh).toEqual(25);
    expect(verdict.state.smoothed_speed_kmh).toEqual(25);
  });

  it("given no reported speed, samples the implied one: 1 km in a minute is 60 km/h", () => {
    const verdict = run([fix(0, 0), fix(1, 60)]);
    expect(verdict.speed_kmh).toBeCloseTo(60, 9);
    expect(verdict.state.smoothed_speed_kmh).toBeCloseTo(60, 9);
  });

  it("prefers the reported speed to the implied one", () => {
    expect(run([fix(0, 0), fix(1, 60, { speed_kmh: 30 })]).speed_kmh).toEqual(30);
  });

  it("smooths: newest sample × smoothing + previous × (1 − smoothing)", () => {
    const fixes = [10, 20, 40].map((speed, i) => fix(i, i * 60, { speed_kmh: speed }));
    expect(run(fixes.slice(0, 2)).state.smoothed_speed_kmh).toBeCloseTo(0.3 * 20 + 0.7 * 10, 9);
    expect(run(fixes).state.smoothed_speed_kmh).toBeCloseTo(0.3 * 40 + 0.7 * 13, 9);
    const newestOnly = { ...DEFAULT_TRACKING_POLICY, smoothing: 1 };
    expect(run(fixes, newestOnly).state.smoothed_speed_kmh).toEqual(40);
  });

  it("given jitter and no reported speed, samples 0: the runner is standing", () => {
    const verdict = run([fix(0, 0, { speed_kmh: 10 }), fix(0.003, 1)]);
    expect(verdict.speed_kmh).toEqual(0);
    expect(verdict.state.smoothed_speed_kmh).toBeCloseTo(7, 9);
  });
});

describe("etaSeconds", () => {
  const tenKm = north(0);

  it("given a measured speed, is the remaining distance over it: 10 km at 40 km/h is 900 s", () => {
    expect(etaSeconds(tenKm, DROPOFF, 40)).toEqual(900);
  });

  it("given no speed, uses the fallback: 10 km at 20 km/h is 1800 s", () => {
    expect(etaSeconds(tenKm, DROPOFF, null)).toEqual(1800);
    const policy = { ...DEFAULT_TRACKING_POLICY, fallbackSpeedKmh: 30 };
    expect(etaSeconds(tenKm, DROPOFF, null, policy)).toEqual(1200);
  });

  it.each([0, 0.5, 0.999, -5, NaN])(
    "given a standing runner's speed %p, uses the fallback",
    (speed) => {
      expect(etaSeconds(tenKm, DROPOFF, speed)).toEqual(1800);
    },
  );

  it("given 1 km/h exactly, takes it: 10 km is 36,000 s", () => {
    expect(etaSeconds(tenKm, DROPOFF, 1)).toEqual(36_000);
  });

  it("at the drop-off, or within GPS jitter of it, is 0", () => {
    expect(etaSeconds(DROPOFF, DROPOFF, 40)).toEqual(0);
    expect(etaSeconds(north(9.996), DROPOFF, null)).toEqual(0);
  });

  it("rounds up to whole seconds, so that only arrival shows 0", () => {
    // 6 m at 20 km/h is 1.08 s; 1.001 km at 40 km/h is 90.09 s.
    expect(etaSeconds(north(9.994), DROPOFF, null)).toEqual(2);
    expect(etaSeconds(north(10 - 1.001), DROPOFF, 40)).toEqual(91);
  });

  it("given a drop-off that is not a point, throws rather than returning NaN", () => {
    expect(() => etaSeconds(tenKm, { lat: NaN, lng: 0 }, 40)).toThrow(RangeError);
  });

  it("in a verdict, uses the new smoothed speed, or the fallback before there is one", () => {
    expect(run([fix(0, 0)]).eta_seconds).toEqual(1800);
    // 9 km left; smoothed 0.3 × 40 + 0.7 × 30 = 33 km/h.
    const verdict = run([fix(0, 0, { speed_kmh: 30 }), fix(1, 120, { speed_kmh: 40 })]);
    expect(verdict.eta_seconds).toEqual(Math.ceil((9 / 33) * 3600));
  });
});

describe("applyFix: state immutability", () => {
  const deepFreeze = (state: TrackState) => {
    if (state.last) Object.freeze(state.last);
    if (state.anchor) Object.freeze(state.anchor);
    return Object.freeze(state);
  };

  it("never changes the state it is given, and returns a new one", () => {
    const before = run([fix(0, 0, { speed_kmh: 10 }), fix(0.001, 10)]).state;
    const snapshot = structuredClone(before);
    const frozen = deepFreeze(before);
    const verdicts = [
      applyFix(frozen, fix(1, 60, { speed_kmh: 30 }), DROPOFF, NOW),
      applyFix(frozen, fix(0.002, 20), DROPOFF, NOW),
      applyFix(frozen, fix(9, 20), DROPOFF, NOW),
      applyFix(frozen, fix(0, 5), DROPOFF, NOW),
    ];
    expect(verdicts.map(reason)).toEqual([
      "accepted",
      "accepted",
      "impossible_speed",
      "out_of_order",
    ]);
    expect(frozen).toEqual(snapshot);
    expect(accepted(verdicts[0]).state).not.toBe(frozen);
    expect(accepted(verdicts[0]).state.total_distance_km).toBeCloseTo(1, 9);
  });

  it("keeps its own copy of the time: changing the fix's Date later changes nothing", () => {
    const f = fix(0, 0);
    const { state } = run([f]);
    f.recorded_at.setTime(T0 + 1_000_000);
    expect(state.last?.recorded_at).toEqual(at(0));
    expect(state.anchor?.recorded_at).toEqual(at(0));
  });
});
