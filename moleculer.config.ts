import { REPL_COMMANDS } from "./lib/repl-commands";
import { Errors, type BrokerOptions, type MetricRegistry } from "moleculer";
import type { Config } from "./lib/config";
import { PrometheusTextReporter } from "./lib/metrics";
import { ZodValidator } from "./lib/zod-validator";

/**
 * Broker options for one Kilat process. Moleculer ships every fault-tolerance feature off
 * (requestTimeout 0 waits forever); each is switched on here deliberately.
 */
export function brokerOptions(config: Config): BrokerOptions {
  return {
    namespace: config.namespace,
    nodeID: config.nodeID,
    // RPC between services; null = every service in this process, no network (embedded mode).
    transporter: config.transporter
      ? { type: "Redis", options: redisOptions(config.transporter) }
      : null,
    logger: { type: "Console", options: { level: config.logLevel, formatter: "short" } },
    logLevel: config.logLevel,

    // A call that has not answered in 10 s fails instead of holding a request (and a socket)
    // forever; REST clients see a 504 long before their own timeouts.
    requestTimeout: 10_000,
    // Retry only what never reached a handler (no node for the action yet, node left mid-call),
    // so a non-idempotent action is never run twice by the framework.
    retryPolicy: {
      enabled: true,
      retries: 3,
      delay: 100,
      maxDelay: 1000,
      factor: 2,
      check: (error: Error) =>
        error instanceof Errors.ServiceNotAvailableError ||
        error instanceof Errors.ServiceNotFoundError,
    },
    // Stop calling an endpoint that fails half of at least 20 calls in a minute; probe it
    // again after 10 s. Only server faults count: a 4xx is the caller's problem.
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 20,
      windowTime: 60,
      halfOpenTime: 10_000,
      check: (error: Error) => {
        const code = (error as Errors.MoleculerError).code;
        return typeof code !== "number" || code >= 500;
      },
    },
    // At most 50 concurrent executions per action on a node, 500 queued; beyond that callers
    // get a fast QueueIsFull (429) instead of piling work onto a saturated process.
    bulkhead: { enabled: true, concurrency: 50, maxQueueSize: 500 },
    // Wait for in-flight calls to finish on shutdown (up to 10 s) before services stop.
    tracking: { enabled: true, shutdownTimeout: 10_000 },

    registry: { strategy: "RoundRobin", preferLocal: true },
    validator: new ZodValidator(),
    // The typings accept reporters by name only; Moleculer itself takes an instance as well.
    metrics: {
      enabled: true,
      reporter: [new PrometheusTextReporter({}) as unknown as MetricsReporter],
    },
    // Ops commands (`booking`, `dlq`, `runners online`, `outbox`); see lib/repl-commands.ts.
    replOptions: {
      delimiter: "kilat $ ",
      customCommands: REPL_COMMANDS as unknown as NonNullable<
        BrokerOptions["replOptions"]
      >["customCommands"],
    },
  };
}

type MetricsReporter = Exclude<
  NonNullable<Exclude<MetricRegistry.MetricRegistryOptions["reporter"], unknown[]>>,
  string
>;

/** ioredis options from a redis:// URL (the transporter's typings take no URL string). */
export function redisOptions(url: string) {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.replace("/", "") || 0);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db,
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
  };
}
