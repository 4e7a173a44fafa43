import type { Socket } from "socket.io-client";
import type { FixResult } from "../../contracts";
import type { DomainEvent } from "../../events/envelope";
import { runtimeOf } from "../../lib/runtime";
import { describeWithInfra } from "../support/infra";
import { connectSocket, request } from "../support/live";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { acceptedAgo, heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

const KM = 1 / 111.195; // degrees of latitude per km
const pickup = { lat: -6.3, lng: 106.9 };

/** `count` fixes walking north `stepKm` apart, `everyMs` apart, the last `endAgoMs` ago. */
function stretch(count: number, stepKm: number, everyMs: number, endAgoMs = 0) {
  const end = Date.now() - endAgoMs;
  return Array.from({ length: count }, (_, i) => ({
    lat: pickup.lat + i * stepKm * KM,
    lng: pickup.lng,
    timestamp: new Date(end - (count - 1 - i) * everyMs).toISOString(),
  }));
}

/** Buffered fixes: what a runner's phone recorded without coverage, uploaded at once. */
describeWithInfra(["mongo"], "buffered fixes, embedded", (infra) => {
  let system: System;
  const sockets: Socket[] = [];
  // The default limit: 5 fixes a second, counted by the time each fix was recorded. Arrivals:
  // a full batch (500) at once, then one fix per 100 s, so a flood's refusals are certain.
  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { LOCATION_ARRIVALS_PER_SEC: "0.01" },
    });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await system?.stop();
  });

  /**
   * A runner on an accepted trip, in transit (accepted `acceptedMsAgo` ago, as far as its fixes
   * go: by default longer than any stretch below); its token and the booking.
   */
  async function onTheRoad(name: string, acceptedMsAgo = 10 * 60_000) {
    const owner = system.token("owner", `owner-${name}`);
    const runner = system.token("runner", `runner-${name}`);
    await verifiedRunner(system, runner);
    await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
    const { booking_id } = await heldBooking(system, owner, {
      pickup,
      dropoff: { lat: -6.35, lng: 106.9 },
    });
    for (const step of ["accept", "pickup", "depart"]) {
      expect((await makeMove(system, booking_id, step, { runner, owner })).status).toBe(200);
    }
    await trackStarted(system, owner, booking_id);
    if (acceptedMsAgo > 0) await acceptedAgo(system, `runner-${name}`, acceptedMsAgo);
    return { owner, runner, booking_id };
  }

  const distanceOf = async (owner: string, bookingId: string, fixes: number) =>
    eventually(
      async () => {
        const track = await system.api<{ waypoint_count: number; total_distance_km: number }>(
          "GET",
          `/api/bookings/${bookingId}/track`,
          { token: owner },
        );
        return track.body.waypoint_count === fixes ? track.body.total_distance_km : undefined;
        // 500 fixes are stored behind the answer, in batches: room for a loaded CI machine.
      },
      { timeoutMs: 60_000, what: `${fixes} waypoints stored` },
    );

  it("counts the full distance of a 5-minute offline stretch uploaded at once", async () => {
    const { owner, runner, booking_id } = await onTheRoad("offline");
    // 11 fixes over 5 minutes, 200 m apart (24 km/h), sent in one request.
    const fixes = stretch(11, 0.2, 30_000).map((fix) => ({ ...fix, booking_id }));
    const upload = await system.api<{ results: FixResult[] }>("POST", "/api/runners/me/locations", {
      token: runner,
      body: { fixes },
    });
    expect(upload.status).toBe(200);
    expect(upload.body.results.map((result) => result.ok)).toEqual(fixes.map(() => true));
    expect(await distanceOf(owner, booking_id, 11)).toBeCloseTo(2.0, 2);
  });

  it("takes a full REST batch of 500 fixes with every field filled (over 64 kB, under its 128 kB)", async () => {
    const { owner, runner, booking_id } = await onTheRoad("full-batch", 60 * 60_000);
    // 500 fixes a second apart, 5 m apart (18 km/h): within the recorded-time limit of 5 a second.
    const fixes = stretch(500, 0.005, 1_000).map((fix) => ({
      ...fix,
      lat: fix.lat + 1e-13,
      lng: fix.lng + 1e-13,
      booking_id,
      speed_kmh: 18.123456789012,
      heading_degrees: 359.123456789012,
    }));
    const body = { fixes };
    expect(JSON.stringify(body).length).toBeGreaterThan(64 * 1024);
    const upload = await system.api<{ results: FixResult[] }>("POST", "/api/runners/me/locations", {
      token: runner,
      body,
    });
    expect(upload.status).toBe(200);
    expect(upload.body.results.filter((result) => result.ok)).toHaveLength(500);
    expect(await distanceOf(owner, booking_id, 500)).toBeCloseTo(499 * 0.005, 1);
  });

  it("refuses a future fix alone, with its reason; the others of its batch count", async () => {
    const { owner, runner, booking_id } = await onTheRoad("future");
    const fixes = stretch(3, 0.1, 10_000, 60_000).map((fix) => ({ ...fix, booking_id }));
    const future = { ...fixes[1], timestamp: new Date(Date.now() + 10 * 60_000).toISOString() };
    const upload = await system.api<{ results: FixResult[] }>("POST", "/api/runners/me/locations", {
      token: runner,
      body: { fixes: [fixes[0], future, fixes[2]] },
    });
    expect(upload.body.results).toEqual([
      { ok: true, event_id: expect.any(String) as string },
      {
        ok: false,
        error: {
          name: "MoleculerClientError",
          message: "Invalid request: timestamp: recorded in the future",
          code: 422,
          type: "VALIDATION_ERROR",
          data: [
            {
              field: "timestamp",
              message: "more than the allowed clock skew ahead of the server",
              type: "future",
            },
          ],
        },
      },
      { ok: true, event_id: expect.any(String) as string },
    ]);
    // The two kept, 200 m apart (the refused one is not a waypoint).
    expect(await distanceOf(owner, booking_id, 2)).toBeCloseTo(0.2, 2);
  });

  it("judges a socket batch by the same rules, and still limits fixes recorded too close", async () => {
    const { runner, booking_id } = await onTheRoad("socket");
    const socket = await connectSocket(system.url, runner);
    sockets.push(socket);
    // Ten fixes recorded at one moment: five pass (a second's worth), the rest are over the limit.
    const fixes = stretch(10, 0.001, 0, 5_000).map((fix) => ({ ...fix, booking_id }));
    const ack = await request(socket, "locations", { fixes });
    expect(ack.ok).toBe(true);
    const results = ack.results as { ok: boolean; error?: { code: number } }[];
    expect(results.map((r) => (r.ok ? 202 : r.error?.code))).toEqual([
      202, 202, 202, 202, 202, 429, 429, 429, 429, 429,
    ]);
    const tooMany = await request(socket, "locations", {
      fixes: Array.from({ length: 501 }, () => fixes[0]),
    });
    expect([tooMany.ok, tooMany.error?.code]).toEqual([false, 422]);
  });

  const staleError = (message: string) => ({
    name: "MoleculerClientError",
    message: `Invalid request: timestamp: ${message}`,
    code: 422,
    type: "VALIDATION_ERROR",
    data: [{ field: "timestamp", message, type: "stale" }],
  });
  const TOO_OLD = "recorded longer ago than FIX_MAX_AGE, naming no booking the runner is on";
  const BEFORE_ACCEPTANCE = "recorded before the booking it names was accepted";
  const ARRIVING = {
    name: "MoleculerClientError",
    message: "Too many location updates arriving at once; send the rest later",
    code: 429,
    type: "RATE_LIMITED",
  };

  it("refuses 2,000 fixes dated 2001 sent in four batches within a second: stale, then too many; none published", async () => {
    const runner = system.token("runner", "runner-2001");
    await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
    const dated2001 = (batch: number) =>
      Array.from({ length: 500 }, (_, i) => ({
        ...pickup,
        timestamp: new Date(Date.UTC(2001, 0, 1) + (batch * 500 + i) * 1000).toISOString(),
      }));
    const answers: FixResult[][] = [];
    for (let batch = 0; batch < 4; batch++) {
      const upload = await system.api<{ results: FixResult[] }>(
        "POST",
        "/api/runners/me/locations",
        { token: runner, body: { fixes: dated2001(batch) } },
      );
      expect(upload.status).toBe(200);
      answers.push(upload.body.results);
    }
    // The first batch arrives within the burst: each fix is refused for its age, alone.
    expect(answers[0]).toEqual(dated2001(0).map(() => ({ ok: false, error: staleError(TOO_OLD) })));
    // The rest arrive beyond the runner's arrival limit, whatever times they claim.
    expect(answers.slice(1).flat()).toEqual(
      Array.from({ length: 1500 }, () => ({ ok: false, error: ARRIVING })),
    );
    const fresh = { ...pickup, timestamp: new Date().toISOString() };
    const single = await system.api<{ type: string; message: string }>(
      "POST",
      "/api/runners/me/location",
      { token: runner, body: fresh },
    );
    expect([single.status, single.body.type, single.body.message]).toEqual([
      429,
      "RATE_LIMITED",
      ARRIVING.message,
    ]);
    const published = (await runtimeOf(system.brokers[0]).bus.readTopic("runner.events"))
      .map((record) => JSON.parse(record.value) as DomainEvent)
      .filter(
        (event) =>
          event.type === "runner.location_update" &&
          (event.data as { runner_id: string }).runner_id === "runner-2001",
      );
    expect(published).toEqual([]);

    // One such fix alone, over the single-fix route: 422 with its reason.
    const other = system.token("runner", "runner-2001-single");
    await system.api("POST", "/api/runners/me/online", { token: other, body: pickup });
    const old = await system.api("POST", "/api/runners/me/location", {
      token: other,
      body: dated2001(0)[0],
    });
    expect([old.status, old.body]).toEqual([422, staleError(TOO_OLD)]);
  });

  it("refuses fixes recorded before the booking they name was accepted; the others of the batch count", async () => {
    const { owner, runner, booking_id } = await onTheRoad("before-acceptance", 0);
    const [before, after] = [
      { ...pickup, booking_id, timestamp: new Date(Date.now() - 5 * 60_000).toISOString() },
      { ...pickup, booking_id, timestamp: new Date().toISOString() },
    ];
    const single = await system.api("POST", "/api/runners/me/location", {
      token: runner,
      body: before,
    });
    expect([single.status, single.body]).toEqual([422, staleError(BEFORE_ACCEPTANCE)]);
    const upload = await system.api<{ results: FixResult[] }>("POST", "/api/runners/me/locations", {
      token: runner,
      body: { fixes: [before, after] },
    });
    expect(upload.body.results).toEqual([
      { ok: false, error: staleError(BEFORE_ACCEPTANCE) },
      { ok: true, event_id: expect.any(String) as string },
    ]);
    expect(await distanceOf(owner, booking_id, 1)).toEqual(0);
  });

  it("accepts a batch only from a runner, over REST and the socket", async () => {
    const owner = system.token("owner", "owner-not-runner");
    const body = { fixes: stretch(1, 0, 0) };
    expect(
      (await system.api("POST", "/api/runners/me/locations", { token: owner, body })).status,
    ).toBe(403);
    const socket = await connectSocket(system.url, owner);
    sockets.push(socket);
    const ack = await request(socket, "locations", body);
    expect([ack.ok, ack.error?.code]).toEqual([false, 403]);
  });
});
