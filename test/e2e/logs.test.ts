import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { signToken } from "../../lib/auth";
import { makeMove, pinOf } from "../support/handover";
import { describeWithInfra, uniqueName } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { ANYWHERE } from "../support/service-area";
import { sendStripeWebhook } from "../support/stripe-webhook";
import { clientAt } from "../support/system";
import { eventually } from "../support/wait";

const ROOT = join(__dirname, "..", "..");

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on("exit", resolve);
  });

/** A run of `npm start`'s process with JSON logs at debug level: what a log collector receives. */
describeWithInfra(["mongo", "stripe"], "logs of a whole booking (LOG_FORMAT=json)", (infra) => {
  const JWT_SECRET = randomBytes(24).toString("base64url");
  const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString("base64url")}`;
  const STRIPE_KEY = `sk_test_${randomBytes(12).toString("hex")}`;
  const PORT = String(20000 + Math.floor(Math.random() * 20000));
  const base = `http://127.0.0.1:${PORT}`;
  const owner = signToken({ sub: "owner-logs", role: "owner" }, JWT_SECRET);
  const runner = signToken({ sub: "runner-logs", role: "runner" }, JWT_SECRET);
  const forged = signToken({ sub: "owner-logs", role: "admin" }, "not-the-secret-of-this-run");
  let out = "";
  let err = "";
  let child: ChildProcess;
  let bookingId = "";
  /** The recipient's PIN the runner sends at delivery: a handover's key. */
  let pin = "";

  const api = async <T>(method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  beforeAll(async () => {
    child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        NODE_ENV: "test",
        LOG_FORMAT: "json",
        LOG_LEVEL: "trace",
        PORT,
        MONGO_URL: infra.mongo,
        MONGO_DB_PREFIX: uniqueName("logs"),
        NAMESPACE: uniqueName("logs"),
        SERVICE_AREA: ANYWHERE,
        STRIPE_SECRET_KEY: STRIPE_KEY,
        STRIPE_API_BASE: infra.stripe,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        JWT_SECRET,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited: ${err}`);
        return (await fetch(`${base}/ready`).catch(() => undefined))?.ok ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: "/ready" },
    );

    // A whole booking, paid by card through Stripe (stripe-mock and a signed webhook), carried
    // by a verified runner who proves both handovers.
    const kilat = clientAt(base, JWT_SECRET);
    await verifiedRunner(kilat, runner);
    const online = await api("POST", "/api/runners/me/online", runner, { lat: -6.2, lng: 106.8 });
    expect(online.status).toEqual(200);
    const created = await api<BookingEntity>("POST", "/api/bookings", owner, {
      pet_type: "cat",
      pet_name: "Mochi",
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.23, lng: 106.83 },
    });
    expect(created.status).toEqual(201);
    bookingId = created.body.booking_id;
    pin = await pinOf(kilat, bookingId, owner);
    const paid = await api<PaymentEntity>("POST", `/api/bookings/${bookingId}/payment`, owner, {
      payment_method: "pm_card_visa",
    });
    expect(paid.status).toEqual(202); // Stripe confirms the hold by webhook
    const held = await sendStripeWebhook(base, WEBHOOK_SECRET, {
      id: `evt_held_${bookingId}`,
      type: "payment_intent.amount_capturable_updated",
      object: { id: paid.body.provider_ref, object: "payment_intent" },
    });
    expect(held.status).toEqual(200);
    await eventually(
      async () =>
        (await api<BookingEntity>("GET", `/api/bookings/${bookingId}`, owner)).body
          .payment_status === "held"
          ? true
          : undefined,
      { what: "escrow held" },
    );
    for (const action of ["accept", "pickup", "depart", "deliver"]) {
      expect((await makeMove(kilat, bookingId, action, { runner, owner })).status).toEqual(200);
    }
    expect((await api("POST", `/api/bookings/${bookingId}/confirm`, owner, {})).status).toEqual(
      200,
    );

    // What an attacker sends: a token signed with another secret, a webhook signed wrongly.
    expect((await api("GET", `/api/bookings/${bookingId}`, forged)).status).toEqual(401);
    const unsigned = await sendStripeWebhook(base, "whsec_not_the_one", {
      id: "evt_forged",
      type: "payment_intent.succeeded",
      object: { id: paid.body.provider_ref, object: "payment_intent" },
    });
    expect(unsigned.status).toEqual(400);

    child.kill("SIGTERM");
    expect(await exitOf(child)).toEqual(0);
  }, 120_000);

  afterAll(() => {
    if (child?.exitCode === null) child.kill("SIGKILL");
  });

  const lines = () => (out + err).split("\n").filter((line) => line !== "");

  it("writes every line, on stdout, as JSON with time, level, msg, service and nodeID", () => {
    expect(err).toEqual("");
    expect(lines().length).toBeGreaterThan(10);
    for (const line of lines()) {
      expect(JSON.parse(line)).toEqual(
        expect.objectContaining({
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
          level: expect.stringMatching(/^(fatal|error|warn|info|debug|trace)$/) as string,
          msg: expect.any(String) as string,
          service: expect.any(String) as string,
          nodeID: expect.any(String) as string,
        }),
      );
    }
  });

  it("names the request, the call and the booking on lines written while handling one", () => {
    const about = lines()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.booking_id === bookingId && entry.event_id === undefined);
    expect(about.length).toBeGreaterThan(0);
    for (const entry of about) {
      expect([typeof entry.trace_id, typeof entry.span_id]).toEqual(["string", "string"]);
    }
  });

  it("names the booking and the event on lines a consumer writes while handling it", () => {
    const consumed = lines()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => typeof entry.event_id === "string");
    expect(consumed.map((entry) => entry.booking_id)).toContain(bookingId);
  });

  it("carries no token, secret, card or handover PIN in any line", () => {
    expect(pin).toMatch(/^\d{4,6}$/);
    const leaks = [owner, runner, forged, JWT_SECRET, WEBHOOK_SECRET, STRIPE_KEY, "pm_card_"];
    // The PIN is a few digits: only a number of its own counts, not digits inside a longer one.
    const pinAlone = new RegExp(`(?<![\\w.])${pin}(?![\\w.])`);
    for (const line of lines()) {
      for (const leak of leaks) expect(line.includes(leak) ? `${leak} in ${line}` : "").toEqual("");
      expect(pinAlone.test(line) ? `the PIN in ${line}` : "").toEqual("");
    }
  });
});
