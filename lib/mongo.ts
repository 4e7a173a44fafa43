import { join } from "node:path";
import type { ServiceBroker } from "moleculer";
import mongoose, { type Connection, type Model } from "mongoose";
import type { Config } from "./config";
import { startEmbeddedMongo, type EmbeddedMongo } from "./embedded-mongo";
import { collectionOf, isDuplicateKey } from "../adapters/mongo-driver";
import { PROJECT_ROOT } from "./paths";

/** The driver's view of a model, shared with the adapters below lib/ (adapters/mongo-driver.ts). */
export { collectionOf, isDuplicateKey };

let embedded: Promise<EmbeddedMongo> | undefined;

/**
 * Starts the embedded database (once per process) unless MONGO_URL names one. The server
 * process calls it first, so that `--fresh` applies and a missing database is a clean exit.
 */
export function openEmbeddedMongo(config: Config, fresh = false): Promise<EmbeddedMongo> {
  embedded ??= startEmbeddedMongo({
    dataDir: config.dataDir ?? join(PROJECT_ROOT, ".kilat"),
    engine: config.embeddedDb,
    fresh,
    log: (line) => console.log(`[kilat] ${line}`),
  }).catch((error: unknown) => {
    embedded = undefined;
    throw error;
  });
  return embedded;
}

/** MONGO_URL when set; otherwise the embedded database, started on first use. */
export async function mongoUrl(config: Config): Promise<string> {
  return config.mongoUrl ?? (await openEmbeddedMongo(config)).uri;
}

export async function stopEmbeddedMongo(): Promise<void> {
  const server = embedded;
  embedded = undefined;
  if (server) await (await server).stop();
}

/** One database per service: `<MONGO_DB_PREFIX>-<service>`. */
export async function connectServiceDb(
  config: Config,
  service: string,
  /** A pool of its own size, instead of the URL's `maxPoolSize` (the background pool). */
  maxPoolSize?: number,
): Promise<Connection> {
  const connection = mongoose.createConnection(await mongoUrl(config), {
    dbName: `${config.mongoDbPrefix}-${service}`,
    ...(maxPoolSize === undefined ? {} : { maxPoolSize }),
    serverSelectionTimeoutMS: 5000,
    // FerretDB has no retryable writes on its SQLite backend.
    retryWrites: false,
    // Indexes are made by ensureIndexes, which knows which ones the server will use.
    autoIndex: false,
    // Each command is counted (`countCommands`): what a lifecycle costs the database.
    monitorCommands: true,
  });
  await connection.asPromise();
  return connection;
}

type Metrics = ServiceBroker["metrics"];

/**
 * Counts every command the driver sends (`kilat_db_commands_total{db, command, collection}` on /metrics and
 * in `$node.metrics`): the benchmarks divide it by the work done.
 */
export function countCommands(
  connection: Connection,
  metrics: Metrics,
  db: string,
  pool: "requests" | "background" = "requests",
): void {
  const labelNames = ["db", "command", "collection"];
  if (!metrics.hasMetric("kilat.db.commands.total")) {
    metrics.register({
      type: "counter",
      name: "kilat.db.commands.total",
      labelNames,
      description: "Commands sent to the database, by service database, command and collection",
    });
    metrics.register({
      type: "counter",
      name: "kilat.db.pool.checkouts.total",
      labelNames: ["db", "pool"],
      description: "Connections taken from the service's database pool",
    });
    metrics.register({
      type: "counter",
      name: "kilat.db.pool.wait.seconds.total",
      labelNames: ["db", "pool"],
      description: "Seconds waited for a connection from the service's database pool, summed",
    });
    metrics.register({
      type: "counter",
      name: "kilat.db.command.seconds.total",
      labelNames,
      description:
        "Seconds from sending a database command to its answer, summed, by service database, command and collection",
    });
  }
  type Labels = { db: string; command: string; collection: string };
  const inFlight = new Map<number, Labels>();
  const client = connection.getClient();
  client.on(
    "commandStarted",
    (event: { requestId: number; commandName: string; command: Record<string, unknown> }) => {
      const target = event.command[event.commandName];
      const collection = typeof target === "string" ? target : "";
      const labels = { db, command: event.commandName, collection };
      inFlight.set(event.requestId, labels);
      metrics.increment("kilat.db.commands.total", labels);
    },
  );
  // Where the database's time goes, as each service waits for it (queueing in the server included).
  const answered = (event: { requestId: number; duration: number }) => {
    const labels = inFlight.get(event.requestId);
    if (!labels) return;
    inFlight.delete(event.requestId);
    // The driver times in milliseconds; Prometheus' base unit is the second.
    metrics.increment("kilat.db.command.seconds.total", labels, event.duration / 1000);
  };
  client.on("commandSucceeded", answered);
  client.on("commandFailed", answered);
  // How long work waited for one of the pool's connections (maxPoolSize): a pool too small for
  // the service's requests and background work together shows here, not in the commands' times.
  client.on("connectionCheckedOut", (event: { durationMS: number }) => {
    metrics.increment("kilat.db.pool.checkouts.total", { db, pool });
    metrics.increment("kilat.db.pool.wait.seconds.total", { db, pool }, event.durationMS / 1000);
  });
}

/** FerretDB answers `buildInfo` with its own version next to the MongoDB one it speaks. */
export async function isFerretDb(connection: Connection): Promise<boolean> {
  const db = connection.db;
  if (!db) throw new Error("not connected");
  const info = await db.admin().command({ buildInfo: 1 });
  return typeof info.ferretdbVersion === "string";
}

type IndexArgs = Parameters<Model<unknown>["collection"]["createIndex"]>;

/**
 * Creates the indexes a model's schema declares. On FerretDB only the unique ones: FerretDB 1.x
 * on SQLite narrows a query by `_id` alone and never reads a secondary index, while every insert
 * and update pays to maintain each one (SQLite parses the whole JSON document per indexed
 * expression). A unique index is kept there because it is a rule, not a speed-up.
 */
export async function ensureIndexes(
  model: Pick<Model<unknown>, "schema" | "collection">,
  onFerretDb: boolean,
): Promise<void> {
  for (const [fields, { unique: declared, ...options }] of model.schema.indexes()) {
    const unique = Array.isArray(declared) ? declared[0] : declared === true;
    if (onFerretDb && !unique) continue;
    await model.collection.createIndex(fields as IndexArgs[0], { ...options, unique });
  }
}

/** For writes whose `_id` encodes "already done": a duplicate key means it was. */
export function ignoreDuplicateKey(error: unknown): void {
  if (!isDuplicateKey(error)) throw error;
}
