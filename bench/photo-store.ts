/**
 * `npx tsx bench/photo-store.ts [--stored-mb 50] [--rounds 10] [--json]`
 *
 * What storing and reading one photo costs the MongoDB adapter (adapters/photo-store/mongo.ts) on
 * the server of MONGO_URL (`npm run infra:up`: FerretDB on SQLite, the embedded default's
 * engine), once `--stored-mb` of photos are already stored: put and get of a 5 MB and of a
 * 100 KB photo, median and slowest of `--rounds`. Beside it, the same 100 KB read through the
 * driver's GridFSBucket, which finds a file's chunks by `files_id`: the reason the adapter keys
 * its chunks by `_id` instead.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import mongoose from "mongoose";
import { MongoPhotoStore } from "../adapters/photo-store";
import { readInfraEnv } from "../scripts/infra-env";
import { metaFor as meta } from "../test/contract/photo-store.contract";

const { values: options } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "photo-store"),
  options: {
    "stored-mb": { type: "string", default: "50" },
    rounds: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});
const STORED_MB = Number(options["stored-mb"]);
const ROUNDS = Number(options.rounds);
const MB = 1024 * 1024;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return { median_ms: Math.round(median * 10) / 10, max_ms: Math.round(sorted.at(-1)! * 10) / 10 };
}

async function main() {
  const url = process.env.MONGO_URL ?? readInfraEnv().MONGO_URL;
  if (!url) throw new Error("MONGO_URL is not set: run `npm run infra:up` first");
  const dbName = `bench-photos-${Date.now().toString(36)}`;
  const connection = await mongoose.createConnection(url, { dbName, autoIndex: false }).asPromise();
  const store = new MongoPhotoStore(connection);
  try {
    const filler = randomBytes(5 * MB);
    for (let stored = 0; stored < STORED_MB; stored += 5) {
      await store.put(meta(filler), filler);
    }
    const results: Record<string, { median_ms: number; max_ms: number }> = {};
    for (const [name, size] of [
      ["5 MB", 5 * MB],
      ["100 KB", 100 * 1024],
    ] as const) {
      const puts: number[] = [];
      const gets: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const data = randomBytes(size);
        const photo = meta(data);
        puts.push(await timed(() => store.put(photo, data)));
        gets.push(await timed(() => store.get(photo._id)));
      }
      results[`put ${name}`] = summary(puts);
      results[`get ${name}`] = summary(gets);
    }
    // The driver's GridFS on the same server and amount of data, for the comparison.
    const bucket = new mongoose.mongo.GridFSBucket(connection.db!, { bucketName: "gridfs" });
    for (let stored = 0; stored < STORED_MB; stored += 5) {
      await new Promise((resolve, reject) =>
        bucket.openUploadStream("filler").on("finish", resolve).on("error", reject).end(filler),
      );
    }
    const small = randomBytes(100 * 1024);
    const id = await new Promise<unknown>((resolve, reject) => {
      const stream = bucket.openUploadStream("small");
      stream
        .on("finish", () => resolve(stream.id))
        .on("error", reject)
        .end(small);
    });
    const gridReads: number[] = [];
    for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
      gridReads.push(
        await timed(async () => {
          const parts: Buffer[] = [];
          for await (const part of bucket.openDownloadStream(id as mongoose.mongo.ObjectId)) {
            parts.push(part as Buffer);
          }
        }),
      );
    }
    results["GridFSBucket get 100 KB (for comparison)"] = summary(gridReads);
    if (options.json) {
      console.log(JSON.stringify({ stored_mb: STORED_MB, rounds: ROUNDS, results }, null, 2));
    } else {
      console.log(`photo store on ${url.replace(/\/\/[^@]*@/, "//")} with ${STORED_MB} MB stored:`);
      for (const [name, { median_ms, max_ms }] of Object.entries(results)) {
        console.log(`  ${name.padEnd(42)} median ${median_ms} ms, slowest ${max_ms} ms`);
      }
    }
  } finally {
    await connection.dropDatabase();
    await connection.close();
  }
}

void main();
