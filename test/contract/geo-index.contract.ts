import { distanceKm } from "../../domain/geo";
import {
  UnmappablePositionError,
  type GeoIndex,
  type LatLng,
  type NearbyRunner,
} from "../../adapters/geo-index";

const STALE_MS = 60_000;
const T0 = new Date("2025-03-01T08:00:00.000Z");
const ago = (ms: number) => new Date(T0.getTime() - ms);

/** Monas, central Jakarta. */
export const CENTER: LatLng = { lat: -6.1754, lng: 106.8272 };
const KM_PER_DEGREE = distanceKm(CENTER, { lat: CENTER.lat + 1, lng: CENTER.lng });

/**
 * The point `northKm` north and `eastKm` east of CENTER. Due north the haversine distance is
 * exactly `northKm`; otherwise tests take the expected distance from distanceKm.
 */
export function offset(northKm: number, eastKm = 0): LatLng {
  const cosLat = Math.cos((CENTER.lat * Math.PI) / 180);
  return {
    lat: CENTER.lat + northKm / KM_PER_DEGREE,
    lng: CENTER.lng + eastKm / (KM_PER_DEGREE * cosLat),
  };
}

/**
 * Redis GEO keeps 52-bit geohashes: a position comes back up to ~0.3 m off, so coordinates are
 * compared to 1e-5 degrees and distances to the metre.
 */
function expectAt(runner: NearbyRunner | undefined, position: LatLng): void {
  expect(runner).toBeDefined();
  expect(runner?.lat).toBeCloseTo(position.lat, 5);
  expect(runner?.lng).toBeCloseTo(position.lng, 5);
  expect(Math.abs((runner?.distanceKm ?? NaN) - distanceKm(CENTER, position))).toBeLessThan(0.001);
}

const ids = (runners: { runnerId: string }[]) => runners.map((runner) => runner.runnerId);

/**
 * The geo-index contract. Both adapters run exactly this suite, so dispatch finds the same
 * runners in embedded mode and against Redis. `fresh` returns an empty index no other test uses;
 * time is passed explicitly (`at`, `now`), never slept through.
 */
export function geoIndexContract(fresh: (staleAfterMs: number) => Promise<GeoIndex>): void {
  let index: GeoIndex;

  beforeEach(async () => {
    index = await fresh(STALE_MS);
  });

  afterEach(async () => {
    await index.close();
  });

  it("starts empty", async () => {
    expect(await index.size()).toBe(0);
    expect(await index.nearby(CENTER, 50, { now: T0 })).toEqual([]);
    expect(await index.get("nobody", T0)).toBeNull();
    expect(await index.pruneStale(T0)).toEqual([]);
  });

  it("returns runners nearest first, with their position, haversine distance and last report", async () => {
    const far = offset(2.5, 1.5);
    const near = offset(-0.4, 0.3);
    const middle = offset(0, -1.2);
    await index.upsert("runner-far", far, ago(5_000));
    await index.upsert("runner-near", near, ago(1_000));
    await index.upsert("runner-middle", middle, T0);

    const found = await index.nearby(CENTER, 5, { now: T0 });
    expect(ids(found)).toEqual(["runner-near", "runner-middle", "runner-far"]);
    expectAt(found[0], near);
    expectAt(found[1], middle);
    expectAt(found[2], far);
    expect(found.map((runner) => runner.at)).toEqual([ago(1_000), T0, ago(5_000)]);
  });

  it("measures the radius with the domain haversine, to the metre", async () => {
    await index.upsert("at-center", CENTER, T0);
    await index.upsert("just-inside", offset(4.999), T0);
    await index.upsert("just-outside", offset(5.001), T0);
    await index.upsert("across-town", offset(-12, 9), T0);

    expect(ids(await index.nearby(CENTER, 5, { now: T0 }))).toEqual(["at-center", "just-inside"]);
    expect(ids(await index.nearby(CENTER, 0.5, { now: T0 }))).toEqual(["at-center"]);
    expect(ids(await index.nearby(offset(-12, 9), 1, { now: T0 }))).toEqual(["across-town"]);
  });

  it("returns at most `limit` runners, 20 by default", async () => {
    for (let i = 1; i <= 25; i++) {
      await index.upsert(`runner-${String(i).padStart(2, "0")}`, offset(i * 0.1), T0);
    }
    const nearest = (n: number) =>
      Array.from({ length: n }, (_, i) => `runner-${String(i + 1).padStart(2, "0")}`);

    expect(ids(await index.nearby(CENTER, 10, { now: T0 }))).toEqual(nearest(20));
    expect(ids(await index.nearby(CENTER, 10, { now: T0, limit: 3 }))).toEqual(nearest(3));
    expect(ids(await index.nearby(CENTER, 10, { now: T0, limit: 100 }))).toEqual(nearest(25));
    expect(await index.nearby(CENTER, 10, { now: T0, limit: 0 })).toEqual([]);
  });

  it("applies the limit after leaving out stale runners", async () => {
    for (let i = 1; i <= 30; i++) {
      await index.upsert(`stale-${i}`, offset(i * 0.01), ago(STALE_MS + 1));
    }
    for (let i = 1; i <= 5; i++) await index.upsert(`fresh-${i}`, offset(1 + i * 0.1), T0);

    expect(ids(await index.nearby(CENTER, 5, { now: T0, limit: 3 }))).toEqual([
      "fresh-1",
      "fresh-2",
      "fresh-3",
    ]);
  });

  it("orders runners at the same distance by runnerId, also where the limit cuts", async () => {
    const spot = offset(1, 1);
    for (const id of ["runner-c", "runner-a", "runner-d", "runner-b"]) {
      await index.upsert(id, spot, T0);
    }
    await index.upsert("runner-0", offset(2, 2), T0);

    const all = await index.nearby(CENTER, 5, { now: T0 });
    expect(ids(all)).toEqual(["runner-a", "runner-b", "runner-c", "runner-d", "runner-0"]);
    expect(new Set(all.slice(0, 4).map((runner) => runner.distanceKm)).size).toBe(1);
    expect(ids(await index.nearby(CENTER, 5, { now: T0, limit: 2 }))).toEqual([
      "runner-a",
      "runner-b",
    ]);
  });

  it("moves a runner on upsert rather than adding a second one", async () => {
    await index.upsert("runner-1", offset(1), ago(10_000));
    await index.upsert("runner-1", offset(8), T0);

    expect(await index.size()).toBe(1);
    expect(await index.nearby(CENTER, 5, { now: T0 })).toEqual([]);
    const [moved] = await index.nearby(CENTER, 10, { now: T0 });
    expectAt(moved, offset(8));
    expect(moved.at).toEqual(T0);
    const got = await index.get("runner-1", T0);
    expect(got?.lat).toBeCloseTo(offset(8).lat, 5);
    expect(got?.at).toEqual(T0);
  });

  it("touch moves an indexed, fresh runner and leaves absent or stale ones out", async () => {
    await index.upsert("runner-1", offset(1), ago(10_000));
    expect(await index.touch("runner-1", offset(2), T0)).toBe(true);
    const [moved] = await index.nearby(CENTER, 10, { now: T0 });
    expectAt(moved, offset(2));
    expect(moved.at).toEqual(T0);

    expect(await index.touch("nobody", offset(1), T0)).toBe(false);
    expect(await index.size()).toBe(1);

    const muchLater = new Date(T0.getTime() + STALE_MS + 1);
    expect(await index.touch("runner-1", offset(3), muchLater)).toBe(false);
    expect((await index.get("runner-1", T0))?.at).toEqual(T0); // not moved
  });

  it("takes a runner out on remove, and removing an absent one is no error", async () => {
    await index.upsert("runner-1", offset(1), T0);
    await index.upsert("runner-2", offset(2), T0);

    await index.remove("runner-1");
    await index.remove("runner-1");
    await index.remove("nobody");

    expect(ids(await index.nearby(CENTER, 5, { now: T0 }))).toEqual(["runner-2"]);
    expect(await index.get("runner-1", T0)).toBeNull();
    expect(await index.size()).toBe(1);
  });

  it("gets one runner, or null when absent or stale", async () => {
    await index.upsert("runner-1", offset(1, 1), ago(STALE_MS));
    await index.upsert("runner-old", offset(2), ago(STALE_MS + 1));

    const runner = await index.get("runner-1", T0); // exactly staleAfterMs old: still fresh
    expect(runner).toEqual({
      runnerId: "runner-1",
      lat: expect.closeTo(offset(1, 1).lat, 5) as number,
      lng: expect.closeTo(offset(1, 1).lng, 5) as number,
      at: ago(STALE_MS),
    });
    expect(await index.get("runner-old", T0)).toBeNull();
    expect(await index.get("runner-old", ago(1))).not.toBeNull();
    expect(await index.get("nobody", T0)).toBeNull();
  });

  it("leaves stale runners out of nearby but counts them in size until pruned", async () => {
    await index.upsert("fresh", offset(1), T0);
    await index.upsert("edge", offset(2), ago(STALE_MS));
    await index.upsert("stale", offset(0.5), ago(STALE_MS + 1));

    expect(ids(await index.nearby(CENTER, 5, { now: T0 }))).toEqual(["fresh", "edge"]);
    expect(ids(await index.nearby(CENTER, 5, { now: ago(1) }))).toEqual(["stale", "fresh", "edge"]);
    expect(await index.size()).toBe(3);
  });

  it("prunes exactly the stale runners and returns their ids", async () => {
    await index.upsert("fresh", offset(1), T0);
    await index.upsert("edge", offset(2), ago(STALE_MS));
    await index.upsert("stale-1", offset(3), ago(STALE_MS + 1));
    await index.upsert("stale-2", offset(-3), ago(10 * STALE_MS));

    expect((await index.pruneStale(T0)).sort()).toEqual(["stale-1", "stale-2"]);
    expect(await index.size()).toBe(2);
    expect(await index.get("stale-1", ago(STALE_MS))).toBeNull(); // gone, not merely stale
    expect(await index.pruneStale(T0)).toEqual([]);
    expect(ids(await index.nearby(CENTER, 5, { now: T0 }))).toEqual(["fresh", "edge"]);
  });

  it("brings a runner back when it reports again after going stale", async () => {
    await index.upsert("runner-2", offset(2), ago(2 * STALE_MS));
    expect(await index.pruneStale(T0)).toEqual(["runner-2"]);
    await index.upsert("runner-1", offset(1), ago(2 * STALE_MS));
    expect(await index.nearby(CENTER, 5, { now: T0 })).toEqual([]);
    expect(await index.get("runner-1", T0)).toBeNull();

    await index.upsert("runner-1", offset(1.5), T0); // stale, not yet pruned
    await index.upsert("runner-2", offset(2.5), T0); // pruned
    const found = await index.nearby(CENTER, 5, { now: T0 });
    expect(ids(found)).toEqual(["runner-1", "runner-2"]);
    expectAt(found[0], offset(1.5));
    expect(found[0].at).toEqual(T0);
    expect(await index.get("runner-2", T0)).not.toBeNull();
    expect(await index.size()).toBe(2);
  });

  it("takes the current time when `at` and `now` are left out", async () => {
    const before = Date.now();
    await index.upsert("runner-1", offset(1));
    const after = Date.now();

    const [runner] = await index.nearby(CENTER, 5);
    expect(runner?.runnerId).toBe("runner-1");
    expect(runner.at.getTime()).toBeGreaterThanOrEqual(before);
    expect(runner.at.getTime()).toBeLessThanOrEqual(after);
    expect(await index.get("runner-1")).not.toBeNull();
    expect(await index.pruneStale()).toEqual([]);
  });

  it("refuses input Redis GEO cannot take, in both adapters", async () => {
    await expect(index.upsert("polar", { lat: 86, lng: 0 })).rejects.toThrow(RangeError);
    await expect(index.upsert("nan", { lat: NaN, lng: 106.8 })).rejects.toThrow(RangeError);
    await expect(index.upsert("lng", { lat: -6.2, lng: 181 })).rejects.toThrow(RangeError);
    await expect(index.upsert("date", CENTER, new Date(NaN))).rejects.toThrow(RangeError);
    await expect(index.nearby(CENTER, -1)).rejects.toThrow(RangeError);
    await expect(index.nearby(CENTER, 5, { limit: -1 })).rejects.toThrow(RangeError);
    await expect(index.nearby(CENTER, 5, { limit: 1.5 })).rejects.toThrow(RangeError);
    expect(await index.size()).toBe(0);
  });

  it("refuses a position it cannot hold with its own error, and anything else with a plain RangeError", async () => {
    const unmappable = new UnmappablePositionError("position out of range: 89.9,0");
    await expect(index.upsert("polar", { lat: 89.9, lng: 0 })).rejects.toEqual(unmappable);
    await expect(index.touch("polar", { lat: 89.9, lng: 0 })).rejects.toEqual(unmappable);
    await expect(index.nearby({ lat: 89.9, lng: 0 }, 5)).rejects.toEqual(unmappable);
    await expect(index.upsert("nan", { lat: NaN, lng: 0 })).rejects.toBeInstanceOf(
      UnmappablePositionError,
    );
    const refusals = await Promise.all(
      [index.upsert("date", CENTER, new Date(NaN)), index.nearby(CENTER, -1)].map((refused) =>
        refused.then(
          () => "accepted",
          (error: unknown) => [
            error instanceof RangeError,
            error instanceof UnmappablePositionError,
          ],
        ),
      ),
    );
    expect(refusals).toEqual([
      [true, false],
      [true, false],
    ]);
    expect(await index.size()).toBe(0);
  });
}
