import jwt from "jsonwebtoken";
import { describeWithInfra } from "../support/infra";
import { connectSocket, request } from "../support/live";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";

type Operation = { security?: unknown; "x-roles"?: string[] };
const ROLES = ["owner", "runner", "admin"] as const;

/**
 * The security suite, through the public API only: every documented route against missing,
 * forged, expired and wrong-role tokens; a booking probed by people who are not part of it;
 * hostile input. Each probe must be refused with a 4xx and change nothing.
 */
describeWithInfra(["mongo"], "security probes through the public API", (infra) => {
  let system: System;
  let operations: { method: string; path: string; op: Operation }[];

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    const doc = await system.api<{ paths: Record<string, Record<string, Operation>> }>(
      "GET",
      "/api/openapi.json",
    );
    operations = Object.entries(doc.body.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path: path.replace(/\{[^}]+\}/g, "probe-id"),
        op,
      })),
    );
  });
  afterAll(async () => {
    await system?.stop();
  });

  const call = (method: string, path: string, token?: string, body?: unknown) =>
    system.api<{ type?: string; code?: number }>(method, path, {
      token,
      body: body ?? (method === "GET" || method === "DELETE" ? undefined : {}),
    });

  it("answers 401 on every authenticated route without a token, or with a forged, expired or unsigned one", async () => {
    const secured = operations.filter(({ op }) => op.security);
    expect(secured.length).toBeGreaterThan(25);
    const forged = jwt.sign({ sub: "x", role: "admin" }, "another-secret-of-sixteen", {
      expiresIn: 600,
    });
    const expired = jwt.sign(
      { sub: "x", role: "admin", exp: Math.floor(Date.now() / 1000) - 60 },
      system.config.jwtSecret,
    );
    const unsigned = jwt.sign({ sub: "x", role: "admin" }, "", { algorithm: "none" });
    for (const { method, path } of secured) {
      for (const token of [undefined, forged, expired, unsigned, "not-a-jwt"]) {
        const response = await call(method, path, token);
        expect([method, path, response.status]).toEqual([method, path, 401]);
      }
    }
  });

  it("answers 403 on every route to a role it does not name", async () => {
    let probed = 0;
    for (const { method, path, op } of operations) {
      const allowed = op["x-roles"] ?? [];
      if (!op.security || allowed.length === 0) continue;
      for (const role of ROLES.filter((candidate) => !allowed.includes(candidate))) {
        const response = await call(method, path, system.token(role, `probe-${role}`));
        expect([method, path, role, response.status]).toEqual([method, path, role, 403]);
        probed++;
      }
    }
    expect(probed).toBeGreaterThan(10);
  });

  it("refuses a booking's outsiders on every route, and nothing changes", async () => {
    const owner = system.token("owner", "sec-owner");
    const runner = system.token("runner", "sec-runner");
    const otherOwner = system.token("owner", "sec-other-owner");
    const otherRunner = system.token("runner", "sec-other-runner");
    const { booking_id: id } = await heldBooking(system, owner, {
      pet_type: "cat",
      pet_name: "Safe",
      pickup: { lat: 0.5, lng: 0.5 },
      dropoff: { lat: 0.52, lng: 0.5 },
    });
    expect((await call("POST", `/api/bookings/${id}/accept`, runner)).status).toBe(200);
    const before = (await call("GET", `/api/bookings/${id}`, owner)).body;

    const probes: [string, string, string][] = [
      [otherOwner, "GET", `/api/bookings/${id}`],
      [otherOwner, "GET", `/api/bookings/${id}/payment`],
      [otherOwner, "POST", `/api/bookings/${id}/payment`],
      [otherOwner, "POST", `/api/bookings/${id}/confirm`],
      [otherOwner, "POST", `/api/bookings/${id}/cancel`],
      [otherOwner, "GET", `/api/bookings/${id}/track`],
      [otherRunner, "GET", `/api/bookings/${id}`],
      [otherRunner, "POST", `/api/bookings/${id}/pickup`],
      [otherRunner, "POST", `/api/bookings/${id}/depart`],
      [otherRunner, "POST", `/api/bookings/${id}/deliver`],
      [otherRunner, "POST", `/api/bookings/${id}/cancel`],
      [otherRunner, "POST", `/api/bookings/${id}/decline`],
      [otherRunner, "GET", `/api/bookings/${id}/track`],
    ];
    for (const [token, method, path] of probes) {
      const body = path.endsWith("/cancel") ? { reason: "probe" } : undefined;
      const response = await call(method, path, token, body);
      expect([method, path, [403, 404, 409].includes(response.status)]).toEqual([
        method,
        path,
        true,
      ]);
    }
    expect((await call("GET", `/api/bookings/${id}`, owner)).body).toEqual(before);

    const outsider = await connectSocket(system.url, otherOwner);
    const refused = await request(outsider, "track:subscribe", { booking_id: id });
    expect(refused.ok).toBe(false);
    const dashboard = await request(outsider, "runners:subscribe");
    expect(dashboard.ok).toBe(false);
    const spoof = await request(outsider, "location", {
      lat: 0,
      lng: 0,
      timestamp: new Date().toISOString(),
    });
    expect([spoof.ok, spoof.error?.code]).toEqual([false, 403]);
    outsider.close();
  });

  it("answers hostile input with a 4xx, and creates nothing", async () => {
    const owner = system.token("owner", "sec-input");
    const valid = {
      pet_type: "dog",
      pet_name: "Rex",
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.25, lng: 106.85 },
    };
    const cases: [string, unknown, number][] = [
      ["malformed JSON", '{"pet_type": "dog",', 400],
      ["a body over 64 kB", { ...valid, notes: "x".repeat(70_000) }, 413],
      ["latitude out of range", { ...valid, pickup: { lat: 91, lng: 0 } }, 422],
      [
        "Infinity (1e400 in JSON)",
        '{"pet_type":"dog","pet_name":"Rex","pickup":{"lat":1e400,"lng":0},"dropoff":{"lat":0,"lng":0}}',
        422,
      ],
      ["NaN as a string", { ...valid, pickup: { lat: "NaN", lng: 0 } }, 422],
      ["a very long name", { ...valid, pet_name: "R".repeat(5000) }, 422],
      ["an unknown field", { ...valid, owner_id: "someone-else" }, 422],
      ["an unknown pet type", { ...valid, pet_type: "dragon" }, 422],
      ["a missing field", { pet_type: "dog" }, 422],
    ];
    for (const [label, body, status] of cases) {
      const response = await call("POST", "/api/bookings", owner, body);
      expect([label, response.status]).toEqual([label, status]);
      expect(response.body.code).toBe(status);
    }
    const mine = await system.api<{ items: unknown[] }>("GET", "/api/bookings", { token: owner });
    expect(mine.body.items).toEqual([]);
  });

  it("refuses a Stripe webhook with a bad signature", async () => {
    const response = await fetch(`${system.url}/api/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=deadbeef" },
      body: JSON.stringify({ id: "evt_1", type: "payment_intent.succeeded" }),
    });
    expect(response.status).toBe(400);
  });
});
