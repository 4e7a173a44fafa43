/**
 * `npm run bench -- store [--ops 2000]`
 *
 * What one database operation costs the MongoDB-compatible server the distributed mode runs on
 * (`npm run infra:up`: FerretDB on SQLite). It runs, one at a time, the shapes of write and read
 * the services issue — an insert, a bulk insert, a guarded status update that also appends an
 * outbox entry, a lookup by `_id` — and prints, per operation (per document for bulk shapes), the
 * wall time and the CPU time the server process spent, read from /proc. These are the floors the
 * lifecycle and tracking benchmarks are bounded by: a lifecycle issues about 120 operations, a
 * GPS fix one waypoint in a bulk insert.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import mongoose from "mongoose";
import { waypointId } from "../models/track.model";
import { readInfraEnv } from "../scripts/infra-env";

const { values: options } = parseArgs({
  args: process.argv.slice(3),
  options: { ops: { type: "string", default: "2000" } },
});
const OPS = Number(options.ops);
/** Documents keyed by a string, as the services key theirs. */
interface Doc {
  _id: string;
  [field: string]: unknown;
}

const BATCH = 250;
const TRACKS = 200;

/** The server's user+system CPU in ms (its pid from `npm run infra:up`), or null if not ours. */
function serverCpuMs(): number | null {
  try {
    const infraDir = process.env.KILAT_INFRA_DIR ?? join(__dirname, "..", ".infra");
    const pid = readFileSync(join(infraDir, "run", "ferretdb.pid"), "utf8").split(" ")[0];
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

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
  serverMs: number | null;
  clientMs: number;
}

async function measure(shape: string, unit: string, count: number, run: () => Promise<void>) {
  const server = serverCpuMs();
  const client = clientCpuMs();
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  const serverAfter = serverCpuMs();
  return {
    shape,
    unit,
    count,
    wallMs,
    serverMs: server === null || serverAfter === null ? null : serverAfter - server,
    clientMs: clientCpuMs() - client,
  } satisfies Row;
}

async function main() {
  const env = { ...readInfraEnv(), ...process.env };
  const url = env.MONGO_URL;
  if (!url) throw new Error("MONGO_URL is not set: run `npm run infra:up` first");
  const connection = await mongoose
    .createConnection(url, { dbName: `bench_store_${Date.now()}` })
    .asPromise();
  const db = connection.db;
  if (!db) throw new Error("no database handle");
  const rows: Row[] = [];
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

    rows.push(
      await measure("insert one waypoint", "insert", OPS, async () => {
        for (let i = 0; i < OPS; i++) await waypoints.insertOne(waypoint(0, i));
      }),
    );
    // A stream of fixes from TRACKS runners, in time order, as the tracking consumer sees it.
    const fixes = Math.max(BATCH, OPS * 10);
    const calls = Math.round(fixes / BATCH);
    const stream = (call: number, i: number) => {
      const n = call * BATCH + i;
      return waypoint(1000 + (n % TRACKS), Math.floor(n / TRACKS));
    };
    rows.push(
      await measure(
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
      ),
    );
    rows.push(
      await measure(
        `the same, _id time first (waypointId)`,
        "waypoint",
        calls * BATCH,
        async () => {
          for (let call = 0; call < calls; call++)
            await timeFirst.insertMany(
              Array.from({ length: BATCH }, (_, i) => {
                const point = stream(call, i);
                return {
                  ...point,
                  _id: waypointId(point.track_id, point.recorded_at),
                };
              }),
              { ordered: false },
            );
        },
      ),
    );
    rows.push(
      await measure(`the same, one document a call`, "waypoint", calls * BATCH, async () => {
        for (let call = 0; call < calls; call++)
          await packed.insertOne({
            _id: `batch-${call}`,
            points: Array.from({ length: BATCH }, (_, i) => {
              const { _id, ...point } = stream(call, i);
              return { id: _id, ...point };
            }),
          });
      }),
    );
    await bookings.insertMany(
      Array.from({ length: OPS }, (_, i) => ({
        _id: `bk-${i}`,
        status: "requested",
        owner_id: `own-${i}`,
        pickup: { lat: -6.2, lng: 106.8 },
        dropoff: { lat: -6.25, lng: 106.85 },
        estimated_price_cents: 45_000,
        outbox: [],
        updated_at: new Date(),
      })),
    );
    rows.push(
      await measure("find one by _id", "find", OPS, async () => {
        for (let i = 0; i < OPS; i++) await bookings.findOne({ _id: `bk-${i}` });
      }),
    );
    rows.push(
      await measure("guarded update by _id + status, outbox push", "update", OPS, async () => {
        for (let i = 0; i < OPS; i++) {
          const result = await bookings.updateOne({ _id: `bk-${i}`, status: "requested" }, {
            $set: { status: "accepted", updated_at: new Date() },
            $push: { outbox: { id: `evt-${i}`, type: "booking.accepted", data: { i } } },
          } as never);
          if (result.modifiedCount !== 1) throw new Error(`bk-${i} was not updated`);
        }
      }),
    );
  } finally {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }

  const fmt = (value: number | null) => (value === null ? "—" : value.toFixed(3));
  console.log(`store floors on ${url.replace(/\/\/[^@]*@/, "//")} (sequential, one connection)`);
  console.log("| shape | per | count | wall ms | server CPU ms | client CPU ms |");
  console.log("|---|---|---|---|---|---|");
  for (const row of rows)
    console.log(
      `| ${row.shape} | ${row.unit} | ${row.count} | ${fmt(row.wallMs / row.count)} | ${fmt(
        row.serverMs === null ? null : row.serverMs / row.count,
      )} | ${fmt(row.clientMs / row.count)} |`,
    );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
