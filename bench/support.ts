/** What the benchmarks share: percentiles, polling, REST calls and the server processes. */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import mongoose from "mongoose";
import { join } from "node:path";
import { ALL_TOPICS, PARTITIONS } from "../events/catalog";
import { KafkaEventBus } from "../adapters/event-bus";
import { readInfraEnv } from "../scripts/infra-env";
import { signToken } from "../lib/auth";
import { DEFAULT_JWT_SECRET } from "../lib/config";
import { smallJpeg } from "../test/support/handover";
import { CARRIES_ANYTHING, documentJpeg } from "../test/support/runners";
import type { Watched } from "./measure";

const ROOT = join(__dirname, "..");

/** The p-th percentile (nearest rank); NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 100 ms until `probe` is true (a throwing probe counts as false). */
export async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A REST answer other than 2xx: its status, for a caller that treats some as expected. */
export class RestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A JSON call with a bearer token; anything but 2xx throws a RestError with the answer. */
export async function rest(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answerOf(response, method, path);
}

/**
 * A photo sent as an app sends it: its bytes as the body (a JPEG by default), with a bearer
 * token; anything but 2xx throws a RestError with the answer.
 */
export async function upload(
  base: string,
  token: string,
  path: string,
  bytes: Buffer,
  contentType = "image/jpeg",
) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: new Uint8Array(bytes),
  });
  return answerOf(response, "POST", path);
}

async function answerOf(response: Response, method: string, path: string) {
  // A refusal that is not JSON (a shedding gateway's, a proxy's) still throws with its status.
  const json = (await response.json().catch((error: unknown) => {
    if (response.ok) throw error;
    return {};
  })) as Record<string, unknown>;
  if (!response.ok)
    throw new RestError(
      `${method} ${path} → ${response.status} ${JSON.stringify(json)}`,
      response.status,
    );
  return json;
}

/** A runner's bearer token, for runner id `sub`. */
export const runnerToken = (sub: string) => signToken({ sub, role: "runner" }, DEFAULT_JWT_SECRET);

const ADMIN = () => signToken({ sub: "bench-admin", role: "admin" }, DEFAULT_JWT_SECRET);

/**
 * Makes runner `sub` one that gets offers and may accept, as a real runner gets there (the
 * sequence of test/support/runners.ts): says it carries anything, uploads a document, asks for
 * verification, and an admin verifies it. A runner verified already is left as it is. Set-up,
 * not a lifecycle's: the benches call it before they measure.
 */
export async function verifyRunner(base: string, sub: string): Promise<void> {
  const token = runnerToken(sub);
  const profile = await rest(base, token, "PATCH", "/api/runners/me", CARRIES_ANYTHING);
  if ((profile.verification as { status?: string } | undefined)?.status === "verified") return;
  const document = await upload(base, token, "/api/runners/me/documents", await documentJpeg());
  await rest(base, token, "POST", "/api/runners/me/verification", {
    documents: [String(document.photo_id)],
  });
  const id = encodeURIComponent(String(profile.runner_id));
  await rest(base, ADMIN(), "POST", `/api/runners/${id}/verification`, { decision: "verified" });
}

/** Verifies every runner of `subs`, `parallel` at a time (a city's sign-ups, not a stampede). */
export async function verifyRunners(base: string, subs: string[], parallel = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, subs.length) }, async () => {
      while (next < subs.length) await verifyRunner(base, subs[next++]);
    }),
  );
}

/**
 * The runner's photo of the pet at a handover (`stage` pickup or dropoff) of booking `id`: its
 * photo_id, for the move's proof. `send` makes the request (a bench times it under its route).
 */
export async function proofPhoto(
  send: (path: string, bytes: Buffer) => Promise<Record<string, unknown>>,
  id: string,
  stage: "pickup" | "dropoff",
): Promise<string> {
  const photo = await send(`/api/bookings/${id}/photos?stage=${stage}`, await smallJpeg());
  return String(photo.photo_id);
}

/** The OpenTelemetry variables of the bench's own environment. */
const otelEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("OTEL_")));

/**
 * A tsx process of this repository. `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`
 * profiles every one. stdout is piped only when the caller reads it (else it could fill up).
 */
export function child(args: string[], env: NodeJS.ProcessEnv, readStdout = false): ChildProcess {
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const spawned = spawn(process.execPath, [...nodeArgs, "--import", "tsx", ...args], {
    cwd: ROOT,
    stdio: ["ignore", readStdout ? "pipe" : "ignore", "inherit"],
    // OTEL_* passes through, so a bench can measure Kilat with tracing on.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...otelEnv(), ...env },
  });
  // Profiles are named by pid: say which process each pid is, for `npm run bench -- profiles`.
  const dir = nodeArgs.find((arg) => arg.startsWith("--cpu-prof-dir="))?.split("=")[1];
  if (dir && spawned.pid) {
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, "processes.tsv"), `${spawned.pid}\t${env.SERVICES ?? args[0]}\n`);
  }
  return spawned;
}

export const stopChildren = (children: ChildProcess[]) =>
  Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) =>
          // Exited already, by itself or by a signal: nothing to wait for.
          c.exitCode !== null || c.signalCode !== null
            ? resolve(null)
            : (c.once("exit", resolve), c.kill("SIGTERM")),
        ),
    ),
  ).then(() => undefined);

/**
 * Drops the databases a bench run made (`<prefix>-<service>`), so runs do not pile up files in
 * FerretDB's data folder and each starts on the same server state. It runs in the benches'
 * `finally`: a failure here is printed, not thrown, so it cannot hide the error that ended the run.
 */
export async function dropDatabases(mongoUrl: string, prefix: string): Promise<void> {
  await dropEach(mongoUrl, prefix).catch((error: unknown) =>
    console.error(`bench: could not drop the ${prefix}-* databases: ${(error as Error).message}`),
  );
}

async function dropEach(mongoUrl: string, prefix: string): Promise<void> {
  const connection = await mongoose.createConnection(mongoUrl).asPromise();
  try {
    const db = connection.db;
    if (!db) return;
    const { databases } = await db.admin().listDatabases({ nameOnly: true });
    for (const { name } of databases.filter((d) => d.name.startsWith(`${prefix}-`)))
      await connection.useDb(name).dropDatabase();
  } finally {
    await connection.close();
  }
}

/** A port no one listens on now (the OS picks it), as the string an env var takes. */
export async function randomPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return String(port);
}

/**
 * Kilat as several `server.ts` processes (one per `SERVICES` value) on the servers of
 * `npm run infra:up`, with topics and databases of its own; resolves once the gateway is ready.
 */
export async function startDistributed(
  run: string,
  processes: string[],
  env: Record<string, string>,
): Promise<{
  url: string;
  stop: () => Promise<void>;
  /** Each process: `kilat <its SERVICES>`, its pid and node id. */
  watched: Watched[];
  transport: { url: string; namespace: string };
}> {
  const infra = { ...readInfraEnv(), ...process.env };
  for (const name of ["TRANSPORTER", "KAFKA_BROKERS", "MONGO_URL", "REDIS_URL"]) {
    if (!infra[name]) throw new Error(`distributed mode needs ${name}: run npm run infra:up`);
  }
  const prefix = `${run}.`;
  const topics = new KafkaEventBus({
    brokers: String(infra.KAFKA_BROKERS).split(","),
    clientId: "bench",
    topicPrefix: prefix,
  });
  await topics.ensureTopics(ALL_TOPICS, PARTITIONS);
  await topics.close();
  const port = await randomPort();
  const nodeOf = (services: string) => `${run}-${services.replace(/,/g, "-")}`;
  const children = processes.map((services) =>
    child(["server.ts"], {
      ...env,
      SERVICES: services,
      PORT: port,
      NODE_ID: nodeOf(services),
      NAMESPACE: run,
      TRANSPORTER: infra.TRANSPORTER,
      REDIS_URL: infra.REDIS_URL,
      KAFKA_BROKERS: infra.KAFKA_BROKERS,
      KAFKA_TOPIC_PREFIX: prefix,
      MONGO_URL: infra.MONGO_URL,
      MONGO_DB_PREFIX: run,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await until("the processes to be ready", async () => (await fetch(`${url}/ready?all=true`)).ok);
  } catch (error) {
    await stopChildren(children);
    throw error;
  }
  return {
    url,
    stop: () => stopChildren(children),
    watched: processes.map((services, i) => ({
      name: `kilat ${services}`,
      pid: children[i].pid ?? -1,
      nodeID: nodeOf(services),
    })),
    transport: { url: String(infra.TRANSPORTER), namespace: run },
  };
}
