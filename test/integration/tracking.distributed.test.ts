import type { Socket } from "socket.io-client";
import type { OfferEntity, LiveFix } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { collect, connectSocket, request, walk, type Ack } from "../support/live";
import { createRuntime } from "../../lib/runtime";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { acceptedAgo, heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

const KM = 1 / 111.195;
const north = (point: { lat: number; lng: number }, km: number) => ({
  lat: point.lat + km * KM,
  lng: point.lng,
});

/**
 * Two gateways sharing rooms through the Redis streams adapter, runner and tracking services in
 * their own processes, Kafka between them, FerretDB under them: the wiring of the live channel.
 */
describeWithInfra(
  ["kafka", "mongo", "redis"],
  "live tracking across two gateways, distributed",
  (infra) => {
    let system: System;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      system = await startSystem({
        infra: { kafka: infra.kafka, mongo: infra.mongo, redis: infra.redis },
        processes: [
          ["api"],
          ["api"],
          ["booking", "payment", "notification"],
          ["runner"],
          ["tracking"],
        ],
        env: { OFFER_TIMEOUT: "2s", LOCATION_RATE_LIMIT: "1000" },
      });
    }, 60000);
    afterAll(async () => {
      sockets.forEach((socket) => socket.close());
      await system?.stop();
    });

    const socketAt = async (url: string, token: string) => {
      const socket = await connectSocket(url, token);
      sockets.push(socket);
      return socket;
    };
    const offers = async (token: string) =>
      (await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", { token })).body
        .items;
    const heldBookingFrom = async (owner: string, pickup: { lat: number; lng: number }) =>
      (
        await heldBooking(system, owner, {
          pet_name: "Bruno",
          pickup,
          dropoff: north(pickup, 4),
        })
      ).booking_id;

    it("runs two gateways", () => {
      expect(system.gatewayUrls).toHaveLength(2);
      expect(system.gatewayUrls[0]).not.toEqual(system.gatewayUrls[1]);
    });

    it("offers the nearest runner over Kafka, then the next when the offer times out", async () => {
      const pickup = { lat: -6.9, lng: 107.6 };
      const near = system.token("runner", "kd-near");
      const next = system.token("runner", "kd-next");
      await Promise.all([verifiedRunner(system, near), verifiedRunner(system, next)]);
      await system.api("POST", "/api/runners/me/online", { token: near, body: north(pickup, 1) });
      await system.api("POST", "/api/runners/me/online", { token: next, body: north(pickup, 3) });
      const id = await heldBookingFrom(system.token("owner", "kd-owner"), pickup);

      await eventually(
        async () => ((await offers(near)).some((o) => o.booking_id === id) ? true : undefined),
        { what: "the nearest runner's offer" },
      );
      expect(await offers(next)).toEqual([]);
      await eventually(
        async () => ((await offers(next)).some((o) => o.booking_id === id) ? true : undefined),
        { what: "the offer moving on after OFFER_TIMEOUT" },
      );
      expect(await offers(near)).toEqual([]);
    });

    it("delivers every fix sent through one gateway to a watcher on the other, in order", async () => {
      const pickup = { lat: -7.8, lng: 110.37 };
      const owner = system.token("owner", "kt-owner");
      const runnerToken = system.token("runner", "kt-runner");
      const admin = await socketAt(system.gatewayUrls[1], system.token("admin", "kt-admin"));
      expect(await request(admin, "runners:subscribe")).toEqual({ ok: true });
      const onlines = collect<{ runner_id: string }>(admin, "runner:online");

      await verifiedRunner(system, runnerToken);
      await system.api("POST", "/api/runners/me/online", { token: runnerToken, body: pickup });
      await eventually(
        () => (onlines.some((change) => change.runner_id === "kt-runner") ? true : undefined),
        { what: "runner:online on the other gateway" },
      );
      const id = await heldBookingFrom(owner, pickup);
      const accepted = await system.api("POST", `/api/bookings/${id}/accept`, {
        token: runnerToken,
      });
      expect(accepted.status).toBe(200);

      const watcher = await socketAt(system.gatewayUrls[1], owner);
      const updates = collect<LiveFix>(watcher, "track:update");
      await eventually(
        async () =>
          (await request(watcher, "track:subscribe", { booking_id: id })).ok ? true : undefined,
        { what: "the track to start" },
      );
      await trackStarted(system, owner, id);
      // The route's fixes span the 19 s before now: a trip that old, however long Kafka took.
      await acceptedAgo(system, "kt-runner", 60_000);
      const runner = await socketAt(system.gatewayUrls[0], runnerToken);
      const route = walk(pickup, 20, 0.01);
      // A fix crosses the transporter as JSON, in a batch with whatever else the gateway got
      // in that turn: one without a body (the ack in its place) fails alone, not its batch.
      const [empty, first] = await Promise.all([
        runner.timeout(5000).emitWithAck("location") as Promise<Ack>,
        request(runner, "location", { ...route[0], booking_id: id }),
      ]);
      expect([empty.ok, empty.error?.code, first.ok]).toEqual([false, 422, true]);
      for (const fix of route.slice(1)) {
        expect((await request(runner, "location", { ...fix, booking_id: id })).ok).toBe(true);
      }

      await eventually(() => (updates.length >= route.length ? true : undefined), {
        what: "20 fixes on the other gateway",
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(updates.map((update) => update.recorded_at)).toEqual(
        route.map((fix) => fix.timestamp),
      );

      // A record Kafka delivers again, to a tracking service that forgot the track (as after
      // a restart): its waypoint id is taken, so no second waypoint.
      const { bus } = createRuntime(system.config); // the same cluster and topic prefix
      const records = await bus.readTopic("runner.events");
      const replay = records.filter((record) => record.value.includes(route[7].timestamp));
      expect(replay).toHaveLength(1);
      await system.brokers[0].broadcast("tracking.forget", { booking_id: id });
      await bus.publishWire("runner.events", replay);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const track = await system.api<{ waypoint_count: number; total_distance_km: number }>(
        "GET",
        `/api/bookings/${id}/track`,
        { token: owner },
      );
      expect(track.body.waypoint_count).toBe(route.length);
      expect(track.body.total_distance_km).toBeCloseTo(0.19, 2);
      // The reloaded track took the fix again: watchers may see it twice (at least once).
      expect(updates.length).toBeGreaterThanOrEqual(route.length);
      await bus.close();

      // Over Kafka, the notification service told the owner about the steps so far, once each.
      const inbox = await eventually(async () => {
        const response = await system.api<{ items: { event_type: string }[] }>(
          "GET",
          "/api/notifications?limit=50",
          { token: owner },
        );
        const types = response.body.items.map((item) => item.event_type).sort();
        return types.length >= 4 ? types : undefined;
      });
      expect(inbox).toEqual([
        "booking.accepted",
        "booking.requested",
        "payment.escrow_held",
        "tracking.started",
      ]);
    });

    it("pushes an owner's notifications and a booking's moves once, from the gateway the socket is on", async () => {
      const pickup = { lat: -6.6, lng: 107.1 };
      const owner = system.token("owner", "kd-push-owner");
      const runner = system.token("runner", "kd-push-runner");
      // The owner's app is on the second gateway; every REST call below goes to the first.
      const app = await socketAt(system.gatewayUrls[1], owner);
      const notified = collect<{ id: string; event_type: string; booking_id: string }>(
        app,
        "notification",
      );
      const moves = collect<{ booking_id: string; status: string }>(app, "booking:status");
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const id = await heldBookingFrom(owner, pickup);
      expect((await request(app, "track:subscribe", { booking_id: id })).ok).toBe(true);
      const accepted = await system.api("POST", `/api/bookings/${id}/accept`, { token: runner });
      expect(accepted.status).toBe(200);
      await eventually(
        () =>
          notified.some((n) => n.booking_id === id && n.event_type === "booking.accepted") &&
          moves.some((move) => move.booking_id === id && move.status === "accepted")
            ? true
            : undefined,
        { what: "the acceptance pushed to the owner's socket" },
      );
      // A fence instead of a sleep: the pickup travels the booking's partition after the
      // acceptance, so a second push of the acceptance would be here before the pickup's.
      const picked = await makeMove(system, id, "pickup", { runner, owner });
      expect(picked.status).toBe(200);
      await eventually(
        () =>
          notified.some((n) => n.booking_id === id && n.event_type === "booking.pet_picked_up") &&
          moves.some((move) => move.booking_id === id && move.status === "picked_up")
            ? true
            : undefined,
        { what: "the pickup pushed to the owner's socket" },
      );
      const ids = notified.filter((n) => n.booking_id === id).map((n) => n.id);
      expect(ids.length).toBeGreaterThanOrEqual(4); // requested, escrow held, accepted, picked up
      expect(new Set(ids).size).toBe(ids.length);
      expect(moves.filter((move) => move.booking_id === id)).toEqual([
        { booking_id: id, status: "accepted" },
        { booking_id: id, status: "picked_up" },
      ]);
    });

    it("counts a runner's buffered batch, sent over a socket to one gateway, in the tracking process", async () => {
      const pickup = { lat: -6.7, lng: 107.3 };
      const owner = system.token("owner", "kd-buffer-owner");
      const runner = system.token("runner", "kd-buffer-runner");
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const id = await heldBookingFrom(owner, pickup);
      for (const step of ["accept", "pickup", "depart"]) {
        const moved = await makeMove(system, id, step, { runner, owner });
        expect(moved.status).toBe(200);
      }
      await trackStarted(system, owner, id);
      await acceptedAgo(system, "kd-buffer-runner", 10 * 60_000);
      // Four minutes without coverage: 9 fixes, 30 s and 150 m apart (18 km/h).
      const end = Date.now();
      const fixes = Array.from({ length: 9 }, (_, i) => ({
        ...north(pickup, i * 0.15),
        timestamp: new Date(end - (8 - i) * 30_000).toISOString(),
        booking_id: id,
      }));
      const socket = await socketAt(system.gatewayUrls[1], runner);
      const ack = await request(socket, "locations", { fixes });
      expect((ack.results as Ack[]).map((result) => result.ok)).toEqual(fixes.map(() => true));
      const distance = await eventually(
        async () => {
          const track = await system.api<{ waypoint_count: number; total_distance_km: number }>(
            "GET",
            `/api/bookings/${id}/track`,
            { token: owner },
          );
          return track.body.waypoint_count === fixes.length
            ? track.body.total_distance_km
            : undefined;
        },
        { what: "the batch's waypoints" },
      );
      expect(distance).toBeCloseTo(1.2, 2);
    });
  },
);
