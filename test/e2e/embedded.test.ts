import { io, type Socket } from "socket.io-client";
import { signToken } from "../../lib/auth";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

interface Booking {
  booking_id: string;
  booking_number: string;
  status: string;
  estimated_price_cents: number;
  currency: string;
}
interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const newBooking = (name: string) => ({
  pet_type: "dog",
  pet_name: name,
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
});

/** One process, in-process event bus, no transporter: how `npm start` runs (MongoDB from infra here). */
describeWithInfra(["mongo"], "embedded mode through the public REST and Socket.IO API", (infra) => {
  let system: System;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await system?.stop();
  });

  const connect = (token: unknown) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = io(system.url, {
        auth: { token },
        transports: ["websocket"],
        reconnection: false,
      });
      sockets.push(socket);
      socket.on("connect", () => resolve(socket));
      socket.on("connect_error", reject);
    });

  it("answers /health, /ready and /metrics", async () => {
    const health = await system.api<{ status: string }>("GET", "/health");
    expect([health.status, health.body.status]).toEqual([200, "ok"]);
    const ready = await system.api<{ status: string; checks: Record<string, { ok: boolean }> }>(
      "GET",
      "/ready",
    );
    expect(ready.status).toEqual(200);
    expect(Object.keys(ready.body.checks).sort()).toEqual(["event_bus", "mongodb"]);
    const metrics = await system.api<string>("GET", "/metrics", {
      token: system.token("admin", "metrics"),
    });
    expect(metrics.headers.get("content-type")).toEqual("text/plain; version=0.0.4; charset=utf-8");
    expect(metrics.body).toMatch(/^moleculer_request_total\{/m);
  });

  it("serves its API description: OpenAPI 3.1, a readable page, and the AsyncAPI of its events", async () => {
    const openapi = await system.api<{ openapi: string; paths: Record<string, unknown> }>(
      "GET",
      "/api/openapi.json",
    );
    expect([openapi.status, openapi.body.openapi]).toEqual([200, "3.1.0"]);
    expect(Object.keys(openapi.body.paths)).toContain("/api/bookings/{id}/accept");
    const docs = await system.api<string>("GET", "/api/docs");
    expect(docs.headers.get("content-type")).toMatch(/^text\/html/);
    expect(docs.body).toContain("/api/bookings/{id}/track");
    const asyncapi = await system.api<string>("GET", "/api/asyncapi.yaml");
    expect(asyncapi.status).toBe(200);
    expect(asyncapi.body).toMatch(/^asyncapi: 3\.0\.0$/m);
  });

  it("creates a booking, shows it to its owner, pages the list, and notifies the owner", async () => {
    const owner = system.token("owner", "owner-e2e");
    const created = await system.api<Booking>("POST", "/api/bookings", {
      token: owner,
      body: newBooking("Rex"),
    });
    expect(created.status).toEqual(201);
    expect(created.headers.get("location")).toEqual(`/api/bookings/${created.body.booking_id}`);
    expect(created.body).toEqual(
      expect.objectContaining({
        status: "requested",
        currency: "IDR",
        estimated_price_cents: expect.any(Number) as number,
      }),
    );

    const fetched = await system.api<Booking>("GET", `/api/bookings/${created.body.booking_id}`, {
      token: owner,
    });
    expect(fetched.body).toEqual(created.body);

    await system.api("POST", "/api/bookings", { token: owner, body: newBooking("Mochi") });
    await system.api("POST", "/api/bookings", { token: owner, body: newBooking("Bolt") });
    const first = await system.api<Page<Booking>>("GET", "/api/bookings?limit=2", { token: owner });
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await system.api<Page<Booking>>(
      "GET",
      `/api/bookings?limit=2&cursor=${first.body.next_cursor ?? ""}`,
      { token: owner },
    );
    expect(second.body.items).toHaveLength(1);
    expect(second.body.next_cursor).toEqual(null);
    const names = [...first.body.items, ...second.body.items].map(
      (b) => (b as unknown as { pet_name: string }).pet_name,
    );
    expect(names).toEqual(["Bolt", "Mochi", "Rex"]);

    const inbox = await eventually(async () => {
      const response = await system.api<Page<{ booking_id: string }>>("GET", "/api/notifications", {
        token: owner,
      });
      return response.body.items.length === 3 ? response.body : undefined;
    });
    expect(inbox.items.map((n) => n.booking_id)).toContain(created.body.booking_id);
  });

  it.each([
    ["no token", undefined, 401, "NO_TOKEN"],
    [
      "a forged token",
      signToken({ sub: "owner-e2e", role: "admin" }, "not-the-server-secret-123"),
      401,
      "INVALID_TOKEN",
    ],
    ["an expired token", "EXPIRED", 401, "INVALID_TOKEN"],
    ["a runner's token", "RUNNER", 403, "FORBIDDEN"],
  ])("refuses POST /api/bookings with %s", async (_label, token, status, type) => {
    const bearer =
      token === "EXPIRED"
        ? signToken({ sub: "owner-e2e", role: "owner" }, system.config.jwtSecret, -60)
        : token === "RUNNER"
          ? system.token("runner", "runner-1")
          : token;
    const response = await system.api<{ type: string }>("POST", "/api/bookings", {
      token: bearer,
      body: newBooking("X"),
    });
    expect([response.status, response.body.type]).toEqual([status, type]);
  });

  it("answers bad input with a 4xx that names the problem, and stores nothing", async () => {
    const owner = system.token("owner", "owner-bad-input");
    const invalid = await system.api<{ type: string; data: { field: string }[] }>(
      "POST",
      "/api/bookings",
      {
        token: owner,
        body: { ...newBooking("X"), pet_type: "lizard", pickup: { lat: 95, lng: 10 }, admin: true },
      },
    );
    expect(invalid.status).toEqual(422);
    expect(invalid.body.data.map((problem) => problem.field)).toEqual([
      "pet_type",
      "pickup.lat",
      "(body)",
    ]);

    const malformed = await system.api<{ message: string }>("POST", "/api/bookings", {
      token: owner,
      body: '{"pet_type":',
    });
    expect([malformed.status, malformed.body.message]).toEqual([400, "Malformed JSON body"]);

    const huge = await system.api("POST", "/api/bookings", {
      token: owner,
      body: { ...newBooking("X"), notes: "x".repeat(70_000) },
    });
    expect(huge.status).toEqual(413);

    const unknown = await system.api("GET", "/api/bookings/does-not-exist", { token: owner });
    expect(unknown.status).toEqual(404);
    const list = await system.api<Page<Booking>>("GET", "/api/bookings", { token: owner });
    expect(list.body.items).toEqual([]);
  });

  it("accepts a socket only with a valid token in the handshake", async () => {
    await expect(connect(undefined)).rejects.toThrow("missing bearer token");
    await expect(
      connect(signToken({ sub: "a", role: "owner" }, "not-the-server-secret-123")),
    ).rejects.toThrow("invalid token");
    const socket = await connect(system.token("owner", "owner-socket"));
    expect(socket.connected).toEqual(true);
  });
});
