import { Redis } from "ioredis";
import mongoose, { type Connection } from "mongoose";
import type { ServiceBroker } from "moleculer";
import { SERVICE_NAMES, type ServiceName } from "./config";
import { mongoUrl } from "./mongo";
import type { Runtime } from "./runtime";

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface Readiness {
  status: "ready" | "not_ready";
  checks: Record<string, CheckResult>;
}

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref(),
    ),
  ]);

async function timed(
  name: string,
  check: () => Promise<unknown>,
  log: (message: string) => void,
): Promise<CheckResult> {
  const started = performance.now();
  try {
    await withTimeout(check(), 2000);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    // The details (hosts, ports) go to the log; the public answer only says it failed.
    log(`readiness: ${name} failed: ${(error as Error).message}`);
    const ms = Math.round(performance.now() - started);
    return { ok: false, ms, error: ms >= 2000 ? "timeout" : "unreachable" };
  }
}

/** The services that keep a Redis client of their own (the socket adapter and limits; geo). */
const USES_REDIS: readonly ServiceName[] = ["api", "runner"];

/** Liveness: the process answers. */
export function liveness(broker: ServiceBroker) {
  return { status: "ok", node: broker.nodeID, uptime_s: Math.round(process.uptime()) };
}

/**
 * Probes what this process needs, each with its own small client: its MongoDB and event bus when
 * it hosts a domain service (the gateway uses neither to serve), Redis when it hosts a service
 * that keeps a client, the transporter when there is one. Not other processes' services: one
 * service without an instance would take every gateway out of rotation, where its calls alone
 * fail (503) and the rest of the API keeps working. Nor a third party: Stripe's reachability is a
 * metric of the payment process (stripe-watch.ts). From the moment the broker stops, the answer is
 * "not ready" without asking anything, so a load balancer stops sending work at once.
 * `wholeSystem` adds that every service has a live instance somewhere: for a script or a test
 * waiting for a whole deployment to come up, not for a load balancer.
 */
let processStopping = false;

/**
 * The process was told to stop (SIGTERM): not ready from now on, whatever the stop waits for
 * before the broker stops.
 */
export function markProcessStopping(): void {
  processStopping = true;
}

/** How long a readiness answer is reused. */
const READY_REUSE_MS = 1000;

export class ReadinessProbe {
  private redis: Redis | undefined;
  private mongo: Connection | undefined;
  /** The last answer per kind of check, reused for a second: probes are public and cost I/O. */
  private readonly recent = new Map<boolean, { at: number; answer: Promise<Readiness> }>();

  constructor(
    private readonly broker: ServiceBroker,
    private readonly runtime: Runtime,
  ) {}

  check({ wholeSystem = false } = {}): Promise<Readiness> {
    if (processStopping || !this.broker.started) return this.inspect(wholeSystem);
    // One check at a time, its answer shared for a second: concurrent probes cannot open two
    // connections, nor a flood of them make a database round trip each.
    const last = this.recent.get(wholeSystem);
    if (last && Date.now() - last.at < READY_REUSE_MS) return last.answer;
    const answer = this.inspect(wholeSystem);
    this.recent.set(wholeSystem, { at: Date.now(), answer });
    return answer;
  }

  private async inspect(wholeSystem: boolean): Promise<Readiness> {
    if (processStopping || !this.broker.started) {
      // Before the start has finished, or since the stop began (SIGTERM).
      return { status: "not_ready", checks: { broker: { ok: false, ms: 0, error: "stopping" } } };
    }
    const { config, bus } = this.runtime;
    const hosts = (names: readonly ServiceName[]) =>
      config.services.some((name) => names.includes(name));
    const probes: Record<string, () => Promise<unknown>> = {};
    if (config.services.some((name) => name !== "api")) {
      probes.mongodb = async () => {
        this.mongo ??= mongoose.createConnection(await mongoUrl(config), {
          serverSelectionTimeoutMS: 1500,
        });
        try {
          await this.mongo.asPromise();
          await this.mongo.db?.admin().ping();
        } catch (error) {
          // mongoose never retries a failed first connect: start over on the next probe.
          const stale = this.mongo;
          this.mongo = undefined;
          await stale?.close().catch(() => undefined);
          throw error;
        }
      };
      probes[bus.kind === "kafka" ? "kafka" : "event_bus"] = () => bus.ping();
    }
    if (config.redisUrl && hosts(USES_REDIS)) {
      const url = config.redisUrl;
      probes.redis = async () => {
        // Its failures are the check's answer (and logged there), not ioredis' stderr lines.
        this.redis ??= new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }).on(
          "error",
          () => undefined,
        );
        if (this.redis.status === "wait") await this.redis.connect();
        await this.redis.ping();
      };
    }
    if (config.transporter) {
      probes.transporter = async () => {
        if (!this.broker.transit?.connected) throw new Error("transporter not connected");
      };
    }
    if (wholeSystem) {
      probes.services = async () => {
        const available = new Set(
          this.broker.registry
            .getServiceList({ onlyAvailable: true, skipInternal: true })
            .map((s) => s.name),
        );
        const missing = SERVICE_NAMES.filter((name) => !available.has(name));
        if (missing.length > 0) throw new Error(`no instance of ${missing.join(", ")}`);
      };
    }
    const names = Object.keys(probes);
    const log = (message: string) => this.broker.logger.warn(message);
    const results = await Promise.all(names.map((name) => timed(name, probes[name], log)));
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]));
    return { status: results.every((result) => result.ok) ? "ready" : "not_ready", checks };
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
    await this.mongo?.close();
  }
}
