import { runtimeOf } from "../../lib/runtime";
import { makeMove } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";
import { north, sleep, welfareApi, welfareEnv, welfareEventsIn } from "../support/welfare";

/** The limits the test runs with: a stand-still of 4.8 s, a silence of 3 s, a radius of 10 m. */
const STOP_MS = 4800;
const SILENT_MS = 3000;
const FIX_EVERY_MS = 300;

/**
 * The welfare watch through the public API, embedded: a runner standing still with the pet
 * aboard, or silent, raises `tracking.stopped` once; the owner hears of it, the operations page
 * lists it, the trip page shows it; moving on, being heard from or the delivery clears it.
 */
describeWithInfra(["mongo"], "welfare alerts, embedded", (infra) => {
  let system: System;
  let api: ReturnType<typeof welfareApi>;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: welfareEnv({ stopMs: STOP_MS, silentMs: SILENT_MS, radiusM: 10 }),
    });
    api = welfareApi(system);
  });
  afterAll(async () => {
    await system?.stop();
  });

  const bus = () => runtimeOf(system.brokers[0]).bus;
  /** The welfare events published for a booking, in order. */
  const welfareEvents = async (bookingId: string) =>
    welfareEventsIn(await bus().readTopic("tracking.events"), bookingId);

  it("raises a stationary alert once, lists it, tells the owner, and clears it when the runner moves on", async () => {
    const pickup = { lat: -6.95, lng: 107.55 };
    const trip = await api.petAboard("still", pickup);
    // The runner stays within a few metres (GPS jitter, well inside the 10 m radius).
    let i = 0;
    let position = () => north(pickup, [0, 3, -3, 2][i++ % 4]);
    const stop = api.keepSending(trip.runner, trip.id, () => position(), FIX_EVERY_MS);
    try {
      const open = await eventually(
        async () => (await api.alerts()).open.find((alert) => alert.booking_id === trip.id),
        { what: "the stationary alert on the operations page", timeoutMs: 20_000 },
      );
      expect(open).toEqual({
        booking_id: trip.id,
        booking_number: trip.number,
        runner_id: "still-runner",
        owner_id: "still-owner",
        pet_name: "Rex",
        reason: "stationary",
        since: expect.any(String) as string,
        raised_at: expect.any(String) as string,
        position: { lat: expect.any(Number) as number, lng: expect.any(Number) as number },
        last_position: {
          lat: expect.any(Number) as number,
          lng: expect.any(Number) as number,
          recorded_at: expect.any(String) as string,
        },
      });
      expect(Date.parse(open.raised_at) - Date.parse(open.since)).toBeGreaterThan(STOP_MS);
      expect(await api.welfareOf(trip.id, trip.owner)).toEqual({
        reason: "stationary",
        since: open.since,
        raised_at: open.raised_at,
        position: open.position,
      });
      await eventually(
        async () =>
          (await api.notesOf(trip.owner, trip.id)).includes("tracking.stopped") ? true : undefined,
        { what: "the owner's welfare notification" },
      );
      const ops = await system.api("GET", "/api/ops/welfare-alerts", { token: trip.owner });
      expect(ops.status).toBe(403);

      // A restart (the cached track forgotten) and a replayed pickup raise nothing more.
      await system.brokers[0].broadcast("tracking.forget", { booking_id: trip.id });
      const pickedUp = (await bus().readTopic("booking.events")).filter(
        (record) =>
          record.value.includes('"booking.pet_picked_up"') && record.value.includes(trip.id),
      );
      expect(pickedUp).toHaveLength(1);
      await bus().publishWire("booking.events", pickedUp);
      await sleep(STOP_MS + 1000);
      expect(await welfareEvents(trip.id)).toEqual([
        { type: "tracking.stopped", reason: "stationary" },
      ]);

      // The handover's position, as the booking service asks for it.
      const at = await system.brokers[0].call<
        { lat: number; recorded_at: string } | null,
        { booking_id: string; at: string }
      >("tracking.positionAt", { booking_id: trip.id, at: new Date().toISOString() });
      expect(at?.lat).toBeCloseTo(pickup.lat, 4);
      const before = await system.brokers[0].call("tracking.positionAt", {
        booking_id: trip.id,
        at: "2000-01-01T00:00:00Z",
      });
      expect(before).toBeNull();

      // It drives off, 15 m a fix: beyond the radius the alert clears.
      let metres = 0;
      position = () => north(pickup, (metres += 4.5));
      await eventually(
        async () => ((await welfareEvents(trip.id)).length === 2 ? true : undefined),
        { what: "tracking.resumed", timeoutMs: 10_000 },
      );
      // Still moving (a silence now would be an alert of its own) while the rest is checked.
      expect(await welfareEvents(trip.id)).toEqual([
        { type: "tracking.stopped", reason: "stationary" },
        { type: "tracking.resumed", reason: "stationary" },
      ]);
      const after = await api.alerts();
      expect(after.open.filter((alert) => alert.booking_id === trip.id)).toEqual([]);
      expect(after.cleared.filter((alert) => alert.booking_id === trip.id)).toEqual([
        expect.objectContaining({
          reason: "stationary",
          cleared_by: "moved",
          cleared_at: expect.any(String) as string,
        }),
      ]);
      expect(await api.welfareOf(trip.id, trip.owner)).toBeNull();
      await eventually(
        async () =>
          (await api.notesOf(trip.owner, trip.id)).includes("tracking.resumed") ? true : undefined,
        { what: "the owner told the runner moves again" },
      );
      // Told once of the one alert.
      const notes = await api.notesOf(trip.owner, trip.id);
      expect(notes.filter((type) => type === "tracking.stopped")).toHaveLength(1);
    } finally {
      await stop();
    }
  });

  it("raises a silent alert when the fixes stop, clears it on the next fix, and at the delivery", async () => {
    const pickup = { lat: -7.05, lng: 110.4 };
    const trip = await api.petAboard("quiet", pickup);
    // No fix since the pickup: silent.
    const open = await eventually(
      async () => (await api.alerts()).open.find((alert) => alert.booking_id === trip.id),
      { what: "the silent alert", timeoutMs: 20_000 },
    );
    expect([open.reason, open.position]).toEqual(["silent", null]);
    expect((await api.welfareOf(trip.id, trip.owner))?.reason).toBe("silent");

    // Heard from again: cleared.
    await api.sendFix(trip.runner, trip.id, pickup);
    await eventually(
      async () => ((await api.welfareOf(trip.id, trip.owner)) === null ? true : undefined),
      { what: "the silent alert cleared" },
    );
    // Silent again, then the pet is delivered: the open alert clears with the delivery.
    await eventually(async () => ((await welfareEvents(trip.id)).length === 3 ? true : undefined), {
      what: "a second silent alert",
      timeoutMs: 20_000,
    });
    expect((await makeMove(system, trip.id, "depart", trip)).status).toBe(200);
    expect((await makeMove(system, trip.id, "deliver", trip)).status).toBe(200);
    await eventually(async () => ((await welfareEvents(trip.id)).length === 4 ? true : undefined), {
      what: "the alert cleared by the delivery",
    });
    // Nothing after the delivery, however long the runner is silent.
    await sleep(SILENT_MS + 1000);
    expect(await welfareEvents(trip.id)).toEqual([
      { type: "tracking.stopped", reason: "silent" },
      { type: "tracking.resumed", reason: "silent" },
      { type: "tracking.stopped", reason: "silent" },
      { type: "tracking.resumed", reason: "silent" },
    ]);
    const { open: still, cleared } = await api.alerts();
    expect(still.filter((alert) => alert.booking_id === trip.id)).toEqual([]);
    expect(
      cleared.filter((alert) => alert.booking_id === trip.id).map((alert) => alert.cleared_by),
    ).toEqual(["delivered", "heard"]);
  });

  it("refuses a position asked with a time that is not one", async () => {
    await expect(
      system.brokers[0].call("tracking.positionAt", { booking_id: "b1", at: "yesterday" }),
    ).rejects.toMatchObject({ code: 422 });
    expect(
      await system.brokers[0].call("tracking.positionAt", {
        booking_id: "no-such-booking",
        at: new Date().toISOString(),
      }),
    ).toBeNull();
  });
});
