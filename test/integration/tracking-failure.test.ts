import type { Config } from "../../lib/config";
import type { EventBus } from "../../adapters/event-bus";
import { createRuntime } from "../../lib/runtime";
import type { LiveFix } from "../../contracts";
import { FlakyPublishBus } from "../support/flaky-bus";
import { describeWithInfra } from "../support/infra";
import { collect, connectSocket, request, walk } from "../support/live";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

/** The tracking process's bus: its first `failures` publishes to tracking.events fail. */
class FailingTrackingPublishes extends FlakyPublishBus {
  failures = 0;

  constructor(real: EventBus) {
    super(real);
  }

  override publish(...args: Parameters<EventBus["publish"]>) {
    if (args[0] === "tracking.events" && this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error("KafkaJSConnectionError: Connection refused"));
    }
    return super.publish(...args);
  }
}

/**
 * The fix path when its batch write fails: the write is tried again until it is stored, and the
 * offsets wait for it, so no fix is lost or counted twice.
 */
describeWithInfra(["kafka", "mongo", "redis"], "tracking when a batch fails", (infra) => {
  let system: System;
  let trackingBus: FailingTrackingPublishes | undefined;

  beforeAll(async () => {
    system = await startSystem({
      infra: { kafka: infra.kafka, mongo: infra.mongo, redis: infra.redis },
      processes: [["api", "booking", "payment", "notification", "runner"], ["tracking"]],
      env: { LOCATION_RATE_LIMIT: "1000" },
      busFor: (services, config: Config) => {
        if (!services.includes("tracking")) return undefined;
        trackingBus = new FailingTrackingPublishes(createRuntime(config).bus);
        return trackingBus;
      },
    });
  }, 60000);
  afterAll(async () => {
    await system?.stop();
    await trackingBus?.close();
  });

  it("stores every fix once, with the right distance, after tracking.updated could not be published", async () => {
    const pickup = { lat: -8.65, lng: 115.2 };
    const owner = system.token("owner", "fail-owner");
    const runnerToken = system.token("runner", "fail-runner");
    await verifiedRunner(system, runnerToken);
    await system.api("POST", "/api/runners/me/online", { token: runnerToken, body: pickup });
    const { booking_id: id } = await heldBooking(system, owner, {
      pet_type: "bird",
      pet_name: "Kiwi",
      pickup,
      dropoff: { lat: -8.7, lng: 115.2 },
    });
    expect(
      (await system.api("POST", `/api/bookings/${id}/accept`, { token: runnerToken })).status,
    ).toBe(200);
    await trackStarted(system, owner, id);
    const watcher = await connectSocket(system.url, owner);
    const updates = collect<LiveFix>(watcher, "track:update");
    expect((await request(watcher, "track:subscribe", { booking_id: id })).ok).toBe(true);

    trackingBus!.failures = 2;
    const runner = await connectSocket(system.url, runnerToken);
    const route = walk(pickup, 10, 0.01);
    for (const fix of route) {
      expect((await request(runner, "location", { ...fix, booking_id: id })).ok).toBe(true);
    }

    const track = await eventually(async () => {
      const response = await system.api<{ waypoint_count: number; total_distance_km: number }>(
        "GET",
        `/api/bookings/${id}/track`,
        { token: owner },
      );
      return response.body.waypoint_count === route.length ? response.body : undefined;
    });
    expect(track.total_distance_km).toBeCloseTo(0.09, 2);
    const stamps = new Set(updates.map((update) => update.recorded_at));
    expect([...stamps].sort()).toEqual(route.map((fix) => fix.timestamp));
    // tracking.updated: one per fix (the waypoints may be stored before the retried produce),
    // the ones written twice under the same id.
    const { bus } = createRuntime(system.config);
    const ids = await eventually(async () => {
      const published = (await bus.readTopic("tracking.events"))
        .map((record) => JSON.parse(record.value) as { id: string; type: string; subject: string })
        .filter((event) => event.type === "tracking.updated" && event.subject === id);
      const distinct = new Set(published.map((event) => event.id));
      return distinct.size >= route.length ? distinct : undefined;
    });
    expect(ids.size).toBe(route.length);
    expect(trackingBus!.failures).toBe(0); // the failures did happen (before the last try)
    await bus.close();
    runner.close();
    watcher.close();
  });
});
