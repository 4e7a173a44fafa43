import { randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { GATEWAY_TUNING } from "../../config/tuning";
import { MAX_UPLOAD_FIXES } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { request, socketsTo, type Ack } from "../support/live";
import { startSystem, type System } from "../support/system";

const FLOOD_PER_SOCKET = 500;
const CHECKED_AT_MOST = 200;

const TRIP = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.21, lng: 106.81 } };

/**
 * What one user may take of the live channel (SOCKET_MAX_PER_USER, SOCKET_EVENTS_PER_SEC,
 * SOCKET_MAX_ROOMS), and tokens judged on the socket as on REST, for as long as the socket lives.
 */
describeWithInfra(["mongo"], "socket limits and token lifetimes", (infra) => {
  let system: System;
  const { open, connect, handshake, closeAll } = socketsTo(() => system.url);
  const booking = async (owner: string) => {
    const created = await system.api<{ booking_id: string }>("POST", "/api/bookings", {
      token: owner,
      body: { pet_type: "cat", pet_name: "Mochi", ...TRIP },
    });
    expect(created.status).toEqual(201);
    return created.body.booking_id;
  };

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: {
        SOCKET_MAX_PER_USER: "3",
        SOCKET_MAX_ROOMS: "2",
        SOCKET_EVENTS_PER_SEC: "2",
        RATE_LIMIT_PER_TOKEN: "100000",
        RATE_LIMIT_PER_IP: "100000",
      },
    });
  });
  afterEach(() => {
    closeAll();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("refuses a user's socket past SOCKET_MAX_PER_USER, and takes one again once one closes", async () => {
    const token = system.token("owner", "many-sockets");
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) answers.push(await handshake(token));
    expect(answers).toEqual([
      "connected",
      "connected",
      "connected",
      "Too many connections for this user (at most 3)",
      "Too many connections for this user (at most 3)",
    ]);
    // The same subject as another role is another user.
    expect(await handshake(system.token("runner", "many-sockets"))).toEqual("connected");
    open[0].close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await handshake(token)).toEqual("connected");
  });

  it("counts a batch of fixes by its size: a second full batch at once is refused whole, in one answer", async () => {
    const runner = await connect(system.token("runner", "batch-flooder"));
    const fixes = Array.from({ length: 500 }, (_, i) => ({
      lat: -6.2,
      lng: 106.8,
      timestamp: new Date(Date.now() - (500 - i) * 1000).toISOString(),
    }));
    // The first is judged fix by fix (this runner is not online: each refused on its own).
    const first = await request(runner, "locations", { fixes });
    expect(first.ok).toEqual(true);
    const second = await request(runner, "locations", { fixes });
    expect(second).toEqual({
      ok: false,
      error: {
        message: "Too many GPS fixes for this runner, slow down",
        code: 429,
        type: "RATE_LIMITED",
      },
    });
  });

  it("answers a socket's flood of events with 429 past SOCKET_EVENTS_PER_SEC", async () => {
    const socket = await connect(system.token("owner", "flooder"));
    const acks = await Promise.all(
      Array.from({ length: 30 }, () => request(socket, "track:subscribe", { booking_id: "nope" })),
    );
    const limited = acks.filter((ack) => ack.error?.type === "RATE_LIMITED");
    // A burst of twice the rate goes through (each refused as not found, or past the room limit
    // while the others are checked), the rest is refused.
    expect(acks.length - limited.length).toBeLessThanOrEqual(5);
    expect(limited[0]).toEqual({
      ok: false,
      error: {
        message: "Too many events on this socket, slow down",
        code: 429,
        type: "RATE_LIMITED",
      },
    });
  });

  it("caps the booking rooms one socket watches at SOCKET_MAX_ROOMS", async () => {
    const owner = system.token("owner", "room-collector");
    const ids = [await booking(owner), await booking(owner), await booking(owner)];
    const socket = await connect(owner);
    const first = await request(socket, "track:subscribe", { booking_id: ids[0] });
    const second = await request(socket, "track:subscribe", { booking_id: ids[1] });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the event budget refills
    const third = await request(socket, "track:subscribe", { booking_id: ids[2] });
    expect([first.ok, second.ok, third]).toEqual([
      true,
      true,
      {
        ok: false,
        error: {
          message: "This socket watches 2 bookings, the most allowed: unsubscribe one first",
          code: 429,
          type: "TOO_MANY_ROOMS",
        },
      },
    ]);
    expect((await request(socket, "track:unsubscribe", { booking_id: ids[0] })).ok).toEqual(true);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await request(socket, "track:subscribe", { booking_id: ids[2] })).ok).toEqual(true);
  });

  it("keeps a socket within SOCKET_MAX_ROOMS when its subscribes are checked at the same time", async () => {
    const owner = system.token("owner", "parallel-rooms");
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await booking(owner));
    const socket = await connect(owner);
    // Four at once: the event burst and the room checks in flight both admit four.
    const acks = await Promise.all(
      ids.map((booking_id) => request(socket, "track:subscribe", { booking_id })),
    );
    expect(acks.filter((ack) => ack.ok)).toHaveLength(2);
    expect(acks.filter((ack) => !ack.ok)).toEqual([
      {
        ok: false,
        error: {
          message:
            "This socket watches 0 bookings and is joining 2, the most allowed: unsubscribe one first",
          code: 429,
          type: "TOO_MANY_ROOMS",
        },
      },
      {
        ok: false,
        error: {
          message:
            "This socket watches 0 bookings and is joining 2, the most allowed: unsubscribe one first",
          code: 429,
          type: "TOO_MANY_ROOMS",
        },
      },
    ]);
  });

  it("keeps another owner's subscribe answered while one user floods from many sockets", async () => {
    const victim = system.token("owner", "quiet-owner");
    const id = await booking(victim);
    const flooder = system.token("owner", "socket-flooder");
    const sockets = (
      await Promise.allSettled(Array.from({ length: 40 }, () => connect(flooder)))
    ).flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    expect(sockets).toHaveLength(3);
    const flood = sockets.flatMap((socket) =>
      Array.from({ length: 40 }, () =>
        request(socket, "track:subscribe", { booking_id: "someone-elses" }).catch((): Ack => ({
          ok: false,
        })),
      ),
    );
    const watcher = await connect(victim);
    const mine = await request(watcher, "track:subscribe", { booking_id: id });
    await Promise.all(flood);
    expect(mine).toEqual({ ok: true });
  });

  it("carries a 500-fix batch with every field at full precision in one message", async () => {
    const runner = await connect(system.token("runner", "full-batch"));
    const fixes = Array.from({ length: MAX_UPLOAD_FIXES }, (_, i) => ({
      lat: -6.2 - Math.random() / 10,
      lng: 106.8 + Math.random() / 10,
      speed_kmh: Math.random() * 60,
      heading_degrees: Math.random() * 359,
      timestamp: new Date(Date.now() - (MAX_UPLOAD_FIXES - i) * 1000).toISOString(),
      booking_id: randomUUID(),
    }));
    // Over the API's usual 64 kB body: a full batch, as the socket (and the REST batch route) take it.
    expect(JSON.stringify({ fixes }).length).toBeGreaterThan(100_000);
    const answer = await request(runner, "locations", { fixes });
    expect(answer.ok).toEqual(true);
    expect(answer.results).toHaveLength(MAX_UPLOAD_FIXES);
  });

  it("closes a socket whose message is over the size bound, and serves the others on", async () => {
    const bystander = await connect(system.token("owner", "bystander"));
    const sender = await connect(system.token("runner", "big-sender"));
    const closed = new Promise((resolve) => sender.once("disconnect", resolve));
    const padding = "x".repeat(GATEWAY_TUNING.socketMaxMessageBytes);
    sender.emit("locations", { fixes: [{ lat: -6.2, lng: 106.8, padding }] });
    const late = new Promise((resolve) => setTimeout(() => resolve("still open"), 5000).unref());
    expect(await Promise.race([closed, late])).toEqual("transport close");
    expect(bystander.connected).toEqual(true);
    expect(await request(bystander, "track:subscribe", { booking_id: "nope" })).toMatchObject({
      ok: false,
      error: { code: 404 },
    });
    expect(await handshake(system.token("runner", "big-sender"))).toEqual("connected");
  });

  /** A token with exactly these claims, signed with the system's secret. */
  const signed = (claims: Record<string, unknown>) =>
    jwt.sign({ sub: "admin-1", role: "admin", ...claims }, system.config.jwtSecret);
  const now = () => Math.floor(Date.now() / 1000);

  it("refuses tokens living longer than JWT_MAX_TTL, issued in the future, or never expiring", async () => {
    const tenYears = signed({ iat: now(), exp: now() + 10 * 365 * 86400 });
    const fromNextYear = signed({ iat: now() + 365 * 86400, exp: now() + 365 * 86400 + 600 });
    const forever = jwt.sign({ sub: "admin-1", role: "admin" }, system.config.jwtSecret);
    expect(await handshake(tenYears)).toEqual(
      "token lifetime longer than the 86400 s allowed (JWT_MAX_TTL)",
    );
    expect(await handshake(fromNextYear)).toEqual("token issued in the future (iat)");
    expect(await handshake(forever)).toEqual("token has no expiry (exp)");
    for (const token of [tenYears, fromNextYear, forever]) {
      const answer = await system.api<{ code: number }>("GET", "/api/bookings", { token });
      expect([answer.status, answer.body.code]).toEqual([401, 401]);
    }
  });

  it("closes a socket when its token expires, telling it why; it subscribes no more", async () => {
    const token = signed({ iat: now(), exp: now() + 2 });
    const socket = await connect(token);
    expect(await request(socket, "runners:subscribe", {})).toEqual({ ok: true });
    const told = new Promise((resolve) => socket.once("auth:expired", resolve));
    const closed = new Promise((resolve) => socket.once("disconnect", resolve));
    expect(await told).toEqual({ code: 401, message: "token expired" });
    expect(await closed).toEqual("io server disconnect");
    expect(socket.connected).toEqual(false);
  });
});

/**
 * The room checks one user may have in flight (GATEWAY_TUNING.roomChecksPerUser), with the
 * event and room limits out of the way: a user flooding subscribes from several sockets gets
 * most of them refused at the gateway, and the tracking service stays free for other users.
 */
describeWithInfra(["mongo"], "room checks in flight per user", (infra) => {
  let system: System;
  const { connect, closeAll } = socketsTo(() => system.url);

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: {
        SOCKET_MAX_PER_USER: "4",
        SOCKET_MAX_ROOMS: "10000",
        SOCKET_EVENTS_PER_SEC: "100000",
        RATE_LIMIT_PER_TOKEN: "100000",
        RATE_LIMIT_PER_IP: "100000",
      },
    });
  });
  afterAll(async () => {
    closeAll();
    await system?.stop();
  });

  it("refuses a user's subscribes past the room checks in flight, and answers another user's", async () => {
    const victim = system.token("owner", "watching-owner");
    const created = await system.api<{ booking_id: string }>("POST", "/api/bookings", {
      token: victim,
      body: { pet_type: "cat", pet_name: "Mochi", ...TRIP },
    });
    expect(created.status).toEqual(201);
    const watcher = await connect(victim);
    const flooder = system.token("owner", "check-flooder");
    const sockets = await Promise.all(Array.from({ length: 4 }, () => connect(flooder)));
    const flood = sockets.flatMap((socket) =>
      Array.from({ length: FLOOD_PER_SOCKET }, (_, i) =>
        request(socket, "track:subscribe", { booking_id: `someone-elses-${i}` }).catch((): Ack => ({
          ok: false,
        })),
      ),
    );
    const mine = await request(watcher, "track:subscribe", { booking_id: created.body.booking_id });
    const acks = await Promise.all(flood);
    expect(mine).toEqual({ ok: true });
    const checked = acks.filter((ack) => ack.error?.code === 404);
    const refused = acks.filter((ack) => ack.error?.type === "RATE_LIMITED");
    expect(checked.length + refused.length).toEqual(acks.length);
    // The tracking service's bulkhead alone would check 550 at once (50 running, 500 queued).
    expect(checked.length).toBeLessThan(CHECKED_AT_MOST);
    expect(refused[0]).toEqual({
      ok: false,
      error: {
        name: "TooManyRequests",
        message: "Too many requests, retry later",
        code: 429,
        type: "RATE_LIMITED",
      },
    });
  });
});
