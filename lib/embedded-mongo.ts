import { spawn, type ChildProcess } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { PROJECT_ROOT } from "./paths";

/**
 * The embedded default's database. MongoDB's own `mongod` (through mongodb-memory-server) where
 * it can be had: on PATH, already cached, or downloaded. Where it cannot (no route to MongoDB's
 * download site), FerretDB — the MongoDB wire protocol over SQLite — built once from the Go
 * module proxy by `scripts/infra.sh ferretdb-bin` and cached. Either way the data lives in one
 * folder and survives a restart; the folder records which engine wrote it, so a restart uses
 * that engine again (the two cannot read each other's files).
 */
export type Engine = "mongod" | "ferretdb";

export interface EmbeddedMongo {
  uri: string;
  engine: Engine;
  stop(): Promise<void>;
}

export interface EmbeddedMongoOptions {
  dataDir: string;
  /** `auto`: mongod where it can be had, else FerretDB. */
  engine: Engine | "auto";
  /** Start with an empty folder. */
  fresh: boolean;
  /** Progress lines (a first start builds or downloads: about a minute). */
  log: (line: string) => void;
}

export class EmbeddedMongoUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EmbeddedMongoUnavailable";
  }
}

export async function startEmbeddedMongo(options: EmbeddedMongoOptions): Promise<EmbeddedMongo> {
  const { dataDir, fresh, log, engine } = options;
  if (fresh) {
    claimDataDir(dataDir); // refuses while another Kilat uses it, before anything is deleted
    log(`starting with empty data (--fresh): removing ${dataDir}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  claimDataDir(dataDir);
  const markerFile = join(dataDir, "engine");
  const recorded = existsSync(markerFile)
    ? (readFileSync(markerFile, "utf8").trim() as Engine)
    : undefined;

  if (recorded && engine !== "auto" && recorded !== engine) {
    throw new EmbeddedMongoUnavailable(
      `${dataDir} holds ${recorded}'s data, not ${engine}'s; start with \`npm start -- --fresh\` ` +
        "to begin empty, or set KILAT_DATA_DIR to another folder",
    );
  }
  const wanted = recorded ?? engine;

  // Why mongod is not used, for the messages below.
  let notMongod = recorded ? `${dataDir} holds FerretDB's data` : "KILAT_EMBEDDED_DB=ferretdb";
  if (wanted !== "ferretdb") {
    try {
      const mongod = await startMongod(dataDir);
      writeFileSync(markerFile, "mongod\n");
      return mongod;
    } catch (error) {
      notMongod = `mongod is not available: ${firstLine(error)}`;
    }
    if (wanted === "mongod") {
      throw new EmbeddedMongoUnavailable(
        `${notMongod}, and ${recorded ? `${dataDir} holds mongod's data` : "KILAT_EMBEDDED_DB=mongod asks for it"}. ` +
          "Install MongoDB, start with `npm start -- --fresh` to begin empty, or set MONGO_URL=mongodb://…",
      );
    }
    log(`${notMongod}; using FerretDB instead`);
  }
  const ferret = await startFerretDb(dataDir, log, notMongod);
  writeFileSync(markerFile, "ferretdb\n");
  return ferret;
}

// ------------------------------------------------------------------ mongod

async function startMongod(dataDir: string): Promise<EmbeddedMongo> {
  const { MongoBinary, MongoMemoryServer } = await import("mongodb-memory-server");
  const systemBinary = onPath("mongod");
  const binary = systemBinary ? { systemBinary } : {};
  // Find or fetch mongod first: a failure is then one line, not the library's console report.
  await MongoBinary.getPath(binary);
  const dbPath = join(dataDir, "mongod");
  mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({
    binary,
    instance: { dbPath, storageEngine: "wiredTiger" },
  });
  return {
    uri: server.getUri(),
    engine: "mongod",
    // A given dbPath is never deleted by the library's cleanup: the data stays for next time.
    stop: async () => void (await server.stop({ doCleanup: false })),
  };
}

// ------------------------------------------------------------------ FerretDB

async function startFerretDb(
  dataDir: string,
  log: (line: string) => void,
  notMongod: string,
): Promise<EmbeddedMongo> {
  const binary = await ferretDbBinary(log, notMongod);
  await stopOrphan(join(dataDir, "ferretdb.pid"));
  const sqliteDir = join(dataDir, "ferretdb");
  mkdirSync(sqliteDir, { recursive: true });
  mkdirSync(join(dataDir, "ferretdb-state"), { recursive: true });
  const port = await freePort();
  const logFile = openSync(join(dataDir, "ferretdb.log"), "a");
  const started = Date.now();
  // Its own process group: Ctrl-C reaches Kilat, which stops its services (their last writes
  // included) before it stops the database.
  const child = spawn(
    binary,
    [
      "--handler=sqlite",
      `--sqlite-url=file:${sqliteDir}/?_pragma=synchronous(normal)`,
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${join(dataDir, "ferretdb-state")}`,
      "--debug-addr=-",
      "--telemetry=disable",
      "--log-level=warn",
    ],
    { detached: true, stdio: ["ignore", logFile, logFile] },
  );
  closeSync(logFile);
  writeFileSync(join(dataDir, "ferretdb.pid"), `${child.pid}\n`);
  // However this process ends, the database does not outlive it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  await waitForPort(port, child, 30_000).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw new EmbeddedMongoUnavailable(
      `FerretDB did not start (${firstLine(error)}); see ${join(dataDir, "ferretdb.log")}`,
    );
  });
  log(`FerretDB serving ${sqliteDir} on 127.0.0.1:${port} (up in ${Date.now() - started} ms)`);
  return {
    // Several connections per service: the build makes single-document writes atomic
    // (scripts/infra.sh says more, and why eight).
    uri: `mongodb://127.0.0.1:${port}/?maxPoolSize=8`,
    engine: "ferretdb",
    async stop() {
      process.removeListener("exit", killOnExit);
      await stopChild(child);
      rmSync(join(dataDir, "ferretdb.pid"), { force: true });
    },
  };
}

/**
 * Builds FerretDB on first use (about a minute on a fresh machine), else the cached binary: the
 * same build as `infra:up`'s, with the same patches (scripts/ferretdb-*.patch), so embedded mode
 * gets FerretDB's `_id` lookups through the index and its atomic single-document writes. A
 * cached binary built with other patches is not reused.
 */
async function ferretDbBinary(log: (line: string) => void, notMongod: string): Promise<string> {
  const unavailable = (why: string) =>
    new EmbeddedMongoUnavailable(
      `No database for the embedded mode: ${notMongod}, and FerretDB cannot be had (${why}). ` +
        "Install Go (https://go.dev/dl/) to build FerretDB, or MongoDB, " +
        "or set MONGO_URL=mongodb://… (for example after `npm run infra:up`).",
    );
  if (!onPath("bash")) throw unavailable("bash is not installed");
  const child = spawn("bash", [join(PROJECT_ROOT, "scripts", "infra.sh"), "ferretdb-bin"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let path = "";
  let lastLine = "";
  child.stdout.on("data", (chunk: Buffer) => (path += chunk.toString()));
  createInterface({ input: child.stderr }).on("line", (line) => {
    lastLine = line.replace(/^\[infra\] (error: )?/, "");
    log(line);
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (code !== 0 || !path.trim()) throw unavailable(lastLine || `exit ${code}`);
  return path.trim();
}

// ------------------------------------------------------------------ process bookkeeping

/** One Kilat per data folder: a second one would share (and corrupt) the same files. */
function claimDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, "kilat.pid");
  const holder = livePid(lock, "node");
  if (holder !== undefined && holder !== process.pid) {
    throw new EmbeddedMongoUnavailable(
      `${dataDir} is in use by another Kilat process (pid ${holder}); stop it, or set KILAT_DATA_DIR to another folder`,
    );
  }
  writeFileSync(lock, `${process.pid}\n`);
}

/** A FerretDB left running by a Kilat that was killed outright; waits until it is gone. */
async function stopOrphan(pidFile: string): Promise<void> {
  const pid = livePid(pidFile, "ferretdb");
  if (pid === undefined) return;
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

/** The pid a file names, if that process runs and its command line mentions `marker`. */
function livePid(file: string, marker: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !running(pid)) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker) ? pid : undefined;
  } catch {
    return pid; // no /proc: trust the live pid
  }
}

/** Alive and not a zombie (an orphan's zombie lingers where nothing reaps it). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // The state follows the parenthesised command name: "123 (ferretdb) Z …".
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`it exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" });
      socket.once("connect", () => resolve(socket.end() !== undefined));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`no answer on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** "getaddrinfo ENOTFOUND fastdl.mongodb.org" rather than a page of download diagnostics. */
function firstLine(error: unknown): string {
  const { msg, message } = error as { msg?: string; message?: string };
  const text = msg ?? message ?? String(error);
  const cause = /(getaddrinfo \w+ [\w.-]+|connect \w+ [\d.:]+)/.exec(text)?.[1];
  return cause ?? text.split("\n")[0].trim();
}
