import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mongoose from "mongoose";
import {
  EmbeddedMongoUnavailable,
  startEmbeddedMongo,
  type EmbeddedMongo,
  type EmbeddedMongoOptions,
} from "../../lib/embedded-mongo";

/**
 * The embedded database's FerretDB path, for real: the binary that `scripts/infra.sh
 * ferretdb-bin` builds (or has cached), started on a folder of the test's own.
 */
/** Alive and not a zombie (nothing may reap an orphan here). */
const running = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
};

describe("embedded database (FerretDB engine)", () => {
  const dirs: string[] = [];
  const open: EmbeddedMongo[] = [];
  const lines: string[] = [];
  const options = (dataDir: string, extra: Partial<EmbeddedMongoOptions> = {}) => ({
    dataDir,
    engine: "ferretdb" as const,
    fresh: false,
    log: (line: string) => lines.push(line),
    ...extra,
  });
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), "kilat-embedded-"));
    dirs.push(dir);
    return dir;
  };
  const start = async (opts: EmbeddedMongoOptions) => {
    const db = await startEmbeddedMongo(opts);
    open.push(db);
    return db;
  };
  const stop = async (db: EmbeddedMongo) => {
    open.splice(open.indexOf(db), 1);
    await db.stop();
  };
  /** Runs `use` on the test collection of the database at `uri`. */
  const pets = async <T>(db: EmbeddedMongo, use: (c: mongoose.mongo.Collection) => Promise<T>) => {
    const connection = await mongoose
      .createConnection(db.uri, { dbName: "kilat-test" })
      .asPromise();
    try {
      return await use(connection.collection("pets"));
    } finally {
      await connection.close();
    }
  };
  const names = (db: EmbeddedMongo) =>
    pets(db, async (c) => (await c.find().toArray()).map((doc) => doc.name as string));
  const insert = (db: EmbeddedMongo, name: string) => pets(db, (c) => c.insertOne({ name }));

  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.stop()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps its data across a restart, and starts empty with fresh", async () => {
    const dataDir = folder();
    const first = await start(options(dataDir));
    expect([first.engine, first.uri]).toEqual([
      "ferretdb",
      expect.stringMatching(/^mongodb:\/\/127\.0\.0\.1:\d+\/\?maxPoolSize=8$/),
    ]);
    await insert(first, "Rex");
    await stop(first);
    expect(readFileSync(join(dataDir, "engine"), "utf8")).toEqual("ferretdb\n");

    const again = await start(options(dataDir));
    expect(await names(again)).toEqual(["Rex"]);
    await stop(again);

    const fresh = await start(options(dataDir, { fresh: true }));
    expect(await names(fresh)).toEqual([]);
    expect(lines).toContainEqual(`starting with empty data (--fresh): removing ${dataDir}`);
  }, 180_000);

  it("refuses a second Kilat on the same folder, and another engine on FerretDB's data", async () => {
    const dataDir = folder();
    const db = await start(options(dataDir));
    await insert(db, "Luna");
    // A live Node process other than this one holds the folder.
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    await new Promise((resolve) => holder.once("spawn", resolve));
    try {
      await stop(db);
      writeFileSync(join(dataDir, "kilat.pid"), `${holder.pid}\n`);
      await expect(startEmbeddedMongo(options(dataDir))).rejects.toEqual(
        new EmbeddedMongoUnavailable(
          `${dataDir} is in use by another Kilat process (pid ${holder.pid}); stop it, or set KILAT_DATA_DIR to another folder`,
        ),
      );
      // Even --fresh deletes nothing while the folder is held.
      await expect(startEmbeddedMongo(options(dataDir, { fresh: true }))).rejects.toThrow(
        "is in use by another Kilat process",
      );
      expect(existsSync(join(dataDir, "ferretdb"))).toBe(true);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((resolve) => holder.once("exit", resolve));
    }
    await expect(startEmbeddedMongo(options(dataDir, { engine: "mongod" }))).rejects.toEqual(
      new EmbeddedMongoUnavailable(
        `${dataDir} holds ferretdb's data, not mongod's; start with \`npm start -- --fresh\` to begin empty, or set KILAT_DATA_DIR to another folder`,
      ),
    );
  }, 180_000);

  it("replaces the FerretDB that a Kilat killed outright left running", async () => {
    const dataDir = folder();
    // A process that starts the database, writes, and is then killed with SIGKILL: no exit
    // handler runs, so its FerretDB is orphaned.
    const script = `
      const { startEmbeddedMongo } = require("./lib/embedded-mongo");
      const mongoose = require("mongoose");
      startEmbeddedMongo({ dataDir: ${JSON.stringify(dataDir)}, engine: "ferretdb", fresh: false, log() {} })
        .then(async (db) => {
          const connection = await mongoose.createConnection(db.uri, { dbName: "kilat-test" }).asPromise();
          await connection.collection("pets").insertOne({ name: "Kiwi" });
          await connection.close();
          console.log("written");
        });`;
    const victim = spawn(process.execPath, ["--import", "tsx", "-e", script], {
      cwd: join(__dirname, "..", ".."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) =>
      victim.stdout.on(
        "data",
        (chunk: Buffer) => chunk.toString().includes("written") && resolve(),
      ),
    );
    const orphan = Number(readFileSync(join(dataDir, "ferretdb.pid"), "utf8"));
    victim.kill("SIGKILL");
    await new Promise((resolve) => victim.once("exit", resolve));
    expect(running(orphan)).toBe(true);

    const db = await start(options(dataDir));
    expect(await names(db)).toEqual(["Kiwi"]);
    expect(running(orphan)).toBe(false);
  }, 180_000);
});
