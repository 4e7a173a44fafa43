/**
 * What a bench run cost, per process: CPU time (utime + stime from /proc) of every Kilat process,
 * of Kafka, Redis and the database (the pid files of `npm run infra:up`) and of the load
 * generator itself, and the database commands each Kilat process sent (the driver's command
 * monitor, `kilat.db.commands.total`), divided by the work the run completed.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ServiceBroker } from "moleculer";
import { redisOptions } from "../moleculer.config";
import { signToken } from "../lib/auth";
import { DEFAULT_JWT_SECRET } from "../lib/config";

const ROOT = join(__dirname, "..");
/** /proc counts CPU time in clock ticks; Linux has 100 a second on every machine here. */
const TICK_MS = 10;

/** A process the run watches, by what it is. */
export interface Watched {
  name: string;
  pid: number;
  /** The Moleculer node it is (Kilat's processes), for its database counters. */
  nodeID?: string;
  /** Count its child processes too (PostgreSQL serves each connection from one). */
  withChildren?: boolean;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
const statOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");

/**
 * User + system CPU time of a process, in ms (NaN when it is gone); `withChildren`: also of its
 * live children, and of those that exited and were waited for (cutime + cstime).
 */
export function cpuMs(pid: number, withChildren = false): number {
  try {
    const fields = statOf(pid); // utime is the 12th field here, stime the 13th
    const own = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    if (!withChildren) return own;
    let children = (Number(fields[13]) + Number(fields[14])) * TICK_MS;
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const child = statOf(Number(entry));
        if (Number(child[1]) === pid) children += cpuMs(Number(entry), true);
      } catch {
        // gone meanwhile
      }
    }
    return own + children;
  } catch {
    return NaN;
  }
}

/**
 * The MongoDB-compatible servers a bench can run on, by the pid files their scripts write under
 * .infra/run: FerretDB on SQLite (`npm run infra:up`) and the stand-ins of scripts/stand-ins/.
 */
export const DATABASES: Record<string, { pidFiles: string[]; withChildren?: boolean }> = {
  ferretdb: { pidFiles: ["ferretdb"] },
  "ferretdb-postgres": { pidFiles: ["ferretdb-pg", "postgres"], withChildren: true },
  "mongo-java-server": { pidFiles: ["mongo-java-server"] },
};

/** The pid a pid file of .infra/run names, if that process runs. */
function pidFrom(file: string): number | undefined {
  try {
    const run = join(process.env.KILAT_INFRA_DIR ?? join(ROOT, ".infra"), "run");
    const pid = Number(readFileSync(join(run, `${file}.pid`), "utf8").split(" ")[0]);
    return Number.isInteger(pid) && !Number.isNaN(cpuMs(pid)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A database's processes, named `database (<name>)`, or the one process of its pid file. */
export function databaseProcesses(database: string): Watched[] {
  const known = DATABASES[database];
  if (!known)
    throw new Error(`unknown database ${database} (${Object.keys(DATABASES).join(", ")})`);
  return known.pidFiles.flatMap((file) => {
    const pid = pidFrom(file);
    const name = known.pidFiles.length > 1 ? `database (${file})` : `database (${database})`;
    return pid ? [{ name, pid, withChildren: known.withChildren }] : [];
  });
}

/**
 * Kafka, Redis and the database as `npm run infra:up` started them (skipped when it did not);
 * the database is `BENCH_DATABASE` (one of DATABASES, FerretDB by default) when MONGO_URL points
 * the run at a stand-in.
 */
export function infraProcesses(): Watched[] {
  const servers = [
    ["kafka", "kafka"],
    ["redis", "redis"],
  ].flatMap(([name, file]) => {
    const pid = pidFrom(file);
    return pid ? [{ name, pid }] : [];
  });
  return [...servers, ...databaseProcesses(process.env.BENCH_DATABASE ?? "ferretdb")];
}

export type Costs = Record<string, number>;

/** CPU ms per process from `start` to `stop`; the load generator is this process. */
export class CpuMeter {
  private before = new Map<string, number>();
  private self = process.cpuUsage();

  constructor(private readonly processes: Watched[]) {}

  start(): void {
    this.self = process.cpuUsage();
    this.before = new Map(this.processes.map((p) => [p.name, cpuMs(p.pid, p.withChildren)]));
  }

  stop(): Costs {
    const self = process.cpuUsage(this.self);
    const costs: Costs = {};
    for (const p of this.processes)
      costs[p.name] = cpuMs(p.pid, p.withChildren) - (this.before.get(p.name) ?? NaN);
    costs["load generator"] = (self.user + self.system) / 1000;
    return costs;
  }
}

/** Probe nodes made so far: each read's node has a name of its own. */
let probes = 0;

/**
 * The database commands Kilat's processes sent so far, as `<service db> <command> <collection>`
 * counts: each
 * node's `kilat.db.commands.total` counter, asked over the transporter (`$node.metrics`); without one,
 * the single process's Prometheus text (`/metrics`).
 */
export async function databaseCommands(
  processes: Watched[],
  gateway: string,
  transport?: { url: string; namespace: string },
  metric:
    | "kilat.db.commands.total"
    | "kilat.db.command.seconds.total"
    | "kilat.db.pool.checkouts.total"
    | "kilat.db.pool.wait.seconds.total" = "kilat.db.commands.total",
): Promise<Costs> {
  const counts: Costs = {};
  /** `<db>[ <pool>][ <command> <collection>]`: the labels the metric has, in that order. */
  const add = (labels: Record<string, string>, value: number) => {
    const key = [labels.db, labels.pool, labels.command, labels.collection]
      .filter((label) => label !== undefined)
      .join(" ");
    counts[key] = (counts[key] ?? 0) + value;
  };
  const nodes = processes.filter((p) => p.nodeID);
  if (!transport || nodes.length === 0) {
    // /metrics is for admins: the bench's processes run with the development secret.
    const admin = signToken({ sub: "bench", role: "admin" }, DEFAULT_JWT_SECRET);
    const text = await (
      await fetch(`${gateway}/metrics`, { headers: { authorization: `Bearer ${admin}` } })
    ).text();
    const prometheus = metric.replace(/\./g, "_");
    for (const line of text.split("\n")) {
      const m = /^(\w+)\{([^}]*)\} ([\d.e+-]+)$/.exec(line);
      if (!m || m[1] !== prometheus) continue;
      const labels = Object.fromEntries(
        [...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]),
      );
      add(labels, Number(m[3]));
    }
    return counts;
  }
  const probe = new ServiceBroker({
    namespace: transport.namespace,
    // One node per read: reads run side by side, and two nodes of one name stop each other.
    nodeID: `bench-probe-${process.pid}-${++probes}`,
    transporter: { type: "Redis", options: redisOptions(transport.url) },
    logger: false,
  });
  await probe.start();
  try {
    for (const node of nodes) {
      const metrics = await probe.call<
        { name: string; values: { labels: Record<string, string>; value: number }[] }[],
        { includes: string }
      >("$node.metrics", { includes: metric }, { nodeID: node.nodeID });
      for (const value of metrics.filter((m) => m.name === metric).flatMap((m) => m.values))
        add(value.labels, value.value);
    }
  } finally {
    await probe.stop();
  }
  return counts;
}

/** Per service database: connections taken from its pool, and the mean and total wait for one. */
export function printPoolWaits(
  checkouts: Costs,
  waited: Costs,
  units: number,
  unit: string,
): Costs {
  const out: Costs = {};
  const parts = Object.entries(checkouts)
    .filter(([, count]) => count > 0)
    .map(([db, count]) => {
      const ms = waited[db] ?? 0;
      out[`${db} wait ms/checkout`] = Number((ms / count).toFixed(3));
      return `${db} ${(count / units).toFixed(1)} × ${(ms / count).toFixed(2)} ms`;
    });
  console.log(
    `  connection pool: checkouts / ${unit} × mean wait for a connection: ${parts.join(", ")}`,
  );
  return out;
}

export const difference = (after: Costs, before: Costs): Costs =>
  Object.fromEntries(
    Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]),
  );

/** The reads and writes a unit of work cost, by kind, from the counters' difference. */
export function perUnit(costs: Costs, units: number, digits = 2): Costs {
  return Object.fromEntries(
    Object.entries(costs).map(([key, value]) => [key, Number((value / units).toFixed(digits))]),
  );
}

/**
 * One table: CPU ms per unit of work, and share of a core over the run, per process; with an
 * idle window, also each process's share of a core with nothing to do (its fixed cost).
 */
export function printCpu(
  costs: Costs,
  units: number,
  unit: string,
  seconds: number,
  idle?: { costs: Costs; seconds: number },
): Costs {
  const per = perUnit(costs, units, 3);
  const share = (ms: number, s: number) => ((100 * ms) / (s * 1000)).toFixed(1).padStart(12);
  console.log(
    `  ${"process".padEnd(34)} ${`CPU ms / ${unit}`.padStart(18)} ${"% of a core".padStart(12)}` +
      (idle ? ` ${"idle % core".padStart(12)}` : ""),
  );
  const kilat = Object.entries(costs).filter(([name]) => name.startsWith("kilat "));
  for (const [name, ms] of Object.entries(costs)) {
    console.log(
      `  ${name.padEnd(34)} ${per[name].toFixed(3).padStart(18)} ${share(ms, seconds)}` +
        (idle ? ` ${share(idle.costs[name] ?? NaN, idle.seconds)}` : ""),
    );
  }
  const project = kilat.reduce((sum, [, ms]) => sum + ms, 0);
  if (kilat.length > 0) {
    console.log(
      `  ${"Kilat's processes together".padEnd(34)} ${(project / units).toFixed(3).padStart(18)}`,
    );
  }
  return { ...per, "kilat (all)": Number((project / units).toFixed(3)) };
}

/**
 * The commands per unit of work: by kind, in all, and by service database; with `ms` (each
 * command's wait summed, kilat.db.command.seconds.total in ms), where the services' database time
 * went.
 */
export function printCommands(commands: Costs, units: number, unit: string, ms?: Costs): Costs {
  const KINDS = ["find", "insert", "update", "findAndModify", "delete", "aggregate", "count"];
  const sum = (pick: (db: string, kind: string, collection: string) => string | undefined) => {
    const out: Costs = {};
    for (const [key, count] of Object.entries(commands)) {
      const [db, kind, collection = ""] = key.split(" ");
      const bucket = KINDS.includes(kind) ? pick(db, kind, collection) : undefined;
      if (bucket && count > 0) out[bucket] = (out[bucket] ?? 0) + count;
    }
    return perUnit(out, units);
  };
  const byKind = sum((_db, kind) => kind);
  const byDb = sum((db) => db);
  const all = Object.values(byKind).reduce((total, n) => total + n, 0);
  const line = (costs: Costs) =>
    Object.entries(costs)
      .map(([name, n]) => `${name} ${n}`)
      .join(", ");
  console.log(`  database commands / ${unit}: ${all.toFixed(1)} — ${line(byKind)}`);
  console.log(`    by service: ${line(byDb)}`);
  const detail = sum((db, kind, collection) => `${db} ${kind} ${collection}`);
  console.log(`    ${line(detail)}`);
  if (ms) {
    const waits = Object.entries(perUnit(ms, units, 1))
      .filter(([, value]) => value > 0)
      .sort(([, a], [, b]) => b - a);
    const total = waits.reduce((sum, [, value]) => sum + value, 0);
    console.log(
      `  database wait ms / ${unit} (sent → answered, summed over commands): ${total.toFixed(1)}`,
    );
    console.log(`    ${waits.map(([name, value]) => `${name} ${value}`).join(", ")}`);
  }
  return {
    ...byKind,
    all: Number(all.toFixed(2)),
    ...Object.fromEntries(Object.entries(byDb).map(([db, n]) => [`db ${db}`, n])),
  };
}
