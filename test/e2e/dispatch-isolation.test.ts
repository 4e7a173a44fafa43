import type { OfferEntity, RunnerEntity } from "../../contracts";
import type { LatLng } from "../../domain/geo";
import type { GeoIndex } from "../../adapters/geo-index";
import type { PeriodicTask } from "../../lib/periodic";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerThis } from "../../services/runner/models";
import { sweep } from "../../services/runner/sweep";
import { describeWithInfra } from "../support/infra";
import { verifiedOnce } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, searchingDispatch } from "../support/trips";
import { eventually } from "../support/wait";

const KM = 1 / 111.195; // degrees of latitude per km
const north = (point: LatLng, km: number) => ({ lat: point.lat + km * KM, lng: point.lng });
const MINUTE = 60_000;

/**
 * A bad record never stops other records (issue 19, finding 1): a booking whose dispatch can
 * never or cannot now succeed is recorded or skipped, and the sweep goes on to the bookings
 * behind it and to the stale runners. The bad records are put in the store directly, as an
 * older version of the API (which took latitudes up to ±90) or a fault would have left them.
 */
describeWithInfra(["mongo"], "one booking cannot stop dispatch for the others", (infra) => {
  let system: System;
  let runners: RunnerThis;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { LOCATION_RATE_LIMIT: "1000" },
    });
    runners = system.brokers[0].getLocalService("runner") as unknown as RunnerThis;
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** A verified runner goes online at `at`. */
  const online = async (token: string, at: LatLng) => {
    await verifiedOnce(system, token);
    return system.api<RunnerEntity>("POST", "/api/runners/me/online", { token, body: at });
  };
  const moveTo = async (token: string, at: LatLng) => {
    const fix = { ...at, timestamp: new Date().toISOString() };
    const moved = await system.api("POST", "/api/runners/me/location", { token, body: fix });
    expect(moved.status).toBe(202);
  };
  const offers = async (token: string) =>
    (await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", { token })).body
      .items;
  const dispatchOf = (bookingId: string) =>
    runners.models.dispatches.findById(bookingId).lean<DispatchDoc>();
  /** A searching booking's dispatch as the store would hold it, waiting since `since`. */
  const searching = (id: string, pickup: LatLng, since: Date) =>
    searchingDispatch(runners.models.dispatches, id, pickup, since);
  /** A held booking from `pickup` that found no runner in range: searching. */
  const waitingBooking = async (owner: string, pickup: LatLng) => {
    const { booking_id: id } = await heldBooking(system, system.token("owner", owner), {
      pickup,
      dropoff: north(pickup, 3),
    });
    await eventually(
      async () => ((await dispatchOf(id))?.status === "searching" ? id : undefined),
      {
        what: `the dispatch of ${id} searching`,
      },
    );
    return id;
  };

  it("given a paid booking at the pole ahead in the queue, a runner driving into range of another booking is offered it, and the polar one is recorded as failed", async () => {
    const pickup = { lat: -6.2, lng: 106.8 };
    const runner = system.token("runner", "iso-runner");
    expect((await online(runner, north(pickup, 10))).status).toBe(200); // out of the 6 km radius
    const id = await waitingBooking("iso-owner", pickup);
    // Older than the good booking: the sweep takes the longest-waiting first.
    await searching("polar-booking", { lat: 89.9, lng: 0 }, new Date(Date.now() - 10 * MINUTE));

    await moveTo(runner, north(pickup, 1));
    await eventually(
      async () => {
        await moveTo(runner, north(pickup, 1)); // still here: not stale
        return (await offers(runner)).some((offer) => offer.booking_id === id) ? true : undefined;
      },
      { what: "the offer to the runner who drove into range", timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect((await dispatchOf("polar-booking"))?.status).toEqual("failed");
  }, 60_000);

  it("given a booking whose search fails now, one sweep skips it, offers the next booking and still prunes stale runners", async () => {
    // This test drives the sweep itself, once.
    const tasks = (runners as unknown as { $periodic: PeriodicTask[] }).$periodic;
    await Promise.all(tasks.map((task) => task.stop()));

    const pickup = { lat: -6.4, lng: 106.95 };
    const runner = system.token("runner", "iso-runner-2");
    expect((await online(runner, north(pickup, 10))).status).toBe(200);
    const id = await waitingBooking("iso-owner-2", pickup);
    const long = new Date(Date.now() - MINUTE);
    await runners.models.dispatches.updateOne({ _id: id }, { $set: { updated_at: long } });
    const flakyPickup = { lat: -6.1, lng: 106.7 };
    await searching("flaky-booking", flakyPickup, new Date(Date.now() - 10 * MINUTE));
    await moveTo(runner, north(pickup, 1));

    // A runner that stopped reporting long ago.
    const stale = system.token("runner", "iso-stale");
    await online(stale, { lat: -6.3, lng: 106.6 });
    await runners.geo.upsert(
      "iso-stale",
      { lat: -6.3, lng: 106.6 },
      new Date(Date.now() - 10 * MINUTE),
    );

    // The index fails on the flaky booking's pickup (a lost connection, say).
    const real = runners.geo;
    const failing: GeoIndex["nearby"] = (center, radiusKm, options) =>
      center.lat === flakyPickup.lat && center.lng === flakyPickup.lng
        ? Promise.reject(new Error("connection reset"))
        : real.nearby(center, radiusKm, options);
    runners.geo = Object.assign(Object.create(real) as GeoIndex, { nearby: failing });
    runners.lastSearchRetry = 0;
    try {
      await sweep.call(runners);
    } finally {
      runners.geo = real;
    }

    expect((await offers(runner)).map((offer) => offer.booking_id)).toEqual([id]);
    const me = await system.api<RunnerEntity>("GET", "/api/runners/me", { token: stale });
    expect(me.body.availability).toEqual("offline");
    // Skipped, not given up on: a lost connection is no reason to stop searching for good.
    const flaky = await dispatchOf("flaky-booking");
    expect(flaky?.status).toEqual("searching");
    expect(flaky && flaky.updated_at.getTime()).toBeGreaterThan(Date.now() - MINUTE);
    const skipped = system.brokers[0].metrics
      .getMetric("kilat.runner.dispatch.skipped.total")
      ?.get({ step: "search" });
    expect(skipped?.value).toEqual(1);
  });
});
