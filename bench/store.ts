/**
 * `npm run bench -- store [--servers ferretdb,ferretdb-postgres,mongo-java-server] [--ops 2000]
 * [--docs 20000] [--json]`
 *
 * What one database operation costs each MongoDB-compatible server this machine can obtain
 * (measure.ts DATABASES): FerretDB on SQLite (`npm run infra:up`, the project's patched build),
 * FerretDB on PostgreSQL and mongo-java-server (scripts/stand-ins/, started here and stopped
 * after). It runs, one at a time, the shapes of write and read the services issue — an insert,
 * a bulk insert, a guarded status update that also appends an outbox entry, a lookup by `_id` —
 * and prints, per operation (per document for bulk shapes), the wall time and the CPU time the
 * server's processes spent, read from /proc. The lookup and the guarded update run twice: on a
 * collection of `--ops` documents and of `--docs`, as a server that scans slows down with size.
 */
import { parseArgs } from "node:util";
import mongoose from "mongoose";
import { waypointId } from "../models/track.model";
import { readInfraEnv } from "../scripts/infra-env";
import { STAND_INS, startStandIn, stopStandIn } from "./databases";
import { CpuMeter, databaseProcesses } from "./measure";

const { values: options } = parseArgs({
  args: process.argv.slice(3),
  options: {
    servers: { type: "string", default: "ferretdb,ferretdb-postgres,mongo-java-server" },
    ops: { type: "string", default: "2000" },
    docs: { type: "string", default: "20000" },
    json: { type: "boolean", default: false },
  },
});
const OPS = Number(options.ops);
const DOCS = Number(options.docs);
/** Documents keyed by a string, as the services key theirs. */
interface Doc {
  _id: string;
  [field: string]: unknown;
}

const BATCH = 250;
const TRACKS = 200;

const clientCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

const waypoint = (track: number, i: number) => ({
  _id: `trk-${track}:${1_700_000_000_000 + i * 1000}`,
  track_id: `trk-${track}`,
  lat: -6.2 + i * 1e-4,
  lng: 106.8 + i * 1e-4,
  speed_kmh: 30,
  heading_degrees: 90,
  recorded_at: new Date(1_700_000_000_000 + i * 1000),
  total_distance_km: i * 0.01,
  eta_seconds: 600 - i,
});

interface Row {
  shape: string;
  unit: string;
  count: number;
  wallMs: number;
  serverMs: number;
  clientMs: number;
}

/** Runs `run` and what it cost: wall time, the server's CPU, this client's CPU. */
async function measure(
  meter: CpuMeter,
  shape: string,
  unit: string,
  count: number,
  run: () => Promise<void>,
): Promise<Row> {
  meter.start();
  const client = clientCpuMs();
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  const costs = meter.stop();
  const serverMs = Object.entries(costs)
    .filter(([name]) => name !== "load generator")
    .reduce((sum, [, ms]) => sum + ms, 0);
  return { shape, unit, count, wallMs, serverMs, clientMs: clientCpuMs() - client };
}

/** Every shape on one server, sequentially over one connection. */
async function floorsOn(url: string, meter: CpuMeter): Promise<Row[]> {
  const connection = await mongoose
    .createConnection(url, { dbName: `bench_store_${Date.now()}` })
    .asPromise();
  const db = connection.db;
  if (!db) throw new Error("no database handle");
  const rows: Row[] = [];
  const timed = (shape: string, unit: string, count: number, run: () => Promise<void>) =>
    measure(meter, shape, unit, count, run).then((row) => void rows.push(row));
  try {
    const waypoints = db.collection<Doc>("waypoints");
    const timeFirst = db.collection<Doc>("waypoints_time_first");
    const packed = db.collection<Doc>("packed");
    const bookings = db.collection<Doc>("bookings");
    // Warm-up: creates the collections (and their tables) outside the timings.
    await waypoints.insertOne(waypoint(-1, 0));
    await timeFirst.insertOne({ _id: "warm" });
    await packed.insertOne({ _id: "warm" });
    await bookings.insertOne({ _id: "warm" });

    await timed("insert one waypoint", "insert", OPS, async () => {
      for (let i = 0; i < OPS; i++) await waypoints.insertOne(waypoint(0, i));
    });
    // A stream of fixes from TRACKS runners, in time order, as the tracking consumer sees it.
    const fixes = Math.max(BATCH, OPS * 10);
    const calls = Math.round(fixes / BATCH);
    const stream = (call: number, i: number) => {
      const n = call * BATCH + i;
      return waypoint(1000 + (n % TRACKS), Math.floor(n / TRACKS));
    };
    await timed(
      `insertMany, ${BATCH} waypoints of ${TRACKS} tracks a call, _id track first`,
      "waypoint",
      calls * BATCH,
      async () => {
        for (let call = 0; call < calls; call++)
          await waypoints.insertMany(
            Array.from({ length: BATCH }, (_, i) => stream(call, i)),
            { ordered: false },
          );
      },
    );
    await timed(`the same, _id time first (waypointId)`, "waypoint", calls * BATCH, async () => {
      for (let call = 0; call < calls; call++)
        await timeFirst.insertMany(
          Array.from({ length: BATCH }, (_, i) => {
            const point = stream(call, i);
            return { ...point, _id: waypointId(point.track_id, point.recorded_at) };
          }),
          { ordered: false },
        );
    });
    await timed(`the same, one document a call`, "waypoint", calls * BATCH, async () => {
      for (let call = 0; call < calls; call++)
        await packed.insertOne({
          _id: `batch-${call}`,
          points: Array.from({ length: BATCH }, (_, i) => {
            const { _id, ...point } = stream(call, i);
            return { id: _id, ...point };
          }),
        });
    });
    const booking = (i: number) => ({
      _id: `bk-${i}`,
      status: "requested",
      owner_id: `own-${i}`,
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.25, lng: 106.85 },
      estimated_price_cents: 45_000,
      outbox: [],
      updated_at: new Date(),
    });
    // The lookup and the guarded update, on the first OPS documents of a collection of OPS,
    // then of DOCS: spread over documents not updated yet, so a server that scans pays for size.
    let stored = 0;
    let base = 0;
    for (const size of OPS < DOCS ? [OPS, DOCS] : [OPS]) {
      while (stored < size) {
        const first = stored;
        const count = Math.min(BATCH, size - first);
        await bookings.insertMany(Array.from({ length: count }, (_, i) => booking(first + i)));
        stored += count;
      }
      const from = base;
      const pick = (i: number) => `bk-${from + Math.floor((i * (size - from)) / OPS)}`;
      await timed(`find one by _id, ${size} documents`, "find", OPS, async () => {
        for (let i = 0; i < OPS; i++) await bookings.findOne({ _id: pick(i) });
      });
      await timed(
        `guarded update by _id + status, outbox push, ${size} documents`,
        "update",
        OPS,
        async () => {
          for (let i = 0; i < OPS; i++) {
            const result = await bookings.updateOne({ _id: pick(i), status: "requested" }, {
              $set: { status: "accepted", updated_at: new Date() },
              $push: { outbox: { id: `evt-${i}`, type: "booking.accepted", data: { i } } },
            } as never);
            if (result.modifiedCount !== 1) throw new Error(`${pick(i)} was not updated`);
          }
        },
      );
      base = size;
    }
  } finally {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }
  return rows;
}

async function main() {
  const servers = options.servers.split(",");
  const results = new Map<string, Row[]>();
  for (const server of servers) {
    let url: string | undefined;
    if (server === "ferretdb") {
      url = { ...readInfraEnv(), ...process.env }.MONGO_URL;
      if (!url) throw new Error("MONGO_URL is not set: run `npm run infra:up` first");
    } else if (STAND_INS[server]) {
      url = startStandIn(server);
    } else throw new Error(`unknown server ${server}`);
    try {
      const processes = databaseProcesses(server);
      if (processes.length === 0) throw new Error(`${server}: no process to measure`);
      console.error(`store: measuring ${server} at ${url}`);
      results.set(server, await floorsOn(url, new CpuMeter(processes)));
    } finally {
      if (STAND_INS[server]) stopStandIn(server);
    }
  }
  const fmt = (value: number) => value.toFixed(3);
  console.log(
    `store floors, sequential over one connection: wall ms · server CPU ms · client CPU ms per operation (per document for bulk shapes)`,
  );
  console.log(`| shape | ${servers.join(" | ")} |`);
  console.log(`|---|${servers.map(() => "---").join("|")}|`);
  const first = results.get(servers[0]) ?? [];
  first.forEach((row, index) => {
    const cells = servers.map((server) => {
      const cell = results.get(server)?.[index];
      return cell
        ? [cell.wallMs, cell.serverMs, cell.clientMs].map((ms) => fmt(ms / cell.count)).join(" · ")
        : "—";
    });
    console.log(`| ${row.shape} | ${cells.join(" | ")} |`);
  });
  if (options.json) {
    console.log(
      JSON.stringify({
        bench: "store",
        servers: Object.fromEntries(
          [...results].map(([server, rows]) => [
            server,
            rows.map((row) => ({
              shape: row.shape,
              wall_ms: Number((row.wallMs / row.count).toFixed(4)),
              server_cpu_ms: Number((row.serverMs / row.count).toFixed(4)),
              client_cpu_ms: Number((row.clientMs / row.count).toFixed(4)),
            })),
          ]),
        ),
      }),
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
