import type { BookingEntity, OfferEntity } from "../../contracts";
import type { GeoIndex } from "../../adapters/geo-index";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerThis } from "../../services/runner/models";
import { tryDispatch } from "../../services/runner/offer-round";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, searchingDispatch } from "../support/trips";
import { eventually } from "../support/wait";

/**
 * What the runner service asks the database per booking and per runner (FerretDB is the busiest
 * process at load): nothing it knows already is read again, nothing written that changes nothing,
 * and one booking is not tried by two dispatchers of one instance at once. Each part of town is
 * its own, so no other test's runner or booking is near.
 */
describeWithInfra(["mongo"], "the runner service's database commands, embedded", (infra) => {
  let system: System;
  let runners: RunnerThis;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    runners = system.brokers[0].getLocalService("runner") as unknown as RunnerThis;
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await system?.stop();
  });

  /** How many calls `spy` gets from now on whose filter names the document `id`. */
  const from = (spy: jest.SpyInstance) => {
    const start = spy.mock.calls.length;
    return (id: string) =>
      spy.mock.calls.slice(start).filter(([filter]) => (filter as { _id?: unknown })._id === id)
        .length;
  };
  const reads = (collection: "runners" | "dispatches") =>
    from(jest.spyOn(runners.models[collection].collection, "findOne"));
  const writes = (collection: "runners" | "dispatches") =>
    from(jest.spyOn(runners.models[collection].collection, "findOneAndUpdate"));
  const online = (token: string, at: { lat: number; lng: number }) =>
    system.api("POST", "/api/runners/me/online", { token, body: at });
  /** A runner verified (so offered bookings), then online at `at`. */
  const verifiedOnline = async (token: string, at: { lat: number; lng: number }) => {
    await verifiedRunner(system, token);
    return online(token, at);
  };

  it("given a runner new to Kilat, when it goes online, then its document is read once", async () => {
    const runnerReads = reads("runners");
    const response = await online(system.token("runner", "runner-first-day"), {
      lat: -6.05,
      lng: 106.95,
    });
    expect([response.status, runnerReads("runner-first-day")]).toEqual([200, 1]);
  });

  it("given a paid booking with no runner near, then its dispatch is written (created, ready) and never read", async () => {
    const pickup = { lat: -6.45, lng: 106.62 };
    const owner = system.token("owner", "owner-far-south");
    const dispatchReads = reads("dispatches");
    const dispatchWrites = writes("dispatches");
    const booking = await heldBooking(system, owner, {
      pickup,
      dropoff: { lat: -6.46, lng: 106.63 },
    });
    // Through the driver, past the spies.
    const stored = runners.models.dispatches.db.db!.collection<DispatchDoc>("dispatches");
    const dispatch = () => stored.findOne({ _id: booking.booking_id });
    await eventually(async () => ((await dispatch())?.status === "searching" ? true : undefined), {
      what: "the dispatch searching",
    });
    // Its requeue (no one near) comes right after the write that made it searching: no write.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { booking_id } = booking;
    expect([dispatchReads(booking_id), dispatchWrites(booking_id)]).toEqual([0, 1]);
  });

  it("given three tries of one booking at once, then one looks for runners and offers it, and the others share one more try after it", async () => {
    const pickup = { lat: -6.1, lng: 106.6 };
    const token = system.token("runner", "runner-west");
    expect((await verifiedOnline(token, pickup)).status).toBe(200);
    // What its going online set off (a look for bookings near) is over before the booking is in.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = new Date();
    await searchingDispatch(runners.models.dispatches, "booking-tried-thrice", pickup, now);
    const real = runners.geo.nearby.bind(runners.geo);
    const looked: GeoIndex["nearby"][] = [];
    const nearby: GeoIndex["nearby"] = (point, radiusKm, options) => {
      if (point.lat === pickup.lat && point.lng === pickup.lng) looked.push(nearby);
      return real(point, radiusKm, options);
    };
    const spy = jest.spyOn(runners.geo, "nearby").mockImplementation(nearby);
    try {
      const offered = await Promise.all(
        [1, 2, 3].map(() => tryDispatch(runners, "booking-tried-thrice")),
      );
      expect([offered, looked.length]).toEqual([["runner-west", null, null], 1]);
    } finally {
      spy.mockRestore();
    }
    const offers = await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", {
      token,
    });
    expect(offers.body.items.map((offer) => offer.booking_id)).toEqual(["booking-tried-thrice"]);
  });

  it("given runners near a paid booking, then dispatch reads them by _id, nearest first, never with a query over the collection", async () => {
    const pickup = { lat: -6.3, lng: 106.55 };
    // The nearest is taken (on a booking elsewhere); the next one is free.
    const taken = system.token("runner", "runner-south-west-taken");
    const free = system.token("runner", "runner-south-west-free");
    expect((await verifiedOnline(taken, pickup)).status).toBe(200);
    expect((await verifiedOnline(free, { lat: -6.301, lng: 106.55 })).status).toBe(200);
    await runners.models.runners.collection.updateOne({ _id: "runner-south-west-taken" } as never, {
      $set: { active_booking_id: "booking-elsewhere", availability: "busy" },
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // what going online set off is over
    const scans = [runners.models, runners.$background.models].map((models) =>
      jest.spyOn(models.runners.collection, "find"),
    );
    const lookups = [runners.models, runners.$background.models].map((models) =>
      from(jest.spyOn(models.runners.collection, "findOne")),
    );
    const booking = await heldBooking(system, system.token("owner", "owner-south-west"), {
      pickup,
      dropoff: { lat: -6.31, lng: 106.56 },
    });
    // Through the driver, past the spies.
    const stored = runners.models.dispatches.db.db!.collection<DispatchDoc>("dispatches");
    const offered = await eventually(async () => {
      const dispatch = await stored.findOne({ _id: booking.booking_id });
      return dispatch?.status === "offered" ? dispatch : undefined;
    });
    expect(offered.runner_id).toEqual("runner-south-west-free");
    // Reads by _id are what dispatch should do; the periodic sweep's look for orphaned offers may
    // run meanwhile and is not the dispatch. Anything else is a query over the collection (the
    // filters are in the failure message).
    const overCollection = scans
      .flatMap((spy) => spy.mock.calls.map(([filter]) => filter ?? {}))
      .filter((filter) => !("_id" in filter) && !("offer.expires_at" in filter));
    expect(overCollection).toEqual([]);
    const byId = (id: string) => lookups.reduce((sum, count) => sum + count(id), 0);
    expect([byId("runner-south-west-taken"), byId("runner-south-west-free")]).toEqual([1, 1]);
  });

  it("given a runner this instance last wrote, when it goes offline, then it is not read again, and an offer made meanwhile elsewhere moves on", async () => {
    const spot = { lat: -6.3, lng: 107.05 };
    const token = system.token("runner", "runner-east");
    expect((await online(token, spot)).status).toBe(200);
    // Another instance offers it a booking: this one did not see that write.
    const at = new Date();
    await runners.models.dispatches.create({
      _id: "booking-offered-elsewhere",
      pickup: spot,
      escrow_held: true,
      status: "offered",
      runner_id: "runner-east",
      offer_expires_at: new Date(at.getTime() + 30_000),
      tried: ["runner-east"],
      created_at: at,
      updated_at: at,
    });
    await runners.models.runners.updateOne(
      { _id: "runner-east" },
      {
        $set: {
          offer: {
            booking_id: "booking-offered-elsewhere",
            pickup: spot,
            offered_at: at,
            expires_at: new Date(at.getTime() + 30_000),
          },
        },
      },
    );
    const runnerReads = reads("runners");
    const offline = await system.api("POST", "/api/runners/me/offline", { token });
    const readGoingOffline = runnerReads("runner-east");
    const dispatch = await runners.models.dispatches
      .findById("booking-offered-elsewhere")
      .lean<DispatchDoc>();
    const offers = await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", {
      token,
    });
    expect([
      offline.status,
      readGoingOffline,
      dispatch?.status,
      dispatch?.runner_id,
      offers.body.items,
    ]).toEqual([200, 0, "searching", null, []]);
  });

  it("given a runner on a booking, when it asks to go offline, then 409 naming the booking, as before", async () => {
    const pickup = { lat: -6.15, lng: 107.0 };
    const token = system.token("runner", "runner-busy-east");
    expect((await verifiedOnline(token, pickup)).status).toBe(200);
    const booking: BookingEntity = await heldBooking(system, system.token("owner", "owner-east"), {
      pickup,
      dropoff: { lat: -6.16, lng: 107.01 },
    });
    const accepted = await system.api("POST", `/api/bookings/${booking.booking_id}/accept`, {
      token,
      body: {},
    });
    expect(accepted.status).toBe(200);
    const offline = await system.api<{ type: string; data: unknown }>(
      "POST",
      "/api/runners/me/offline",
      { token },
    );
    expect([offline.status, offline.body.type, offline.body.data]).toEqual([
      409,
      "CONFLICT",
      { active_booking_id: booking.booking_id },
    ]);
  });
});
