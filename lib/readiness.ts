import { Redis } from "ioredis";
import mongoose, { type Connection } from "mongoose";
import type Stripe from "stripe";
import type { ServiceBroker } from "moleculer";
import { SERVICE_NAMES } from "./config";
import { mongoUrl } from "./mongo";
import { createStripeClient } from "./stripe";
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

/**
 * Probes every component this process is configured to use, each with its own small client so
 * the answer does not depend on which services the process hosts.
 */
export class ReadinessProbe {
  private redis: Redis | undefined;
  private mongo: Connection | undefined;
  private readonly stripe: Stripe | undefined;

  constructor(
    private readonly broker: ServiceBroker,
    private readonly runtime: Runtime,
  ) {
    // One try per probe: readiness answers now, it does not retry in the background.
    this.stripe = createStripeClient(runtime.config, 0);
  }

  async check(): Promise<Readiness> {
    const { config, bus } = this.runtime;
    const probes: Record<string, () => Promise<unknown>> = {
      mongodb: async () => {
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
      },
      [bus.kind === "kafka" ? "kafka" : "event_bus"]: () => bus.ping(),
    };
    if (config.redisUrl) {
      const url = config.redisUrl;
      probes.redis = async () => {
        this.redis ??= new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        if (this.redis.status === "wait") await this.redis.connect();
        await this.redis.ping();
      };
    }
    if (this.stripe) {
      const stripe = this.stripe;
      probes.stripe = () => stripe.balance.retrieve();
    }
    if (config.transporter) {
      probes.transporter = async () => {
        if (!this.broker.transit?.connected) throw new Error("transporter not connected");
      };
    }
    // Every service of the system has a live instance somewhere (here or over the transporter).
    probes.services = async () => {
      const available = new Set(
        this.broker.registry
          .getServiceList({ onlyAvailable: true, skipInternal: true })
          .map((s) => s.name),
      );
      const missing = SERVICE_NAMES.filter((name) => !available.has(name));
      if (missing.length > 0) throw new Error(`no instance of ${missing.join(", ")}`);
    };
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
