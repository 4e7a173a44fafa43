import jwt from "jsonwebtoken";
import type { Socket } from "socket.io-client";
import type { NotificationEntity } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { collect, connectSocket, request } from "../support/live";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

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
    await verifiedRunner(system, runner);
    await verifiedRunner(system, otherRunner);
    await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: { lat: 0.5, lng: 0.5 },
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
    // Each probe well formed, so what answers is the refusal of an outsider, not the body.
    const bodies: [string, unknown][] = [
      ["/cancel", { reason: "probe" }],
      ["/pickup", { photo_id: "probe-photo" }],
      ["/deliver", { photo_id: "probe-photo", pin: "000000" }],
    ];
    for (const [token, method, path] of probes) {
      const body = bodies.find(([end]) => path.endsWith(end))?.[1];
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

/**
 * Identity is the pair (role, sub): a token with the same sub and another role is someone else,
 * so it reads, marks and hears nothing of the first one's (issue 19, finding 3).
 */
describeWithInfra(["mongo"], "identity is (role, sub), never the sub alone", (infra) => {
  let system: System;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await system?.stop();
  });

  interface Inbox {
    items: NotificationEntity[];
    unread_count: number;
    next_cursor: string | null;
  }
  const inbox = async (token: string) =>
    (await system.api<Inbox>("GET", "/api/notifications?limit=50", { token })).body;

  it("gives a runner whose sub is an owner's id none of the owner's booking, payment, track, inbox, rooms or pushes", async () => {
    const owner = system.token("owner", "twin");
    const impostor = system.token("runner", "twin");
    const runner = system.token("runner", "twin-runner");
    const ownerSocket = await connectSocket(system.url, owner);
    const impostorSocket = await connectSocket(system.url, impostor);
    sockets.push(ownerSocket, impostorSocket);
    const ownerLive = collect<NotificationEntity>(ownerSocket, "notification");
    const impostorLive = collect<NotificationEntity>(impostorSocket, "notification");

    const pickup = { lat: -6.3, lng: 106.9 };
    await verifiedRunner(system, runner);
    const online = await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: pickup,
    });
    expect(online.status).toBe(200);
    const { booking_id: id } = await heldBooking(system, owner, {
      pet_name: "Twin",
      pickup,
      dropoff: { lat: -6.32, lng: 106.9 },
    });
    const accepted = await system.api("POST", `/api/bookings/${id}/accept`, { token: runner });
    expect(accepted.status).toBe(200);
    const ownerBox = await eventually(async () => {
      const box = await inbox(owner);
      const types = box.items.map((item) => item.event_type);
      return types.includes("booking.accepted") && types.includes("payment.escrow_held")
        ? box
        : undefined;
    });
    await eventually(async () =>
      (await system.api("GET", `/api/bookings/${id}/track`, { token: owner })).status === 200
        ? true
        : undefined,
    );
    await eventually(() => (ownerLive.length >= ownerBox.items.length ? true : undefined));

    for (const path of [
      `/api/bookings/${id}`,
      `/api/bookings/${id}/payment`,
      `/api/bookings/${id}/track`,
    ]) {
      const response = await system.api("GET", path, { token: impostor });
      expect([path, response.status]).toEqual([path, 404]);
    }
    expect(await inbox(impostor)).toEqual({ items: [], unread_count: 0, next_cursor: null });
    const entry = ownerBox.items[0].id;
    const read = await system.api("POST", `/api/notifications/${entry}/read`, { token: impostor });
    expect(read.status).toBe(404);
    const readAll = await system.api<{ marked: number }>("POST", "/api/notifications/read-all", {
      token: impostor,
    });
    expect([readAll.status, readAll.body.marked]).toEqual([200, 0]);
    const ownerAfter = await inbox(owner);
    expect(ownerAfter.items.filter((item) => item.read)).toEqual([]);

    const joined = await request(impostorSocket, "track:subscribe", { booking_id: id });
    expect([joined.ok, joined.error?.code]).toEqual([false, 404]);
    expect(impostorLive).toEqual([]);
  });

  it("shows an admin whose sub is an owner's id none of the owner's webhooks", async () => {
    const owner = system.token("owner", "hook-twin");
    const admin = system.token("admin", "hook-twin");
    const created = await system.api<{ id: string }>("POST", "/api/webhooks", {
      token: owner,
      body: { url: "http://127.0.0.1:9/hooks/twin", events: ["booking.completed"] },
    });
    expect(created.status).toBe(201);
    const hook = created.body.id;

    const listed = await system.api<{ items: unknown[] }>("GET", "/api/webhooks", { token: admin });
    expect([listed.status, listed.body.items]).toEqual([200, []]);
    const deliveries = await system.api("GET", `/api/webhooks/${hook}/deliveries`, {
      token: admin,
    });
    expect(deliveries.status).toBe(404);
    const deleted = await system.api("DELETE", `/api/webhooks/${hook}`, { token: admin });
    expect(deleted.status).toBe(404);
    const ownerList = await system.api<{ items: { id: string }[] }>("GET", "/api/webhooks", {
      token: owner,
    });
    expect(ownerList.body.items.map((item) => item.id)).toEqual([hook]);
  });
});

/**
 * Input that a later stage cannot hold is refused at the door, with a 422 naming the field
 * (issue 19, findings 1, 11, 12 and the payment body of 15): a latitude the geo index refuses,
 * control and bidi characters in free text, a trip outside the service area or too long, an
 * unknown field. The system runs with the default service area, greater Jakarta.
 */
describeWithInfra(["mongo"], "input the later stages cannot hold", (infra) => {
  let system: System;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo }, env: { SERVICE_AREA: "" } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  interface Refusal {
    code: number;
    type: string;
    data: { field: string; message: string; type: string }[];
  }
  const MONAS = { lat: -6.1754, lng: 106.8272 };
  const BOGOR = { lat: -6.595, lng: 106.8166 };
  const PARIS = { lat: 48.8566, lng: 2.3522 };
  const trip = { pet_type: "cat", pet_name: "Mochi", pickup: MONAS, dropoff: BOGOR };
  const book = (owner: string, body: unknown) =>
    system.api<Refusal & { booking_id: string; pet_name: string; status: string }>(
      "POST",
      "/api/bookings",
      { token: owner, body },
    );
  const bookingsOf = async (owner: string) =>
    (await system.api<{ items: unknown[] }>("GET", "/api/bookings", { token: owner })).body.items;
  const refusal = (response: { status: number; body: Refusal }) => [
    response.status,
    response.body.type,
    response.body.data,
  ];
  const problem = (field: string, message: string, type = "custom") => ({ field, message, type });

  it("refuses a latitude the geo index cannot hold, on a booking, going online and a GPS fix", async () => {
    const owner = system.token("owner", "in-polar-owner");
    const runner = system.token("runner", "in-polar-runner");
    const beyond = "must be at most 85.05112878 (the map ends there)";

    const polar = await book(owner, { ...trip, pickup: { lat: 89.9, lng: 0 } });
    expect(refusal(polar)).toEqual([
      422,
      "VALIDATION_ERROR",
      [problem("pickup.lat", beyond, "too_big")],
    ]);
    const online = await system.api<Refusal>("POST", "/api/runners/me/online", {
      token: runner,
      body: { lat: -89.9, lng: 0 },
    });
    expect(refusal(online)).toEqual([
      422,
      "VALIDATION_ERROR",
      [problem("lat", "must be at least -85.05112878 (the map ends there)", "too_small")],
    ]);
    expect(
      (await system.api("POST", "/api/runners/me/online", { token: runner, body: MONAS })).status,
    ).toBe(200);
    const fix = await system.api<Refusal>("POST", "/api/runners/me/location", {
      token: runner,
      body: { lat: 86, lng: 0, timestamp: new Date().toISOString() },
    });
    expect(refusal(fix)).toEqual([422, "VALIDATION_ERROR", [problem("lat", beyond, "too_big")]]);
    expect(await bookingsOf(owner)).toEqual([]);
  });

  it("refuses control characters, bidi controls and invisible names in free text, naming the field", async () => {
    const owner = system.token("owner", "in-text-owner");
    const runner = system.token("runner", "in-text-runner");
    const cases: [unknown, ReturnType<typeof problem>][] = [
      [
        { ...trip, pet_name: "\u202Eevil" },
        problem("pet_name", "must not contain bidirectional controls (found U+202E)"),
      ],
      [
        { ...trip, pet_name: "\u200B\u200B" },
        problem("pet_name", "must contain visible characters"),
      ],
      [
        { ...trip, notes: "ring\u0000twice" },
        problem("notes", "must not contain control characters (found U+0000)"),
      ],
    ];
    for (const [body, expected] of cases) {
      expect(refusal(await book(owner, body))).toEqual([422, "VALIDATION_ERROR", [expected]]);
    }
    expect(await bookingsOf(owner)).toEqual([]);

    const profile = await system.api<Refusal>("PATCH", "/api/runners/me", {
      token: runner,
      body: { name: "Budi\u2067", vehicle: "\u3164" },
    });
    expect(refusal(profile)).toEqual([
      422,
      "VALIDATION_ERROR",
      [
        problem("name", "must not contain bidirectional controls (found U+2067)"),
        problem("vehicle", "must contain visible characters"),
      ],
    ]);

    // Stored in one normal form: "René" typed on two keyboards is one name.
    const booked = await book(owner, { ...trip, pet_name: "Rene\u0301" });
    expect([booked.status, booked.body.pet_name]).toEqual([201, "Ren\u00e9"]);
    const id = booked.body.booking_id;
    const cancel = await system.api<Refusal>("POST", `/api/bookings/${id}/cancel`, {
      token: owner,
      body: { reason: "\u202Dsorry" },
    });
    expect(refusal(cancel)).toEqual([
      422,
      "VALIDATION_ERROR",
      [problem("reason", "must not contain bidirectional controls (found U+202D)")],
    ]);
    const after = await system.api<{ status: string }>("GET", `/api/bookings/${id}`, {
      token: owner,
    });
    expect(after.body.status).toBe("requested");
  });

  it("refuses a trip outside the service area or longer than MAX_TRIP_KM, naming pickup or dropoff; runners may drive anywhere", async () => {
    const owner = system.token("owner", "in-area-owner");
    const paris = await book(owner, { ...trip, dropoff: PARIS });
    expect(refusal(paris)).toEqual([
      422,
      "VALIDATION_ERROR",
      [
        problem("dropoff", "is outside the service area (jakarta)"),
        problem("dropoff", "is 11581.3 km from the pickup; a trip may be at most 50 km"),
      ],
    ]);
    const inParis = await book(owner, {
      ...trip,
      pickup: PARIS,
      dropoff: { lat: 48.86, lng: 2.36 },
    });
    expect(refusal(inParis)).toEqual([
      422,
      "VALIDATION_ERROR",
      [
        problem("pickup", "is outside the service area (jakarta)"),
        problem("dropoff", "is outside the service area (jakarta)"),
      ],
    ]);
    expect(await bookingsOf(owner)).toEqual([]);
    expect((await book(owner, trip)).status).toBe(201);

    const runner = system.token("runner", "in-area-runner");
    const online = await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: PARIS,
    });
    expect(online.status).toBe(200);
    const fix = await system.api("POST", "/api/runners/me/location", {
      token: runner,
      body: { ...PARIS, timestamp: new Date().toISOString() },
    });
    expect(fix.status).toBe(202);
  });

  it("refuses an unknown field in the payment body, naming it, and takes no payment", async () => {
    const owner = system.token("owner", "in-pay-owner");
    const { body: booking } = await book(owner, trip);
    const path = `/api/bookings/${booking.booking_id}/payment`;
    const paid = await system.api<Refusal>("POST", path, {
      token: owner,
      body: { payment_method: "pm_card_visa", amount_cents: 1 },
    });
    expect(refusal(paid)).toEqual([
      422,
      "VALIDATION_ERROR",
      [problem("(body)", 'Unrecognized key: "amount_cents"', "unrecognized_keys")],
    ]);
    expect((await system.api("GET", path, { token: owner })).status).toBe(404);
    expect((await system.api("POST", path, { token: owner, body: {} })).status).toBe(201);
  });
});
