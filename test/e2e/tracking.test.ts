import type { Model } from "mongoose";
import type { Socket } from "socket.io-client";
import type { DomainEvent } from "../../events/envelope";
import { waypointId, type WaypointDoc } from "../../models/track.model";
import { runtimeOf } from "../../lib/runtime";
import type { BookingEntity, OfferEntity, RunnerEntity, LiveFix } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { makeMove } from "../support/handover";
import { collect, connectSocket, request, walk } from "../support/live";
import { verifiedOnce } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

const KM = 1 / 111.195; // degrees of latitude per km
const north = (point: { lat: number; lng: number }, km: number) => ({
  lat: point.lat + km * KM,
  lng: point.lng,
});

interface Track {
  track_id: string;
  status: string;
  total_distance_km: number;
  eta_seconds: number | null;
  waypoint_count: number;
  waypoints: { lat: number; lng: number; speed_kmh: number | null; recorded_at: string }[];
}

/** Runners, dispatch and live tracking through REST and a real socket.io client, embedded. */
describeWithInfra(["mongo"], "runners, dispatch and live tracking, embedded", (infra) => {
  let system: System;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { OFFER_TIMEOUT: "1500ms", LOCATION_RATE_LIMIT: "1000" },
    });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await system?.stop();
  });

  const socketFor = async (token: string) => {
    const socket = await connectSocket(system.url, token);
    sockets.push(socket);
    return socket;
  };
  /** A verified runner goes online at `at`. */
  const online = async (token: string, at: { lat: number; lng: number }) => {
    await verifiedOnce(system, token);
    return system.api<RunnerEntity>("POST", "/api/runners/me/online", { token, body: at });
  };
  const offers = async (token: string) =>
    (await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", { token })).body
      .items;
  const offeredTo = (token: string, bookingId: string) =>
    eventually(
      async () =>
        (await offers(token)).some((offer) => offer.booking_id === bookingId) ? true : undefined,
      { what: `an offer of ${bookingId}`, timeoutMs: 10000 },
    );
  /** A booking from `pickup`, paid (simulated escrow held). */
  const heldBookingFrom = async (owner: string, pickup: { lat: number; lng: number }) =>
    (
      await heldBooking(system, owner, {
        pet_type: "cat",
        pet_name: "Mochi",
        pickup,
        dropoff: north(pickup, 3),
      })
    ).booking_id;
  /** `kilat_tracking_fixes_total{result}` from /metrics (embedded: one process has them all). */
  const fixCount = async (result: string) => {
    const metrics = (
      await system.api<string>("GET", "/metrics", { token: system.token("admin", "metrics") })
    ).body;
    const line = metrics
      .split("\n")
      .find(
        (candidate) =>
          candidate.startsWith("kilat_tracking_fixes_total{") &&
          candidate.includes(`result="${result}"`),
      );
    return line ? Number(line.split(" ").pop()) : 0;
  };
  const published = async (type: string) =>
    (await runtimeOf(system.brokers[0]).bus.readTopic("runner.events"))
      .map((record) => JSON.parse(record.value) as DomainEvent)
      .filter((event) => event.type === type);

  it("offers a paid booking to the nearest runner, then the next on timeout and on decline", async () => {
    const pickup = { lat: -6.9, lng: 107.6 }; // its own city: no other test's runners around
    const near = system.token("runner", "disp-near");
    const mid = system.token("runner", "disp-mid");
    const far = system.token("runner", "disp-far");
    expect((await online(near, north(pickup, 0.5))).body.availability).toBe("online");
    await online(mid, north(pickup, 2));
    await online(far, north(pickup, 10)); // outside DISPATCH_RADIUS_KM (6)
    const owner = system.token("owner", "disp-owner");

    const id = await heldBookingFrom(owner, pickup);
    await offeredTo(near, id);
    expect(await offers(mid)).toEqual([]);
    // The offer's event goes out of the dispatch record's outbox right after the write.
    await eventually(
      async () =>
        (await published("runner.assigned")).some(
          (event) =>
            (event.data as { runner_id: string; booking_id: string }).runner_id === "disp-near" &&
            (event.data as { booking_id: string }).booking_id === id,
        )
          ? true
          : undefined,
      { what: "runner.assigned for disp-near" },
    );

    // disp-near lets it time out (1.5 s): it moves to the next nearest.
    await offeredTo(mid, id);
    expect(await offers(near)).toEqual([]);

    // disp-mid declines; disp-far is out of range, and disp-near had its turn.
    const declined = await system.api("POST", `/api/bookings/${id}/decline`, { token: mid });
    expect(declined.status).toBe(200);
    const again = await system.api("POST", `/api/bookings/${id}/decline`, { token: mid });
    expect(again.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([await offers(near), await offers(mid), await offers(far)]).toEqual([[], [], []]);

    // A runner coming online nearby gets it.
    const late = system.token("runner", "disp-late");
    await online(late, north(pickup, 1));
    await offeredTo(late, id);

    const accepted = await system.api<BookingEntity>("POST", `/api/bookings/${id}/accept`, {
      token: late,
    });
    expect([accepted.status, accepted.body.runner_id]).toEqual([200, "disp-late"]);
    await eventually(
      async () =>
        (await system.api<RunnerEntity>("GET", "/api/runners/me", { token: late })).body
          .availability === "busy"
          ? true
          : undefined,
      { what: "the runner busy" },
    );
    expect(await offers(late)).toEqual([]);

    const admin = system.token("admin", "disp-admin");
    const nearby = await system.api<{ items: { runner_id: string; distance_km: number }[] }>(
      "GET",
      `/api/runners/nearby?lat=${pickup.lat}&lng=${pickup.lng}&radius_km=6`,
      { token: admin },
    );
    expect(nearby.body.items.map((runner) => runner.runner_id)).toEqual([
      "disp-near",
      "disp-late",
      "disp-mid",
    ]);
    expect(nearby.body.items[0].distance_km).toBeCloseTo(0.5, 2);
    const forbidden = await system.api("GET", `/api/runners/nearby?lat=0&lng=0`, { token: near });
    expect(forbidden.status).toBe(403);
  });

  it("streams a trip to its owner: every accepted fix in order, bad fixes dropped, totals kept", async () => {
    const pickup = { lat: -7.25, lng: 112.75 };
    const owner = system.token("owner", "trip-owner");
    const stranger = system.token("owner", "trip-stranger");
    const runnerToken = system.token("runner", "trip-runner");
    await online(runnerToken, pickup);
    const id = await heldBookingFrom(owner, pickup);
    expect(
      (await system.api("POST", `/api/bookings/${id}/accept`, { token: runnerToken })).status,
    ).toBe(200);

    const watcher = await socketFor(owner);
    const updates = collect<LiveFix>(watcher, "track:update");
    const statuses = collect<{ booking_id: string; status: string }>(watcher, "booking:status");
    await eventually(
      async () =>
        (await request(watcher, "track:subscribe", { booking_id: id })).ok ? true : undefined,
      { what: "the track to exist" },
    );
    const intruder = await socketFor(stranger);
    const refused = await request(intruder, "track:subscribe", { booking_id: id });
    expect([refused.ok, refused.error?.code]).toEqual([false, 404]);
    const intruderUpdates = collect<LiveFix>(intruder, "track:update");

    // Fixes count once the trip has started (booking.accepted consumed): wait for it.
    await trackStarted(system, owner, id);
    await makeMove(system, id, "pickup", { runner: runnerToken, owner });
    const runner = await socketFor(runnerToken);
    const route = walk(pickup, 12, 0.008); // 8 m a second, 28.8 km/h
    for (const fix of route) {
      const ack = await request(runner, "location", { ...fix, booking_id: id });
      expect(ack).toEqual(expect.objectContaining({ ok: true, accepted: true }));
    }
    // Duplicate, out of order, and a teleport 5 km away one second later: all dropped.
    const last = route[route.length - 1];
    await request(runner, "location", { ...last, booking_id: id });
    await request(runner, "location", { ...route[3], booking_id: id });
    await request(runner, "location", {
      ...north(pickup, 5),
      timestamp: new Date(Date.parse(last.timestamp) + 1000).toISOString(),
      booking_id: id,
    });
    const bad = await request(runner, "location", { lat: 200, lng: 0, timestamp: last.timestamp });
    expect(bad.ok).toBe(false);
    expect(bad.error?.code).toBe(422);

    await eventually(() => (updates.length >= route.length ? true : undefined), {
      what: "every fix on the watcher",
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a wrong extra push
    expect(updates.map((update) => update.recorded_at)).toEqual(route.map((fix) => fix.timestamp));
    const distances = updates.map((update) => update.total_distance_km);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
    expect(distances[distances.length - 1]).toBeCloseTo(0.088, 2);
    expect(updates[updates.length - 1].eta_seconds).toBeGreaterThan(0);
    expect(intruderUpdates).toEqual([]);
    expect(statuses).toContainEqual({ booking_id: id, status: "picked_up" });

    const track = await eventually(async () => {
      const response = await system.api<Track>("GET", `/api/bookings/${id}/track`, {
        token: owner,
      });
      return response.body.waypoint_count === route.length ? response.body : undefined;
    });
    expect(track.status).toBe("active");
    expect(track.waypoints.map((point) => point.recorded_at)).toEqual(
      route.map((fix) => fix.timestamp),
    );
    expect(track.total_distance_km).toBeCloseTo(0.088, 2);
    const notHis = await system.api("GET", `/api/bookings/${id}/track`, { token: stranger });
    expect(notHis.status).toBe(404);

    // A replayed runner.location_update (at-least-once delivery) adds no second waypoint:
    // while the track is in memory the filter drops it (older than the last fix)…
    const bus = runtimeOf(system.brokers[0]).bus;
    const records = await bus.readTopic("runner.events");
    const replay = records.filter((record) => record.value.includes(route[5].timestamp));
    expect(replay).toHaveLength(1);
    const outOfOrder = await fixCount("out_of_order");
    await bus.publishWire("runner.events", replay);
    await eventually(
      async () => ((await fixCount("out_of_order")) > outOfOrder ? true : undefined),
      {
        what: "the replay judged",
      },
    );
    expect(updates).toHaveLength(route.length);
    // …and after a restart (the cache forgotten, the track reloaded from an older checkpoint)
    // the filter takes it again, but its waypoint id is taken: still one waypoint per fix.
    const accepted = await fixCount("accepted");
    await system.brokers[0].broadcast("tracking.forget", { booking_id: id });
    await bus.publishWire("runner.events", replay);
    await eventually(async () => ((await fixCount("accepted")) > accepted ? true : undefined), {
      what: "the replay judged after a reload",
    });
    const after = await system.api<Track>("GET", `/api/bookings/${id}/track`, { token: owner });
    expect(after.body.waypoint_count).toBe(route.length);
    expect(after.body.total_distance_km).toBeCloseTo(0.088, 2);
    // A fix stored under the ids of before (`<track>:<time>`) and stored again under today's
    // after a crash across the upgrade is listed once.
    const waypoints = (
      system.brokers[0].getLocalService("tracking") as unknown as {
        models: { waypoints: Model<WaypointDoc> };
      }
    ).models.waypoints;
    const stored = await waypoints
      .findOne({ _id: waypointId(`trk-${id}`, new Date(route[5].timestamp)) })
      .lean<WaypointDoc>();
    expect(stored).not.toBeNull();
    const legacy = `trk-${id}:${Date.parse(route[5].timestamp)}`;
    await waypoints.collection.insertOne({ ...stored!, _id: legacy } as never);
    const listed = await system.api<Track>("GET", `/api/bookings/${id}/track`, { token: owner });
    expect(listed.body.waypoints.map((point) => point.recorded_at)).toEqual(
      route.map((fix) => fix.timestamp),
    );
    await waypoints.deleteOne({ _id: legacy });

    // Delivered and confirmed: the track closes with its distance.
    await system.api("POST", `/api/bookings/${id}/depart`, { token: runnerToken });
    await makeMove(system, id, "deliver", { runner: runnerToken, owner });
    await system.api("POST", `/api/bookings/${id}/confirm`, { token: owner });
    const closed = await eventually(async () => {
      const response = await system.api<Track>("GET", `/api/bookings/${id}/track`, {
        token: owner,
      });
      return response.body.status === "completed" ? response.body : undefined;
    });
    expect(closed.total_distance_km).toBeCloseTo(0.088, 2);
    const completed = await eventually(async () => {
      const events = (await bus.readTopic("tracking.events"))
        .map((record) => JSON.parse(record.value) as DomainEvent)
        .filter((event) => event.type === "tracking.completed" && event.subject === id);
      return events.length > 0 ? events : undefined;
    });
    expect(completed.map((event) => event.data)).toEqual([
      expect.objectContaining({
        owner_id: "trip-owner",
        total_distance_km: closed.total_distance_km,
      }),
    ]);
    expect(statuses.map((status) => status.status)).toEqual(
      expect.arrayContaining(["in_transit", "delivered", "confirmed"]),
    );

    // The tracking service keeps no processed-events record: its booking handlers are writes
    // guarded on the track's status. The trip's booking events delivered again change nothing
    // and publish nothing; a later trip's events show the consumer went past them.
    const tripEvents = (await bus.readTopic("booking.events")).filter((record) =>
      record.value.includes(id),
    );
    expect(tripEvents.length).toBeGreaterThanOrEqual(5);
    const trackingEvents = async () =>
      (await bus.readTopic("tracking.events")).map(
        (record) => JSON.parse(record.value) as DomainEvent,
      );
    const seen = new Set((await trackingEvents()).map((event) => event.id));
    await bus.publishWire("booking.events", tripEvents);
    const laterOwner = system.token("owner", "trip-owner-2");
    const laterRunner = system.token("runner", "trip-runner-2");
    await online(laterRunner, pickup);
    const later = await heldBookingFrom(laterOwner, pickup);
    await system.api("POST", `/api/bookings/${later}/accept`, { token: laterRunner });
    await trackStarted(system, laterOwner, later);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const trackingAfter = (await trackingEvents()).filter(
      (event) => !seen.has(event.id) && event.subject === id,
    );
    expect(trackingAfter).toEqual([]);
    const replayed = await system.api<Track>("GET", `/api/bookings/${id}/track`, { token: owner });
    expect([replayed.body.status, replayed.body.waypoint_count]).toEqual([
      "completed",
      route.length,
    ]);
  });

  it("judges a fix that names no booking against the trip's live track, not its older checkpoint", async () => {
    const pickup = { lat: -7.3, lng: 112.7 };
    const owner = system.token("owner", "unnamed-fix-owner");
    const runnerToken = system.token("runner", "unnamed-fix-runner");
    await online(runnerToken, pickup);
    const id = await heldBookingFrom(owner, pickup);
    expect(
      (await system.api("POST", `/api/bookings/${id}/accept`, { token: runnerToken })).status,
    ).toBe(200);
    await trackStarted(system, owner, id);
    const runner = await socketFor(runnerToken);
    const route = walk(pickup, 4, 0.008);
    for (const fix of route.slice(0, 2)) {
      await request(runner, "location", { ...fix, booking_id: id });
    }
    // No booking named, far away and older than the last fix: judged against the live track,
    // it is out of order and dropped; it must not reset what the trip's later fixes are judged by.
    await request(runner, "location", {
      lat: 51.5,
      lng: -0.12,
      timestamp: new Date(Date.parse(route[1].timestamp) - 3000).toISOString(),
    });
    for (const fix of route.slice(2)) {
      await request(runner, "location", { ...fix, booking_id: id });
    }
    const track = await eventually(async () => {
      const response = await system.api<Track>("GET", `/api/bookings/${id}/track`, {
        token: owner,
      });
      return response.body.waypoint_count >= route.length ? response.body : undefined;
    });
    expect(track.waypoints.map((point) => point.recorded_at)).toEqual(
      route.map((fix) => fix.timestamp),
    );
  });

  it("tells admins who goes online and offline; others may not listen", async () => {
    const admin = await socketFor(system.token("admin", "dash-admin"));
    expect(await request(admin, "runners:subscribe")).toEqual({ ok: true });
    const onlines = collect<{ runner_id: string; lat: number }>(admin, "runner:online");
    const offlines = collect<{ runner_id: string }>(admin, "runner:offline");
    const owner = await socketFor(system.token("owner", "dash-owner"));
    expect((await request(owner, "runners:subscribe")).ok).toBe(false);

    const runner = system.token("runner", "dash-runner");
    await online(runner, { lat: 1.3, lng: 103.8 });
    await eventually(
      () => (onlines.some((change) => change.runner_id === "dash-runner") ? true : undefined),
      { what: "runner:online" },
    );
    const list = await system.api<{ items: RunnerEntity[] }>("GET", "/api/runners/online", {
      token: system.token("admin", "dash-admin"),
    });
    expect(
      list.body.items.find((item) => item.runner_id === "dash-runner")?.position?.lat,
    ).toBeCloseTo(1.3, 5);
    expect((await system.api("POST", "/api/runners/me/offline", { token: runner })).status).toBe(
      200,
    );
    await eventually(
      () => (offlines.some((change) => change.runner_id === "dash-runner") ? true : undefined),
      { what: "runner:offline" },
    );
    const refused = await system.api("POST", "/api/runners/me/location", {
      token: runner,
      body: { lat: 1.3, lng: 103.8, timestamp: new Date().toISOString() },
    });
    expect(refused.status).toBe(409);
  });
});

/** The per-runner rate limit: excess fixes are dropped with 429 and counted, never queued. */
describeWithInfra(["mongo"], "location rate limit", (infra) => {
  let system: System;
  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { LOCATION_RATE_LIMIT: "2" },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("lets 2 a second through and answers 429 to the rest", async () => {
    const runner = system.token("runner", "rate-runner");
    await system.api("POST", "/api/runners/me/online", { token: runner, body: { lat: 0, lng: 0 } });
    // Ten fixes recorded at one moment: the limit counts fixes by the time they were recorded.
    const recorded = new Date().toISOString();
    const fixes = walk({ lat: 0, lng: 0 }, 10).map((fix) => ({ ...fix, timestamp: recorded }));
    const statuses = await Promise.all(
      fixes.map(
        async (fix) =>
          (await system.api("POST", "/api/runners/me/location", { token: runner, body: fix }))
            .status,
      ),
    );
    expect(statuses.filter((status) => status === 202)).toHaveLength(2);
    expect(statuses.filter((status) => status === 429)).toHaveLength(8);
    const metrics = await system.api<string>("GET", "/metrics", {
      token: system.token("admin", "metrics"),
    });
    expect(metrics.body).toMatch(/^kilat_runner_location_dropped_total\{.*reason="rate".*\} 8$/m);
  });
});
