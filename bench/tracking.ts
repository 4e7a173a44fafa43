/**
 * `npm run bench -- tracking [--targets relay,relay-redis,embedded,distributed] [--runners 200]
 *   [--rate 2500] [--seconds 20]`
 *
 * R runners on active bookings send GPS fixes over their sockets while each booking's owner
 * watches it; every fix is followed from the runner's send to the watcher's `track:update`.
 * Two phases per target: a fixed rate (`--rate` fixes/s in all, spread evenly over the runners),
 * then a closed loop (each runner sends its next fix once its watcher received the last one)
 * for the maximum throughput the whole path sustains. Targets:
 * - relay: the baseline, a bare socket.io relay in its own process (bench/relay.ts);
 * - relay-redis: the same relay with the Redis streams adapter (the adapter's own cost);
 * - embedded: Kilat in one process (in-process bus; MongoDB from infra), as `npm start` runs it;
 * - distributed: Kilat as api | runner | tracking | booking,payment,notification processes over
 *   the Redis transporter and Kafka, the gateway on the Redis streams adapter;
 * - distributed-edge: the same with the runner service in the gateway's process (see LAYOUTS).
 * LOCATION_RATE_LIMIT and LOCATION_ARRIVALS_PER_SEC are raised to 1000/s so the closed loop
 * measures the pipeline, not the limiters.
 * After each target's figures: CPU per delivered fix for every process of the phase (the
 * target's, Kafka, Redis, the database, this load generator); `--json` adds a JSON line each.
 */
import { parseArgs } from "node:util";
import type { Socket } from "socket.io-client";
import { signToken } from "../lib/auth";
import { DEFAULT_JWT_SECRET } from "../lib/config";
import { readInfraEnv } from "../scripts/infra-env";
import { connectSocket } from "../test/support/live";
import { CpuMeter, infraProcesses, printCpu, type Costs, type Watched } from "./measure";
import {
  child,
  percentile,
  proofPhoto,
  randomPort,
  rest,
  runnerToken as tokenOf,
  sleep,
  startDistributed,
  stopChildren,
  dropDatabases,
  until,
  upload,
  verifyRunner,
} from "./support";

const KM = 1 / 111.195;
const SPEED_KMH = 30;
const run = `trk-${Date.now().toString(36)}`;
let json = false;

interface Pair {
  bookingId: string;
  runner: Socket;
  watcher: Socket;
  start: { lat: number; lng: number };
  /** When the runner left `start`: positions follow from it, continuous across phases. */
  t0: number;
  lastTs: number;
}

interface Target {
  name: string;
  url: string;
  /** Its server processes, for CPU per fix. */
  watched: Watched[];
  /** Books and accepts one trip per runner (Kilat) or makes up ids (relay). */
  trips(count: number): Promise<{ bookingId: string; runnerToken: string; ownerToken: string }[]>;
  stop(): Promise<void>;
}

interface Phase {
  label: string;
  seconds: number;
  sent: number;
  acked: number;
  rejected: number;
  delivered: number;
  duplicated: number;
  lost: number;
  latencies: number[];
}

const startOf = (i: number) => ({
  lat: -6.3 + (i % 50) * 0.01,
  lng: 106.7 + Math.floor(i / 50) * 0.01,
});

/**
 * Kilat's side of a trip: runner verified and online, booking paid and held, accepted and picked
 * up (with the photo the pickup needs) by that runner.
 */
function kilatTrips(base: string) {
  return async (count: number) => {
    const trips: { bookingId: string; runnerToken: string; ownerToken: string }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < count) {
          const i = next++;
          const ownerToken = signToken(
            { sub: `${run}-owner-${i}`, role: "owner" },
            DEFAULT_JWT_SECRET,
          );
          const runner = `${run}-runner-${i}`;
          const runnerToken = tokenOf(runner);
          const start = startOf(i);
          await verifyRunner(base, runner);
          await rest(base, runnerToken, "POST", "/api/runners/me/online", start);
          const booking = await rest(base, ownerToken, "POST", "/api/bookings", {
            pet_type: "dog",
            pet_name: `Rex ${i}`,
            pickup: start,
            dropoff: { lat: start.lat + 0.05, lng: start.lng },
          });
          const id = String(booking.booking_id);
          await rest(base, ownerToken, "POST", `/api/bookings/${id}/payment`, {});
          await until(
            "escrow held",
            async () =>
              (await rest(base, ownerToken, "GET", `/api/bookings/${id}`)).payment_status ===
              "held",
          );
          await rest(base, runnerToken, "POST", `/api/bookings/${id}/accept`, {});
          const photoId = await proofPhoto(
            (path, bytes) => upload(base, runnerToken, path, bytes),
            id,
            "pickup",
          );
          await rest(base, runnerToken, "POST", `/api/bookings/${id}/pickup`, {
            photo_id: photoId,
          });
          trips.push({ bookingId: id, runnerToken, ownerToken });
        }
      }),
    );
    return trips;
  };
}

async function relayTarget(name: string, redisUrl?: string): Promise<Target> {
  const port = await randomPort();
  const relay = child(["bench/relay.ts", String(port), ...(redisUrl ? [redisUrl] : [])], {}, true);
  await new Promise<void>((resolve, reject) => {
    relay.stdout?.once("data", () => resolve());
    relay.once("exit", () => reject(new Error("relay exited")));
  });
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    trips: async (count) =>
      Array.from({ length: count }, (_, i) => ({
        bookingId: `${run}-relay-${i}`,
        runnerToken: signToken({ sub: `r${i}`, role: "runner" }, DEFAULT_JWT_SECRET),
        ownerToken: signToken({ sub: `o${i}`, role: "owner" }, DEFAULT_JWT_SECRET),
      })),
    watched: [{ name: name === "relay" ? "relay" : "relay + Redis adapter", pid: relay.pid ?? -1 }],
    stop: () => stopChildren([relay]),
  };
}

/** One load generator is one client address: the per-address limit would measure itself. */
const BENCH_ENV = {
  LOG_LEVEL: "error",
  LOCATION_RATE_LIMIT: "1000",
  LOCATION_ARRIVALS_PER_SEC: "1000",
  RATE_LIMIT_PER_IP: "10000000",
  // The closed loop sends as fast as fixes are answered: far above an app's rate per socket.
  SOCKET_EVENTS_PER_SEC: "100000",
  // Its set-up books every runner's trip at once, which the gateway would shed as new work: the
  // bench measures the fix path, not the gateway's admission (that is the knee bench's).
  API_MAX_IN_FLIGHT: "0",
};

/** Kilat in one process, like `npm start`, but on infra's MongoDB; its own process, as the relay. */
async function embeddedTarget(): Promise<Target> {
  const infra = { ...readInfraEnv(), ...process.env };
  if (!infra.MONGO_URL) throw new Error("embedded mode here needs MONGO_URL: run npm run infra:up");
  const port = await randomPort();
  const server = child(["server.ts"], {
    ...BENCH_ENV,
    PORT: port,
    MONGO_URL: infra.MONGO_URL,
    MONGO_DB_PREFIX: `${run}-e`,
  });
  const url = `http://127.0.0.1:${port}`;
  await until("the process to be ready", async () => (await fetch(`${url}/ready`)).ok);
  return {
    name: "embedded",
    url,
    watched: [{ name: "kilat (every service)", pid: server.pid ?? -1 }],
    trips: kilatTrips(url),
    stop: () => stopChildren([server]),
  };
}

/**
 * Process layouts of the distributed target. split: every service of the fix path in its own
 * process. edge: the runner service (GPS ingestion) beside the gateway, so a fix reaches Kafka
 * without an RPC hop; tracking and the rest stay apart.
 */
const LAYOUTS: Record<string, string[]> = {
  split: ["api", "runner", "tracking", "booking,payment,notification"],
  edge: ["api,runner", "tracking", "booking,payment,notification"],
};

async function distributedTarget(layout: string): Promise<Target> {
  const processes = LAYOUTS[layout];
  if (!processes)
    throw new Error(`unknown layout ${layout}; known: ${Object.keys(LAYOUTS).join(", ")}`);
  const { url, stop, watched } = await startDistributed(`${run}-${layout}`, processes, BENCH_ENV);
  return {
    name: layout === "split" ? "distributed" : `dist-${layout}`,
    url,
    watched,
    trips: kilatTrips(url),
    stop,
  };
}

async function connectPairs(target: Target, runners: number): Promise<Pair[]> {
  const trips = await target.trips(runners);
  return Promise.all(
    trips.map(async (trip, i) => {
      const [runner, watcher] = await Promise.all([
        connectSocket(target.url, trip.runnerToken),
        connectSocket(target.url, trip.ownerToken),
      ]);
      await until("track:subscribe", async () =>
        Boolean(
          (
            (await watcher.emitWithAck("track:subscribe", { booking_id: trip.bookingId })) as {
              ok: boolean;
            }
          ).ok,
        ),
      );
      return {
        bookingId: trip.bookingId,
        runner,
        watcher,
        start: startOf(i),
        t0: Date.now(),
        lastTs: 0,
      };
    }),
  );
}

/** Sends fixes (`rate` in all per second, or closed loop when rate is 0) and follows each one. */
async function phase(label: string, pairs: Pair[], rate: number, seconds: number): Promise<Phase> {
  const result: Phase = {
    label,
    seconds,
    sent: 0,
    acked: 0,
    rejected: 0,
    delivered: 0,
    duplicated: 0,
    lost: 0,
    latencies: [],
  };
  const pending = new Map<string, number>(); // booking|timestamp → sent at
  const arrivals = new Map<string, () => void>(); // closed loop: who waits for which fix
  const seen = new Set<string>();
  const listeners = pairs.map((pair) => {
    const listener = (update: { booking_id: string; recorded_at: string }) => {
      const key = `${update.booking_id}|${update.recorded_at}`;
      const sentAt = pending.get(key);
      if (sentAt === undefined) {
        if (seen.has(key)) result.duplicated++;
        return;
      }
      pending.delete(key);
      seen.add(key);
      result.delivered++;
      result.latencies.push(performance.now() - sentAt);
      arrivals.get(key)?.();
    };
    pair.watcher.on("track:update", listener);
    return listener;
  });
  /** Sends one fix; resolves on its ack, or (closed loop) once the watcher has it too. */
  const send = async (pair: Pair, waitForWatcher = false) => {
    const ts = Math.max(Date.now(), pair.lastTs + 1);
    pair.lastTs = ts;
    const km = (SPEED_KMH * (ts - pair.t0)) / 3_600_000;
    const timestamp = new Date(ts).toISOString();
    const key = `${pair.bookingId}|${timestamp}`;
    pending.set(key, performance.now());
    result.sent++;
    const arrived = waitForWatcher
      ? new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5000);
          arrivals.set(key, () => (clearTimeout(timer), resolve()));
        }).finally(() => arrivals.delete(key))
      : undefined;
    const ack = (await pair.runner
      .timeout(10_000)
      .emitWithAck("location", {
        lat: pair.start.lat + km * KM,
        lng: pair.start.lng,
        speed_kmh: SPEED_KMH,
        timestamp,
        booking_id: pair.bookingId,
      })
      .catch(() => ({ ok: false }))) as { ok: boolean };
    if (ack.ok) result.acked++;
    else {
      result.rejected++;
      pending.delete(key);
      arrivals.get(key)?.();
    }
    await arrived;
  };
  const deadline = performance.now() + seconds * 1000;
  if (rate > 0) {
    const started = performance.now();
    let next = 0;
    const inFlight = new Set<Promise<void>>();
    while (performance.now() < deadline) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - result.sent;
      for (let k = 0; k < due; k++) {
        const sending = send(pairs[next++ % pairs.length]);
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending));
      }
      await sleep(5);
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      pairs.map(async (pair) => {
        while (performance.now() < deadline) await send(pair, true);
      }),
    );
  }
  await until("watchers to catch up", async () => pending.size === 0, 5000).catch(() => undefined);
  result.lost = pending.size;
  pairs.forEach((pair, i) => pair.watcher.off("track:update", listeners[i]));
  return result;
}

function report(target: string, phases: Phase[]) {
  const fmt = (n: number) => (Number.isNaN(n) ? "-" : n.toFixed(1));
  for (const p of phases) {
    console.log(
      [
        target.padEnd(12),
        p.label.padEnd(12),
        fmt(p.sent / p.seconds).padStart(8),
        fmt(p.delivered / p.seconds).padStart(10),
        fmt(percentile(p.latencies, 50)).padStart(7),
        fmt(percentile(p.latencies, 99)).padStart(7),
        String(p.lost).padStart(6),
        String(p.duplicated).padStart(5),
        String(p.rejected).padStart(8),
      ].join(" "),
    );
  }
}

async function main() {
  const { values } = parseArgs({
    allowPositionals: true,
    options: {
      targets: { type: "string", default: "relay,relay-redis,embedded,distributed" },
      runners: { type: "string", default: "200" },
      rate: { type: "string", default: "2500" },
      seconds: { type: "string", default: "20" },
      json: { type: "boolean", default: false },
    },
  });
  json = values.json;
  const runners = Number(values.runners);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const infra = { ...readInfraEnv(), ...process.env };
  console.log(
    `tracking bench: ${runners} runners, ${rate} fixes/s then closed loop, ${seconds} s each (${new Date().toISOString()})`,
  );
  console.log(
    "target       phase          sent/s delivered/s  p50 ms  p99 ms   lost  dups rejected",
  );
  const max: Record<string, number> = {};
  for (const name of values.targets.split(",")) {
    const target =
      name === "relay"
        ? await relayTarget(name)
        : name === "relay-redis"
          ? await relayTarget(name, infra.REDIS_URL)
          : name === "embedded"
            ? await embeddedTarget()
            : name === "distributed"
              ? await distributedTarget("split")
              : name.startsWith("distributed-")
                ? await distributedTarget(name.slice("distributed-".length))
                : undefined;
    if (!target) throw new Error(`unknown target ${name}`);
    try {
      const pairs = await connectPairs(target, runners);
      await phase("warm-up", pairs, Math.min(rate, 500), 2);
      const meter = new CpuMeter([...target.watched, ...infraProcesses()]);
      meter.start();
      const fixed = await phase(`${rate}/s`, pairs, rate, seconds);
      const fixedCpu = meter.stop();
      meter.start();
      const loop = await phase("closed loop", pairs, 0, seconds);
      const loopCpu = meter.stop();
      report(name, [fixed, loop]);
      const costs: Record<string, Costs> = {};
      for (const [label, run, cpu] of [
        [`${rate}/s`, fixed, fixedCpu],
        ["closed loop", loop, loopCpu],
      ] as const) {
        console.log(`  CPU per delivered fix, ${label}:`);
        costs[label] = printCpu(cpu, Math.max(1, run.delivered), "fix", run.seconds);
      }
      if (json) {
        console.log(
          JSON.stringify({
            bench: "tracking",
            target: name,
            phases: [fixed, loop].map((p) => ({
              phase: p.label,
              delivered_per_s: Number((p.delivered / p.seconds).toFixed(1)),
              p50_ms: Number(percentile(p.latencies, 50).toFixed(1)),
              p99_ms: Number(percentile(p.latencies, 99).toFixed(1)),
              lost: p.lost,
              duplicated: p.duplicated,
              rejected: p.rejected,
              cpu_ms_per_fix: costs[p.label],
            })),
          }),
        );
      }
      if (name === "embedded") {
        // One process: its counters cover the whole path (why fixes were dropped, if any).
        const metrics = await (
          await fetch(`${target.url}/metrics`, {
            headers: {
              authorization: `Bearer ${signToken({ sub: "bench", role: "admin" }, DEFAULT_JWT_SECRET)}`,
            },
          })
        ).text();
        for (const line of metrics.split("\n")) {
          if (/^kilat_(tracking_fixes|runner_location)/.test(line)) {
            console.log(`  ${line.replace(/\{namespace="[^"]*",nodeID="[^"]*",?/, "{")}`);
          }
        }
      }
      max[name] = loop.delivered / loop.seconds;
      pairs.forEach((pair) => (pair.runner.close(), pair.watcher.close()));
    } finally {
      await target.stop();
      if (infra.MONGO_URL) await dropDatabases(infra.MONGO_URL, run);
    }
  }
  if (max.relay) {
    for (const [name, value] of Object.entries(max)) {
      if (name !== "relay")
        console.log(`${name} max / relay max = ${((100 * value) / max.relay).toFixed(0)} %`);
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  },
);
