import { signToken, type Role } from "../../lib/auth";
import { describeWithInfra } from "../support/infra";
import { request, socketsTo } from "../support/live";
import { startSystem, type System } from "../support/system";

const ISSUER = "https://auth.kilat.test";
const AUDIENCE = "kilat-api";

/**
 * Tokens as the public API judges them on a Kilat with JWT_ISSUER and JWT_AUDIENCE set (REST and
 * the socket handshake alike), and a socket event that comes after its token expired.
 */
describeWithInfra(["mongo"], "token issuer, audience and expiry through the API", (infra) => {
  let system: System;
  const { open, connect, handshake, closeAll } = socketsTo(() => system.url);
  /** A token of this issuer for this audience, unless the claims say otherwise. */
  const token = (
    role: Role,
    sub: string,
    claims: { issuer?: string; audience?: string } = { issuer: ISSUER, audience: AUDIENCE },
    expiresIn: string | number = "1h",
  ) => signToken({ role, sub }, system.config.jwtSecret, expiresIn, claims);
  /** A REST call's status and the reason its 401 gives. */
  const rest = async (bearer: string) => {
    const answer = await system.api<{ code?: number; data?: { reason?: string } }>(
      "GET",
      "/api/bookings",
      { token: bearer },
    );
    return { status: answer.status, reason: answer.body.data?.reason };
  };

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: {
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        RATE_LIMIT_PER_TOKEN: "100000",
        RATE_LIMIT_PER_IP: "100000",
      },
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    closeAll();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("takes a token of JWT_ISSUER for JWT_AUDIENCE on REST and at the socket handshake", async () => {
    const good = token("owner", "claims-owner");
    expect(await rest(good)).toEqual({ status: 200, reason: undefined });
    expect(await handshake(good)).toEqual("connected");
    expect(await request(open[0], "track:subscribe", { booking_id: "nope" })).toMatchObject({
      ok: false,
      error: { code: 404 },
    });
  });

  it.each([
    [
      "another issuer",
      { issuer: "https://evil.test", audience: AUDIENCE },
      "token issuer not accepted",
    ],
    ["no issuer", { audience: AUDIENCE }, "token issuer not accepted"],
    ["another audience", { issuer: ISSUER, audience: "other-api" }, "token audience not accepted"],
    ["no audience", { issuer: ISSUER }, "token audience not accepted"],
    ["neither", {}, "token audience not accepted"],
  ])(
    "refuses a token with %s: 401 on REST, refused at the socket handshake",
    async (_, claims, reason) => {
      const bad = token("owner", "claims-stranger", claims);
      expect(await rest(bad)).toEqual({ status: 401, reason });
      expect(await handshake(bad)).toEqual(reason);
      expect(open.filter((socket) => socket.connected)).toHaveLength(0);
    },
  );

  it("answers an event read after its token expired TOKEN_EXPIRED, then closes the socket", async () => {
    const socket = await connect(token("admin", "clock-jump", undefined, 60));
    expect(await request(socket, "runners:subscribe", {})).toEqual({ ok: true });
    const told = new Promise((resolve) => socket.once("auth:expired", resolve));
    const closed = new Promise((resolve) => socket.once("disconnect", resolve));
    // The close at expiry is a timer on the monotonic clock, the per-event check reads the wall
    // clock: an event read when the wall clock is past the expiry and the timer not yet due (a
    // resumed VM, a clock step, a loop turn that reads the event before it runs the timer) is
    // what the check is for. The server runs in this process: once the event has left (the
    // client reads the clock too, for its ping deadline), its wall clock jumps 61 s ahead.
    const sent = request(socket, "runners:subscribe", {});
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, "now").mockImplementation(() => realNow() + 61_000);
    const answer = await sent;
    jest.restoreAllMocks();
    expect(answer).toEqual({
      ok: false,
      error: { message: "token expired", code: 401, type: "TOKEN_EXPIRED" },
    });
    expect(await told).toEqual({ code: 401, message: "token expired" });
    expect(await closed).toEqual("io server disconnect");
  });
});
