/**
 * `npm run bench -- lifecycle [--mode embedded|distributed|both] [--concurrency 20]
 *   [--lifecycles 200] [--json]`
 *
 * Drives full booking lifecycles through the public REST API — create → pay → (escrow held) →
 * accept → pickup → depart → deliver → confirm → (completed) — with `concurrency` owners at a
 * time, each with its app's socket open (the waits in brackets end on the owner's live
 * notifications, as in an app), and prints lifecycles/s and p50/p99 per REST step; then CPU per
 * lifecycle for every process (Kilat's, Kafka, Redis, the database, this load generator) and the
 * database commands per lifecycle by kind (bench/measure.ts); `--json` adds one JSON line per
 * mode. Embedded: every service in one server process, in-process event bus. Distributed: one
 * server process per service over the Redis transporter and Kafka. Both on the servers of
 * `npm run infra:up`; payments use the simulated provider (no Stripe calls).
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
  printCpu,
  type Costs,
  type Watched,
} from "./measure";
import {
  child,
  percentile,
  randomPort,
  rest,
  startDistributed,
  stopChildren,
  dropDatabases,
  until,
} from "./support";

const STEPS = ["create", "pay", "accept", "pickup", "depart", "deliver", "confirm"] as const;
type Step = (typeof STEPS)[number];

interface Result {
  mode: string;
  lifecycles: number;
  failed: number;
  seconds: number;
  latencies: Record<Step, number[]>;
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

  private constructor(
    readonly token: string,
    private readonly socket: Socket,
  ) {
    socket.on("notification", (entry: { booking_id: string | null; event_type: string }) => {
      const key = `${entry.booking_id}:${entry.event_type}`;
      this.seen.add(key);
      this.waiting.get(key)?.();
    });
  }

  static async open(base: string, owner: string) {
    const token = signToken({ sub: owner, role: "owner" }, DEFAULT_JWT_SECRET);
    return new OwnerSession(token, await connectSocket(base, token));
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

const PICKUP = { lat: -6.2, lng: 106.8 };
/** A degree of latitude, in km. */
const KM_PER_DEGREE = 111.2;
let onlineLat = PICKUP.lat;

async function lifecycle(base: string, n: number, session: OwnerSession, result: Result) {
  const owner = session.token;
  const runner = signToken({ sub: `bench-runner-${n}`, role: "runner" }, DEFAULT_JWT_SECRET);
  const timed = async <T>(step: Step, run: () => Promise<T>) => {
    const started = performance.now();
    const value = await run();
    result.latencies[step].push(performance.now() - started);
    return value;
  };
  const booking = await timed("create", () =>
    rest(base, owner, "POST", "/api/bookings", {
      pet_type: "dog",
      pet_name: `Rex ${n}`,
      pickup: PICKUP,
      dropoff: { lat: -6.25, lng: 106.85 },
    }),
  );
  const id = String(booking.booking_id);
  await timed("pay", () => rest(base, owner, "POST", `/api/bookings/${id}/payment`, {}));
  await session.notified(id, "payment.escrow_held");
  // The owner's notification and the booking's own record of the hold are two consumers of
  // one event: the booking may learn it a moment later, which accept would answer with 409.
  await until(
    "escrow held on the booking",
    async () => (await rest(base, owner, "GET", `/api/bookings/${id}`)).payment_status === "held",
    30_000,
  );
  // As its app does, the runner is online before it accepts (not one of the timed steps).
  await rest(base, runner, "POST", "/api/runners/me/online", { lat: onlineLat, lng: PICKUP.lng });
  for (const step of ["accept", "pickup", "depart", "deliver"] as const) {
    await timed(step, () => rest(base, runner, "POST", `/api/bookings/${id}/${step}`, {}));
  }
  await timed("confirm", () => rest(base, owner, "POST", `/api/bookings/${id}/confirm`, {}));
  const confirmedAt = performance.now();
  await session.notified(id, "booking.completed"); // sent once the booking is completed
  result.settle.push(performance.now() - confirmedAt);
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
    latencies: Object.fromEntries(STEPS.map((step) => [step, []])) as unknown as Record<
      Step,
      number[]
    >,
    settle: [],
  };
  let next = 0;
  const started = performance.now();
  // One owner per concurrent slot, each with the app's socket open for the whole run.
  const sessions = await Promise.all(
    Array.from({ length: concurrency }, (_, slot) =>
      OwnerSession.open(base, `bench-owner-${slot}`),
    ),
  );
  try {
    await Promise.all(
      sessions.map(async (session) => {
        while (next < total) {
          const n = next++;
          try {
            await lifecycle(base, n, session, result);
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
    for (const session of sessions) session.close();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** What one mode's run cost per lifecycle: CPU by process, database commands by kind. */
interface Costing {
  cpu: Costs;
  commands: Costs;
  /** CPU ms over `idleSeconds` with no load, before the run. */
  idle: Costs;
  idleSeconds: number;
}

function report(result: Result, costing: Costing) {
  const fmt = (ms: number) => (Number.isNaN(ms) ? "   -" : ms.toFixed(1).padStart(6));
  console.log(
    `\n${result.mode}: ${result.lifecycles} lifecycles in ${result.seconds.toFixed(1)} s = ` +
      `${(result.lifecycles / result.seconds).toFixed(1)} lifecycles/s (${result.failed} failed)`,
  );
  console.log("  step       p50 ms  p99 ms");
  for (const step of STEPS) {
    const values = result.latencies[step];
    console.log(
      `  ${step.padEnd(9)} ${fmt(percentile(values, 50))}  ${fmt(percentile(values, 99))}`,
    );
  }
  console.log(
    `  confirm→completed (saga) ${fmt(percentile(result.settle, 50))}  ${fmt(percentile(result.settle, 99))}`,
  );
  const cpu = printCpu(costing.cpu, result.lifecycles, "lifecycle", result.seconds, {
    costs: costing.idle,
    seconds: costing.idleSeconds,
  });
  const commands = printCommands(costing.commands, result.lifecycles, "lifecycle");
  if (json) {
    const ms = (values: number[]) => ({
      p50: Number(percentile(values, 50).toFixed(1)),
      p99: Number(percentile(values, 99).toFixed(1)),
    });
    console.log(
      JSON.stringify({
        bench: "lifecycle",
        mode: result.mode,
        lifecycles: result.lifecycles,
        failed: result.failed,
        lifecycles_per_s: Number((result.lifecycles / result.seconds).toFixed(2)),
        steps_ms: Object.fromEntries(STEPS.map((step) => [step, ms(result.latencies[step])])),
        confirm_to_completed_ms: ms(result.settle),
        cpu_ms_per_lifecycle: cpu,
        db_commands_per_lifecycle: commands,
      }),
    );
  }
}

const run = `bench-${Date.now().toString(36)}`;
/** One load generator is one client address: the per-address limit would measure itself. */
const ENV = { LOG_LEVEL: "error", RATE_LIMIT_PER_IP: "10000000" };
let json = false;
let idleSeconds = 5;

/** Drives the lifecycles and measures what they cost the watched processes. */
async function measured(
  mode: string,
  url: string,
  watched: Watched[],
  concurrency: number,
  total: number,
  transport?: { url: string; namespace: string },
) {
  const meter = new CpuMeter([...watched, ...infraProcesses()]);
  // What the processes cost with nothing to do: their fixed share, beside the per-lifecycle one.
  meter.start();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const idle = meter.stop();
  const before = await databaseCommands(watched, url, transport);
  meter.start();
  const result = await drive(mode, url, concurrency, total);
  const cpu = meter.stop();
  const commands = difference(await databaseCommands(watched, url, transport), before);
  report(result, { cpu, commands, idle, idleSeconds });
}

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
    },
  });
  json = values.json;
  idleSeconds = Number(values.idle);
  onlineLat = PICKUP.lat + Number(values["online-km"]) / KM_PER_DEGREE;
  if (positionals[0] !== "lifecycle")
    throw new Error("usage: npm run bench -- lifecycle [--mode …]");
  const concurrency = Number(values.concurrency);
  const total = Number(values.lifecycles);
  console.log(
    `lifecycle bench: ${total} lifecycles, ${concurrency} at a time (${new Date().toISOString()})`,
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
