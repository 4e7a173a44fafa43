import { activeTraceIds } from "./tracing";
import { AsyncLocalStorage } from "node:async_hooks";
import type { Writable } from "node:stream";
import type { BrokerOptions, Context, Middleware } from "moleculer";
import { pino, stdTimeFunctions, type DestinationStream, type Logger } from "pino";
import type { Config } from "./config";

/**
 * Key paths pino blanks in every JSON line (`[redacted]`), at the top level and one level down,
 * as a logged request, headers object or Stripe payload carries them.
 */
const SECRET_KEYS = [
  "authorization",
  "cookie",
  "token",
  "access_token",
  "refresh_token",
  "jwt",
  "secret",
  "password",
  "api_key",
  "apiKey",
  "client_secret",
  "stripe-signature",
  "payment_method",
  "card",
  // The recipient's PIN: a handover's key, never in a log line.
  "pin",
  "handover_pin",
];
export const REDACTED_PATHS = SECRET_KEYS.flatMap((key) => {
  const segment = /^[A-Za-z_]\w*$/.test(key) ? key : `["${key}"]`;
  const nested = segment.startsWith("[") ? segment : `.${segment}`;
  return [segment, `*${nested}`, `*.headers${nested}`];
});

/**
 * What may hide in a message or an error text, where key paths do not reach: a Stripe error
 * names the payment method it refused, a JWT library error may quote the token.
 */
const SECRET_TEXT = [
  /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, // a JWT
  /\bBearer\s+\S+/gi,
  /\bwhsec_\w+/g, // a webhook signing secret
  /\b[sr]k_(?:live|test)_\w+/g, // a Stripe API key
  /\bpm_\w+/g, // a payment method (a card's stand-in)
  /\bt=\d+,v1=\w+(?:,v\d=\w+)*/g, // a Stripe-Signature header value
];

/** Blanks secret-looking text, and the configured secrets themselves, in a string. */
export function scrub(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) clean = clean.split(secret).join("[redacted]");
  for (const pattern of SECRET_TEXT) clean = clean.replace(pattern, "[redacted]");
  return clean;
}

/**
 * The Moleculer context a log line is written under, set by `LogContext` around each local
 * action and event handler: the line then names the request and the booking it concerns.
 */
const current = new AsyncLocalStorage<Context>();

interface LineContext {
  trace_id?: string;
  span_id?: string;
  booking_id?: string;
  event_id?: string;
}

/**
 * What the domain event being consumed gives the lines its handling writes, set by
 * `whileConsuming`: Kafka consumers run outside any Moleculer context.
 */
const consumed = new AsyncLocalStorage<LineContext>();

/**
 * With tracing on (OTEL_*), `trace_id` and `span_id` are the active OpenTelemetry span's, so a
 * line joins its trace, a Kafka consumer's included. Otherwise, while a consumed event is handled,
 * they are the event's `traceparent` (its trace, and the span that published it) when it carries
 * one; under a Moleculer handler, `trace_id` is Moleculer's request id (the same across every call
 * and event one request causes) and `span_id` the context's id. `booking_id` is the booking the
 * action, Moleculer event or consumed domain event names; `event_id` the consumed event's id.
 */
function lineContext(): LineContext {
  const traced = activeTraceIds();
  const ctx = current.getStore();
  const fields: LineContext = { ...consumed.getStore() };
  if (ctx) {
    if (!fields.trace_id && ctx.requestID) fields.trace_id = ctx.requestID;
    if (!fields.span_id && ctx.id) fields.span_id = ctx.id;
    const bookingId = bookingIdOf(ctx);
    if (bookingId) fields.booking_id = bookingId;
  }
  return traced ? { ...fields, ...traced } : fields;
}

function bookingIdOf(ctx: Context): string | undefined {
  const params = ctx.params as Record<string, unknown> | null | undefined;
  if (!params || typeof params !== "object") return undefined;
  if (typeof params.booking_id === "string") return params.booking_id;
  // The booking service's actions name their booking `id` (`POST /api/bookings/:id/accept`).
  if (ctx.service?.name === "booking" && typeof params.id === "string") return params.id;
  return undefined;
}

/** What a log line may learn from a consumed domain event (a CloudEvent). */
export interface ConsumedEvent {
  id: string;
  data: unknown;
  traceparent?: string;
}

/** W3C Trace Context `traceparent`: version, trace id, parent (span) id, flags. */
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/;

/**
 * The fields of the lines written while events are handled: the booking when they all name the
 * same one, and for a single event its id and the trace its `traceparent` names.
 */
export function consumedEventFields(events: readonly ConsumedEvent[]): LineContext {
  const fields: LineContext = {};
  const bookings = new Set(events.map(bookingIdOfEvent));
  const [booking] = bookings;
  if (bookings.size === 1 && booking) fields.booking_id = booking;
  if (events.length !== 1) return fields;
  fields.event_id = events[0].id;
  const [, traceId, spanId] = TRACEPARENT.exec(events[0].traceparent ?? "") ?? [];
  if (traceId && !/^0+$/.test(traceId))
    Object.assign(fields, { trace_id: traceId, span_id: spanId });
  return fields;
}

function bookingIdOfEvent(event: ConsumedEvent): string | undefined {
  const data = event.data as Record<string, unknown> | null | undefined;
  return data && typeof data === "object" && typeof data.booking_id === "string"
    ? data.booking_id
    : undefined;
}

/** Runs a consumer's handling of events with their fields on every line it writes. */
export function whileConsuming<R>(events: readonly ConsumedEvent[], handle: () => R): R {
  return consumed.run(consumedEventFields(events), handle);
}

/**
 * Runs each local action and event handler with its context reachable by the logger. Only
 * installed with JSON logs: the readable format does not print these fields.
 */
export const LogContext: Middleware = {
  name: "LogContext",
  localAction(next) {
    const handler = next as (ctx: Context) => Promise<unknown>;
    return (ctx: Context) => current.run(ctx, handler, ctx);
  },
  localEvent(next) {
    return (ctx: Context) => current.run(ctx, next, ctx);
  },
};

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
type LogMethod = (...args: unknown[]) => void;

/**
 * Moleculer loggers take console-style arguments (`warn("x failed", error)`); pino keeps only
 * the first string. This turns them into one line: strings into `msg`, an error into `err`,
 * plain objects into fields (which the redaction paths then reach).
 */
function consoleStyle(logger: Logger, secrets: readonly string[]): Record<Level, LogMethod> {
  const method =
    (level: Level): LogMethod =>
    (...args) => {
      const words: string[] = [];
      const fields: Record<string, unknown> = {};
      for (const arg of args) {
        if (arg instanceof Error) {
          if (fields.err) words.push(arg.message);
          else fields.err = scrubbedError(arg, secrets);
        } else if (arg !== null && typeof arg === "object") Object.assign(fields, arg);
        else words.push(String(arg));
      }
      if (words.length === 0 && fields.err) words.push((fields.err as { message: string }).message);
      logger[level](fields, scrub(words.join(" "), secrets));
    };
  return {
    fatal: method("fatal"),
    error: method("error"),
    warn: method("warn"),
    info: method("info"),
    debug: method("debug"),
    trace: method("trace"),
  };
}

/**
 * An error as a line carries it: its kind, code, text and stack, scrubbed. Not its `data`, where
 * a Moleculer error may keep the params it failed on.
 */
function scrubbedError(error: Error, secrets: readonly string[]): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    message: scrub(error.message, secrets),
    ...(error.stack ? { stack: scrub(error.stack, secrets) } : {}),
  };
}

/** Secrets this process holds, whose values must never reach a line. */
function secretsOf(config: Config): string[] {
  return [
    config.jwtSecret,
    config.stripe.webhookSecret,
    config.stripe.secretKey,
    config.metricsToken,
  ].filter((value): value is string => typeof value === "string" && value.length >= 8);
}

/** The root pino logger of JSON lines: ISO time, level names, redaction, the context fields. */
export function jsonLogger(config: Config, destination?: DestinationStream | Writable): Logger {
  return pino(
    {
      level: config.logLevel,
      base: null,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      // consoleStyle has serialized and scrubbed the error already.
      serializers: { err: (error: unknown) => error },
      mixin: lineContext,
    },
    destination,
  );
}

/**
 * Moleculer's logger option. `json`: one JSON object a line on stdout through Moleculer's Pino
 * logger, each with time, level, msg, service (the Moleculer module: a service name, `broker`,
 * `registry`, …), nodeID and, while a handler runs, trace_id, span_id and booking_id.
 * `pretty`: Moleculer's readable console lines, as before.
 */
export function loggerOptions(
  config: Config,
  destination?: DestinationStream | Writable,
): BrokerOptions["logger"] {
  if (config.logFormat === "pretty")
    return { type: "Console", options: { level: config.logLevel, formatter: "short" } };
  const root = jsonLogger(config, destination);
  const secrets = secretsOf(config);
  return {
    type: "Pino",
    options: {
      level: config.logLevel,
      // Moleculer builds its own pino as well, unused since createLogger makes every logger.
      pino: { options: { level: "silent" } },
      createLogger: (level: Level, bindings: { mod?: string; svc?: string; nodeID?: string }) =>
        consoleStyle(
          root.child({ service: bindings.svc ?? bindings.mod, nodeID: bindings.nodeID }, { level }),
          secrets,
        ),
    },
  };
}

/** Middlewares the log format needs (the context fields of JSON lines). */
export function logMiddlewares(config: Config): Middleware[] {
  return config.logFormat === "json" ? [LogContext] : [];
}

/** How a consumer runs its handling: with its events' fields on its lines, with JSON logs only. */
export function consumerLogging(
  config: Config,
): <R>(events: readonly ConsumedEvent[], handle: () => R) => R {
  return config.logFormat === "json" ? whileConsuming : (_events, handle) => handle();
}
