import { REPL_COMMANDS } from "./lib/repl-commands";
import {
  Errors,
  type BrokerOptions,
  type Context,
  type Middleware,
  type ServiceBroker,
} from "moleculer";
import { CREATING_ACTIONS } from "./contracts";
import type { KilatMeta } from "./lib/action";
import type { Config } from "./lib/config";
import { isServerError } from "./lib/http-status";
import { PrometheusTextMetrics } from "./lib/metrics";
import { ZodValidator } from "./lib/zod-validator";
import { loggerOptions, logMiddlewares } from "./lib/logger";
import { WatchfulRedisTransporter } from "./lib/transporter";
import { tracingMiddlewares } from "./lib/tracing";
import { NODE_LIVENESS } from "./config/tuning";

/**
 * Moleculer reads `transit.serviceChangedDebounceTime` (service-broker.js) though its types leave
 * it out; held in a constant, the object is checked as a TransitOptions with one more field.
 */
const TRANSIT = {
  disableReconnect: false,
  serviceChangedDebounceTime: NODE_LIVENESS.serviceChangedDebounceMs,
};

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
      ? new WatchfulRedisTransporter(
          redisOptions(config.transporter),
          NODE_LIVENESS.watchMs,
          NODE_LIVENESS.graceMs,
        )
      : null,
    heartbeatInterval: NODE_LIVENESS.heartbeatIntervalS,
    heartbeatTimeout: NODE_LIVENESS.heartbeatTimeoutS,
    transit: { ...TRANSIT }, // Moleculer fills in its defaults: each broker gets its own copy
    logger: loggerOptions(config),
    logLevel: config.logLevel,

    // A call that has not answered in 10 s fails instead of holding a request (and a socket)
    // forever; REST clients see a 504 long before their own timeouts.
    requestTimeout: 10_000,
    // Retry what never reached a handler (no node for the action yet, a request no process
    // received); and a call whose node died while handling it, when running it again has one
    // effect: every action but those that create something is guarded or keyed (README,
    // "Retries"). So a killed replica costs a retry on another one, not a failed request.
    retryPolicy: {
      enabled: true,
      retries: 3,
      delay: 100,
      maxDelay: 1000,
      factor: 2,
      check: (error: Error) =>
        error instanceof Errors.ServiceNotAvailableError ||
        error instanceof Errors.ServiceNotFoundError ||
        (error instanceof Errors.RequestRejectedError && mayRunAgain(error)),
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
        return typeof code !== "number" || isServerError(code);
      },
    },
    // At most 50 concurrent executions per action on a node, 500 queued; beyond that callers
    // get a fast QueueIsFull (429) instead of piling work onto a saturated process.
    bulkhead: { enabled: true, concurrency: 50, maxQueueSize: 500 },
    // Wait for in-flight calls to finish on shutdown (up to 10 s) before services stop.
    tracking: { enabled: true, shutdownTimeout: 10_000 },

    registry: { strategy: "RoundRobin", preferLocal: true },
    validator: new ZodValidator(),
    // Tracing (lib/tracing.ts) is in the list only when OTEL_* switched it on at start.
    // PrometheusTextMetrics gives the metrics their reporter (lib/metrics.ts).
    middlewares: [
      KeyedCreateRetry,
      PrometheusTextMetrics,
      ...logMiddlewares(config),
      ...tracingMiddlewares(),
    ],
    metrics: { enabled: true },
    // Ops commands (`booking`, `dlq`, `runners online`, `outbox`); see lib/repl-commands.ts.
    replOptions: { delimiter: "kilat $ ", customCommands: REPL_COMMANDS.map(replCommand) },
  };
}

type ReplCommand = (typeof REPL_COMMANDS)[number];
type ReplParams = Parameters<ReplCommand["action"]>[1];
type ReplCustomCommand = NonNullable<
  NonNullable<BrokerOptions["replOptions"]>["customCommands"]
>[number];

/**
 * moleculer-repl hands a command its arguments and options as one object, where Moleculer's
 * typings say an array of strings: the command gets that object.
 */
function replCommand(command: ReplCommand): ReplCustomCommand {
  return {
    ...command,
    action: (broker, args: unknown) => {
      if (!isReplParams(args)) throw new TypeError(`${command.command}: no arguments object`);
      return command.action(broker, args);
    },
  };
}

function isReplParams(args: unknown): args is ReplParams {
  return typeof args === "object" && args !== null && !Array.isArray(args);
}

/** Whether a call rejected because its node left may run again on another node. */
function mayRunAgain(error: Errors.RequestRejectedError): boolean {
  const action = (error.data as { action?: unknown } | undefined)?.action;
  return typeof action === "string" && !CREATING_ACTIONS.has(action);
}

/**
 * A creating action whose node died mid-call runs once more when the app sent an
 * Idempotency-Key: the second run finds what the first made, or makes it.
 */
const KeyedCreateRetry: Middleware = {
  name: "KeyedCreateRetry",
  remoteAction(this: ServiceBroker, next, action) {
    if (!action.name || !CREATING_ACTIONS.has(action.name)) return next;
    // Typed with a `this` it is never called with: the handler chain passes only the context.
    const handler = next as (ctx: Context) => Promise<unknown>;
    return (ctx: Context<unknown, KilatMeta>) =>
      handler(ctx).catch((error: unknown) => {
        if (!(error instanceof Errors.RequestRejectedError) || !ctx.meta.idempotencyKey)
          throw error;
        return this.call(action.name as string, ctx.params, { ctx: ctx.copy() });
      });
  },
};

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
    // The transporter's subscriber connection: on a reconnect ioredis may send its ready check
    // (INFO) after the connection is back in subscriber mode, and the rejection killed the
    // process (chaos, Redis killed: redis/ioredis#2037). Redis answers as soon as it accepts.
    enableReadyCheck: false,
  };
}
