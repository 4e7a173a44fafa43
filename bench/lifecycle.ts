/**
 * `npm run bench -- lifecycle [--mode embedded|distributed|both] [--concurrency 20] [--lifecycles 200]`
 *
 * Drives full booking lifecycles through the public REST API — create → pay → (escrow held) →
 * accept → pickup → depart → deliver → confirm → (completed) — with `concurrency` owners at a
 * time, each with its app's socket open (the waits in brackets end on the owner's live
 * notifications, as in an app), and prints lifecycles/s and p50/p99 per REST step. Embedded: one process, in-process
 * event bus. Distributed: one server process per service over the Redis transporter and Kafka
 * (needs `npm run infra:up`). Payments use the simulated provider in both (no Stripe calls).
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { parseArgs } from "node:util";
import type { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import { signToken } from "../lib/auth";
import { createBroker } from "../services";
import { DEFAULT_JWT_SECRET, loadConfig } from "../lib/config";
import { readInfraEnv } from "../scripts/infra-env";
import { connectSocket } from "../test/support/live";
import { percentile, rest, startDistributed, until } from "./support";

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
      pickup: { lat: -6.2, lng: 106.8 },
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

function report(result: Result) {
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
}

const run = `bench-${Date.now().toString(36)}`;

async function embedded(concurrency: number, total: number) {
  const infra = { ...readInfraEnv(), ...process.env };
  const config = loadConfig({
    LOG_LEVEL: "error",
    RATE_LIMIT_PER_IP: "10000000", // one load generator is one client address
    PORT: "0",
    MONGO_URL: infra.MONGO_URL ?? "",
    MONGO_DB_PREFIX: run,
  });
  const broker: ServiceBroker = createBroker(config);
  await broker.start();
  try {
    const server = (broker.getLocalService("api") as unknown as { server: Server }).server;
    const port = (server.address() as AddressInfo).port;
    return await drive("embedded", `http://127.0.0.1:${port}`, concurrency, total);
  } finally {
    await broker.stop();
  }
}

async function distributed(concurrency: number, total: number) {
  const { url, stop } = await startDistributed(
    run,
    ["api", "booking", "payment", "notification", "runner,tracking"],
    { LOG_LEVEL: "error", RATE_LIMIT_PER_IP: "10000000" }, // one generator is one address
  );
  try {
    return await drive("distributed", url, concurrency, total);
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
    },
  });
  if (positionals[0] !== "lifecycle")
    throw new Error("usage: npm run bench -- lifecycle [--mode …]");
  const concurrency = Number(values.concurrency);
  const total = Number(values.lifecycles);
  console.log(
    `lifecycle bench: ${total} lifecycles, ${concurrency} at a time (${new Date().toISOString()})`,
  );
  if (values.mode !== "distributed") report(await embedded(concurrency, total));
  if (values.mode !== "embedded") report(await distributed(concurrency, total));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  },
);
