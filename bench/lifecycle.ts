/**
 * `npm run bench -- lifecycle [--mode embedded|distributed|both] [--concurrency 20]
 *   [--lifecycles 200] [--poll-ms <n>] [--online-km 0] [--idle 5] [--json]`
 *
 * Drives full booking lifecycles through the public REST API with `concurrency` owners at a
 * time, each lifecycle with a fresh runner, making every request their apps make:
 * create → pay → (escrow held) → runner online → accept → photo of the pet → pickup with it →
 * depart → the owner looks at the track → photo at the drop-off → deliver with it and the
 * owner's PIN (from the create's answer) → runner offline → the runner's notifications →
 * confirm → (completed) → the owner's notifications. Every runner is verified once before the
 * measured part (only verified runners may accept). Each request is timed under its route, and the report gives
 * p50/p99/max per route; a wait in brackets is not a request, but each poll in it is one. Apps
 * come in two styles: socket apps (the default) wait on the owner's live notifications; polling
 * apps (`--poll-ms <n>`) have no socket and poll the booking every n ms instead, listing their
 * notifications once per wait. Then CPU per lifecycle for every process (Kilat's, Kafka, Redis,
 * the database, this load generator) and the database commands per lifecycle by kind
 * (bench/measure.ts); `--json` adds one JSON line per mode. Embedded: every service in one server
 * process, in-process event bus. Distributed: one server process per service over the Redis
 * transporter and Kafka. Both on the servers of `npm run infra:up`; payments use the simulated
 * provider (no Stripe calls).
 */
import { parseArgs } from "node:util";
import type { Socket } from "socket.io-client";
import { signToken } from "../lib/auth";
import { DEFAULT_JWT_SECRET } from "../lib/config";
import { readInfraEnv } from "../scripts/infra-env";
import { connectSocket } from "../test/support/live";
import {
  CpuMeter,
  databaseCommands,
  difference,
  infraProcesses,
  printCommands,
  printPoolWaits,
  printCpu,
  type Costs,
  type Watched,
} from "./measure";
import {
  child,
  percentile,
  randomPort,
  proofPhoto,
  rest,
  RestError,
  runnerToken,
  sleep,
  startDistributed,
  stopChildren,
  dropDatabases,
  until,
  upload,
  verifyRunners,
} from "./support";

/** Every request the apps make, as the gateway routes it: the writes in lifecycle order, then the reads. */
const ROUTES = [
  "POST /api/bookings",
  "POST /api/bookings/:id/payment",
  "POST /api/runners/me/online",
  "POST /api/bookings/:id/accept",
  "POST /api/bookings/:id/photos",
  "POST /api/bookings/:id/pickup",
  "POST /api/bookings/:id/depart",
  "POST /api/bookings/:id/deliver",
  "POST /api/runners/me/offline",
  "POST /api/bookings/:id/confirm",
  "GET /api/bookings/:id",
  "GET /api/bookings/:id/track",
  "GET /api/notifications",
] as const;
type Route = (typeof ROUTES)[number];

interface Result {
  mode: string;
  lifecycles: number;
  failed: number;
  seconds: number;
  /** Each answered request's time, by route. */
  latencies: Map<Route, number[]>;
  /** Answers other than 2xx, by route (also timed above). */
  refused: Map<Route, number>;
  /** Offline asks answered 409 (the runner's delivery not yet seen by the runner service). */
  offlineRetries: number;
  /** confirm → completed observed (escrow captured and released through the saga). */
  settle: number[];
}

/**
 * One owner's app session: a socket that collects the owner's live notifications, so the
 * bench waits for "escrow held" and "completed" as an app would, without polling.
 */
class OwnerSession {
  private readonly seen = new Set<string>();
  private readonly waiting = new Map<string, () => void>();

  private constructor(private readonly socket: Socket) {
    socket.on("notification", (entry: { booking_id: string | null; event_type: string }) => {
      const key = `${entry.booking_id}:${entry.event_type}`;
      this.seen.add(key);
      this.waiting.get(key)?.();
    });
  }

  static async open(base: string, token: string) {
    return new OwnerSession(await connectSocket(base, token));
  }

  /** Resolves once the owner was notified of `eventType` for the booking. */
  notified(bookingId: string, eventType: string, timeoutMs = 30_000): Promise<void> {
    const key = `${bookingId}:${eventType}`;
    if (this.seen.has(key)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`timed out waiting for ${eventType}`));
      }, timeoutMs);
      this.waiting.set(key, () => {
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve();
      });
    });
  }

  close() {
    this.socket.close();
  }
}

/** One owner's app: its live notifications over a socket, or how often it polls without one. */
interface Owner {
  token: string;
  app: OwnerSession | { pollMs: number };
}

const PICKUP = { lat: -6.2, lng: 106.8 };
/** A degree of latitude, in km. */
const KM_PER_DEGREE = 111.2;
let onlineLat = PICKUP.lat;
const WAIT_MS = 30_000;
/** How soon a runner's app asks to go offline again after a 409. */
const OFFLINE_RETRY_MS = 100;

/** Runs one request and records its time under its route, whether it was answered 2xx or not. */
async function timed<T>(result: Result, route: Route, request: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const record = () => result.latencies.get(route)?.push(performance.now() - started);
  try {
    const value = await request();
    record();
    return value;
  } catch (error) {
    // A request that got no answer has no latency to record; the lifecycle fails on it.
    if (error instanceof RestError) {
      record();
      result.refused.set(route, (result.refused.get(route) ?? 0) + 1);
    }
    throw error;
  }
}

type Booking = Record<string, unknown>;

/** Lifecycle n's runner: a fresh one each, per mode (both modes' databases have one prefix). */
const runnerOf = (mode: string, n: number) => `bench-runner-${mode}-${n}`;

async function lifecycle(base: string, n: number, owner: Owner, result: Result) {
  const runner = runnerToken(runnerOf(result.mode, n));
  /** The request of `route` (the route's method) to `path`, as `token`, timed. */
  const call = (route: Route, token: string, path: string, body?: unknown) =>
    timed(result, route, () => rest(base, token, route.split(" ")[0], path, body));

  const booking = await call("POST /api/bookings", owner.token, "/api/bookings", {
    pet_type: "dog",
    pet_name: `Rex ${n}`,
    pickup: PICKUP,
    dropoff: { lat: -6.25, lng: 106.85 },
  });
  const id = String(booking.booking_id);
  // The recipient's PIN, which the owner's app shows from the booking it just created.
  const pin = String(booking.handover_pin);
  /** The runner's photo of the pet at a handover, timed as the upload it is. */
  const photo = (stage: "pickup" | "dropoff") =>
    proofPhoto(
      (path, bytes) =>
        timed(result, "POST /api/bookings/:id/photos", () => upload(base, runner, path, bytes)),
      id,
      stage,
    );
  const getBooking = () => call("GET /api/bookings/:id", owner.token, `/api/bookings/${id}`);
  const listNotifications = (token: string) =>
    call("GET /api/notifications", token, "/api/notifications");
  /** The owner's app waits to learn of `eventType`: live, or polling the booking until `done`. */
  const ownerLearns = async (eventType: string, done: (booking: Booking) => boolean) => {
    if (owner.app instanceof OwnerSession) return owner.app.notified(id, eventType, WAIT_MS);
    const deadline = Date.now() + WAIT_MS;
    while (!done(await getBooking())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${eventType}`);
      await sleep(owner.app.pollMs);
    }
  };
  const held = (booking: Booking) => booking.payment_status === "held";

  await call("POST /api/bookings/:id/payment", owner.token, `/api/bookings/${id}/payment`, {});
  await ownerLearns("payment.escrow_held", held);
  if (owner.app instanceof OwnerSession) {
    // The owner's notification and the booking's own record of the hold are two consumers of
    // one event: the booking may learn it a moment later, which accept would answer with 409.
    await until("escrow held on the booking", async () => held(await getBooking()), WAIT_MS);
  } else {
    await listNotifications(owner.token); // a polling app refreshes its list once per wait
  }

  await call("POST /api/runners/me/online", runner, "/api/runners/me/online", {
    lat: onlineLat,
    lng: PICKUP.lng,
  });
  await call("POST /api/bookings/:id/accept", runner, `/api/bookings/${id}/accept`, {});
  await call("POST /api/bookings/:id/pickup", runner, `/api/bookings/${id}/pickup`, {
    photo_id: await photo("pickup"),
  });
  await call("POST /api/bookings/:id/depart", runner, `/api/bookings/${id}/depart`, {});
  await call("GET /api/bookings/:id/track", owner.token, `/api/bookings/${id}/track`);
  await call("POST /api/bookings/:id/deliver", runner, `/api/bookings/${id}/deliver`, {
    photo_id: await photo("dropoff"),
    pin,
  });
  await goOffline(runner, call, result);
  await listNotifications(runner);

  await call("POST /api/bookings/:id/confirm", owner.token, `/api/bookings/${id}/confirm`, {});
  const confirmedAt = performance.now();
  await ownerLearns("booking.completed", (booking) => booking.status === "completed");
  result.settle.push(performance.now() - confirmedAt);
  await listNotifications(owner.token);
}

/**
 * The runner goes offline after delivering. The runner service frees it when it consumes the
 * delivery: until then the ask is refused (409, still on the booking) and the app asks again.
 */
async function goOffline(
  runner: string,
  call: (route: Route, token: string, path: string, body?: unknown) => Promise<unknown>,
  result: Result,
) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await call("POST /api/runners/me/offline", runner, "/api/runners/me/offline", {});
      return;
    } catch (error) {
      const stillBusy = error instanceof RestError && error.status === 409;
      if (!stillBusy || Date.now() > deadline) throw error;
      result.offlineRetries++;
      await sleep(OFFLINE_RETRY_MS);
    }
  }
}

async function drive(
  mode: string,
  base: string,
  concurrency: number,
  total: number,
): Promise<Result> {
  const result: Result = {
    mode,
    lifecycles: 0,
    failed: 0,
    seconds: 0,
    latencies: new Map(ROUTES.map((route) => [route, []])),
    refused: new Map(),
    offlineRetries: 0,
    settle: [],
  };
  let next = 0;
  const started = performance.now();
  // One owner per concurrent slot; a socket app keeps its socket open for the whole run.
  const owners: Owner[] = await Promise.all(
    Array.from({ length: concurrency }, async (_, slot) => {
      const token = signToken({ sub: `bench-owner-${slot}`, role: "owner" }, DEFAULT_JWT_SECRET);
      const app = pollMs === null ? await OwnerSession.open(base, token) : { pollMs };
      return { token, app };
    }),
  );
  try {
    await Promise.all(
      owners.map(async (owner) => {
        while (next < total) {
          const n = next++;
          try {
            await lifecycle(base, n, owner, result);
            result.lifecycles++;
          } catch (error) {
            result.failed++;
            if (result.failed <= 3)
              console.error(`  lifecycle ${n} failed: ${(error as Error).message}`);
          }
        }
      }),
    );
  } finally {
    for (const owner of owners) if (owner.app instanceof OwnerSession) owner.app.close();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** What one mode's run cost per lifecycle: CPU by process, database commands by kind. */
interface Costing {
  cpu: Costs;
  commands: Costs;
  /** Milliseconds the services waited for each kind of database command, summed. */
  waited: Costs;
  /** Connections taken from each service's pool, and the milliseconds waited for them. */
  checkouts: Costs;
  poolWaited: Costs;
  /** CPU ms over `idleSeconds` with no load, before the run. */
  idle: Costs;
  idleSeconds: number;
}

/** p50, p99 and max of one route's times, and how many there were. */
function summary(values: number[]) {
  const round = (ms: number) => Number(ms.toFixed(1));
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    max: round(percentile(values, 100)),
  };
}

function report(result: Result, costing: Costing) {
  // A route no request took (a failed run, say) is shown as "-", never left out.
  const fmt = (ms: number) => (Number.isNaN(ms) ? "-" : ms.toFixed(1)).padStart(8);
  const row = (name: string, values: number[], refused = "") => {
    const { n, p50, p99, max } = summary(values);
    return `  ${name.padEnd(31)} ${String(n).padStart(6)} ${fmt(p50)} ${fmt(p99)} ${fmt(max)} ${refused.padStart(8)}`;
  };
  console.log(
    `\n${result.mode}: ${result.lifecycles} lifecycles in ${result.seconds.toFixed(1)} s = ` +
      `${(result.lifecycles / result.seconds).toFixed(1)} lifecycles/s (${result.failed} failed)`,
  );
  console.log(`  ${"route".padEnd(31)} ${"n".padStart(6)}   p50 ms   p99 ms   max ms  non-2xx`);
  for (const route of ROUTES)
    console.log(
      row(route, result.latencies.get(route) ?? [], String(result.refused.get(route) ?? 0)),
    );
  console.log(row("every request", [...result.latencies.values()].flat()));
  console.log(
    `  ${"confirm→completed (saga)".padEnd(38)} ${fmt(percentile(result.settle, 50))} ${fmt(percentile(result.settle, 99))}`,
  );
  console.log(
    `  offline asked again after a 409 (delivery not yet seen): ${result.offlineRetries}`,
  );
  const cpu = printCpu(costing.cpu, result.lifecycles, "lifecycle", result.seconds, {
    costs: costing.idle,
    seconds: costing.idleSeconds,
  });
  const commands = printCommands(costing.commands, result.lifecycles, "lifecycle", costing.waited);
  const pool = printPoolWaits(
    costing.checkouts,
    costing.poolWaited,
    result.lifecycles,
    "lifecycle",
  );
  if (json) {
    console.log(
      JSON.stringify({
        bench: "lifecycle",
        mode: result.mode,
        apps: pollMs === null ? "socket" : "poll",
        poll_ms: pollMs,
        lifecycles: result.lifecycles,
        failed: result.failed,
        lifecycles_per_s: Number((result.lifecycles / result.seconds).toFixed(2)),
        routes_ms: Object.fromEntries(
          ROUTES.map((route) => [
            route,
            {
              ...summary(result.latencies.get(route) ?? []),
              non_2xx: result.refused.get(route) ?? 0,
            },
          ]),
        ),
        requests_ms: summary([...result.latencies.values()].flat()),
        confirm_to_completed_ms: summary(result.settle),
        offline_retries: result.offlineRetries,
        cpu_ms_per_lifecycle: cpu,
        db_commands_per_lifecycle: commands,
        db_pool: pool,
      }),
    );
  }
}

const run = `bench-${Date.now().toString(36)}`;
/** One load generator is one client address: the per-address limit would measure itself. */
const ENV = { LOG_LEVEL: "error", RATE_LIMIT_PER_IP: "10000000" };
let json = false;
let idleSeconds = 5;
/** Polling apps' interval (`--poll-ms`); null for socket apps. */
let pollMs: number | null = null;

/** Drives the lifecycles and measures what they cost the watched processes. */
async function measured(
  mode: string,
  url: string,
  watched: Watched[],
  concurrency: number,
  total: number,
  transport?: { url: string; namespace: string },
) {
  // Set-up, before anything is measured: every lifecycle's runner verified, as runners are
  // before they work.
  const setup = performance.now();
  await verifyRunners(
    url,
    Array.from({ length: total }, (_, n) => runnerOf(mode, n)),
  );
  console.log(
    `\n${mode}: verified ${total} runners in ${((performance.now() - setup) / 1000).toFixed(1)} s (set-up, not measured)`,
  );
  const meter = new CpuMeter([...watched, ...infraProcesses()]);
  // What the processes cost with nothing to do: their fixed share, beside the per-lifecycle one.
  meter.start();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const idle = meter.stop();
  const metrics = [
    "kilat.db.commands.total",
    "kilat.db.command.seconds.total",
    "kilat.db.pool.checkouts.total",
    "kilat.db.pool.wait.seconds.total",
  ] as const;
  const read = () =>
    Promise.all(metrics.map((metric) => databaseCommands(watched, url, transport, metric)));
  const before = await read();
  meter.start();
  const result = await drive(mode, url, concurrency, total);
  const cpu = meter.stop();
  const [commands, waitedSeconds, checkouts, poolWaitedSeconds] = (await read()).map((after, i) =>
    difference(after, before[i] ?? {}),
  );
  // The counters are in seconds; the report prints milliseconds.
  const waited = milliseconds(waitedSeconds);
  const poolWaited = milliseconds(poolWaitedSeconds);
  report(result, { cpu, commands, waited, checkouts, poolWaited, idle, idleSeconds });
}

const milliseconds = (seconds: Costs): Costs =>
  Object.fromEntries(Object.entries(seconds).map(([key, value]) => [key, value * 1000]));

/** Every service in one process, as `npm start` runs it (but on infra's MongoDB). */
async function embedded(concurrency: number, total: number) {
  const infra = { ...readInfraEnv(), ...process.env };
  if (!infra.MONGO_URL)
    throw new Error("the lifecycle bench needs MONGO_URL: run npm run infra:up");
  const port = await randomPort();
  const server = child(["server.ts"], {
    ...ENV,
    PORT: port,
    MONGO_URL: infra.MONGO_URL,
    MONGO_DB_PREFIX: run,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await until("the process to be ready", async () => (await fetch(`${url}/ready`)).ok);
    await measured(
      "embedded",
      url,
      [{ name: "kilat (every service)", pid: server.pid ?? -1 }],
      concurrency,
      total,
    );
  } finally {
    await stopChildren([server]);
  }
}

async function distributed(concurrency: number, total: number) {
  const { url, stop, watched, transport } = await startDistributed(
    run,
    ["api", "booking", "payment", "notification", "runner,tracking"],
    ENV,
  );
  try {
    await measured("distributed", url, watched, concurrency, total, transport);
  } finally {
    await stop();
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      mode: { type: "string", default: "both" },
      concurrency: { type: "string", default: "20" },
      lifecycles: { type: "string", default: "200" },
      json: { type: "boolean", default: false },
      idle: { type: "string", default: "5" },
      // How far north of the pickups the runners go online: beyond DISPATCH_RADIUS_KM (6) no
      // booking is offered to them, so the run measures the lifecycle alone, without dispatch.
      "online-km": { type: "string", default: "0" },
      // Polling apps: no socket, the owner polls its booking every n ms while it waits.
      "poll-ms": { type: "string" },
    },
  });
  json = values.json;
  idleSeconds = Number(values.idle);
  onlineLat = PICKUP.lat + Number(values["online-km"]) / KM_PER_DEGREE;
  if (values["poll-ms"] !== undefined) {
    pollMs = Number(values["poll-ms"]);
    if (!Number.isInteger(pollMs) || pollMs < 1)
      throw new Error(`--poll-ms must be a whole number of ms ≥ 1, not ${values["poll-ms"]}`);
  }
  if (positionals[0] !== "lifecycle")
    throw new Error("usage: npm run bench -- lifecycle [--mode …]");
  const concurrency = Number(values.concurrency);
  const total = Number(values.lifecycles);
  const apps =
    pollMs === null
      ? "socket apps (live notifications)"
      : `polling apps (no socket, every ${pollMs} ms)`;
  console.log(
    `lifecycle bench: ${total} lifecycles, ${concurrency} at a time, ${apps}, runners online ` +
      `${values["online-km"]} km from the pickups (${new Date().toISOString()})`,
  );
  try {
    if (values.mode !== "distributed") await embedded(concurrency, total);
    if (values.mode !== "embedded") await distributed(concurrency, total);
  } finally {
    const mongoUrl = { ...readInfraEnv(), ...process.env }.MONGO_URL;
    if (mongoUrl) await dropDatabases(mongoUrl, run);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  },
);
