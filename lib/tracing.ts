import type { IncomingMessage, Server, ServerResponse } from "node:http";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context as OtelContext,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
// The SDK's types only: its code is loaded when tracing is on (startTracing), so a process
// without OTEL_* does not spend its start-up reading it.
import type * as OtlpHttp from "@opentelemetry/exporter-trace-otlp-http";
import type * as Resources from "@opentelemetry/resources";
import type * as TraceBase from "@opentelemetry/sdk-trace-base";
import type * as TraceNode from "@opentelemetry/sdk-trace-node";
import type * as Conventions from "@opentelemetry/semantic-conventions";
import type { Context, Middleware } from "moleculer";
import { isServerError } from "./http-status";

/**
 * OpenTelemetry traces across processes: the gateway's HTTP requests, Moleculer calls and
 * events (the W3C context in `ctx.meta`), the outbox (the context stored with each entry),
 * Kafka (the CloudEvents `traceparent`/`tracestate` attributes) and the consumers.
 *
 * Off unless an OTLP endpoint is configured. Off, nothing here creates a span or a context:
 * every hot path checks `TRACING.enabled` once and goes on as before.
 */
export const TRACING = { enabled: false };

/** The W3C trace context as a carrier holds it: ctx.meta, a CloudEvent, an outbox entry. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

const TRACER = "kilat";
const propagator = new W3CTraceContextPropagator();
let provider: TraceNode.NodeTracerProvider | undefined;

/**
 * Whether the standard variables ask for traces: an OTLP endpoint (general or for traces), not
 * switched off by `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/**
 * Starts the SDK when configured, before the broker is built (its middleware is chosen then).
 * The exporter reads its endpoint, headers and timeout from `OTEL_EXPORTER_OTLP_*`, the sampler
 * `OTEL_TRACES_SAMPLER(_ARG)`, the resource `OTEL_SERVICE_NAME`/`OTEL_RESOURCE_ATTRIBUTES`;
 * `serviceName` is the name when OTEL_SERVICE_NAME is unset. Returns whether tracing is on.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (provider || !tracingConfigured(env)) return TRACING.enabled;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { OTLPTraceExporter } =
    require("@opentelemetry/exporter-trace-otlp-http") as typeof OtlpHttp;
  const { detectResources, envDetector, resourceFromAttributes } =
    require("@opentelemetry/resources") as typeof Resources;
  const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base") as typeof TraceBase;
  const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node") as typeof TraceNode;
  const { ATTR_SERVICE_NAME } =
    require("@opentelemetry/semantic-conventions") as typeof Conventions;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register({ propagator });
  TRACING.enabled = true;
  return true;
}

/** Sends what is buffered and stops: on shutdown, after the broker stopped. */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  provider = undefined;
  TRACING.enabled = false;
  // The last spans get a few seconds; a collector that does not answer must not hold the stop
  // past the pod's grace period.
  await Promise.race([
    stopping?.shutdown(),
    new Promise((resolve) => setTimeout(resolve, FLUSH_ON_STOP_MS).unref()),
  ]);
}

/** How long a stop waits for the last spans to reach the collector. */
const FLUSH_ON_STOP_MS = 3000;

/**
 * The active span's ids, for log lines; undefined when tracing is off or no span is active.
 */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!TRACING.enabled) return undefined;
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

const carrierGetter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = (carrier as Record<string, unknown>)[key];
    return typeof value === "string" ? value : undefined;
  },
};

/** The context a carrier names; the root context when it names none (or a malformed one). */
export function contextOf(carrier: TraceCarrier | undefined): OtelContext {
  return carrier ? propagator.extract(ROOT_CONTEXT, carrier, carrierGetter) : ROOT_CONTEXT;
}

const carrierSetter: TextMapSetter<TraceCarrier> = {
  set: (target, key, value) => {
    if (key === "traceparent" || key === "tracestate") target[key] = value;
  },
};

/** The active (or given) context as carrier fields; undefined when off or without a span. */
export function traceCarrier(from: OtelContext = context.active()): TraceCarrier | undefined {
  if (!TRACING.enabled || !trace.getSpan(from)) return undefined;
  const carrier: TraceCarrier = {};
  propagator.inject(from, carrier, carrierSetter);
  return carrier.traceparent ? carrier : undefined;
}

function tracer() {
  return trace.getTracer(TRACER);
}

function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
}

/** Runs `fn` in a new span under `parent`, ending it when `fn` settles. */
export async function inSpan<R>(
  name: string,
  options: { kind: SpanKind; parent?: OtelContext; attributes?: Attributes; links?: Link[] },
  fn: (span: Span) => Promise<R> | R,
): Promise<R> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links: options.links },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Publishes events under one producer span each, parented on the context their entry kept
 * (the action that wrote them), and sends each with the producer span's context, which the
 * consumers continue. Events that kept none go out as they are.
 */
export async function publishTraced<E extends TraceCarrier>(
  topic: string,
  events: E[],
  publish: (events: E[]) => Promise<void>,
): Promise<void> {
  if (!TRACING.enabled) return publish(events);
  const spans: Span[] = [];
  const sent = events.map((event) => {
    if (!event.traceparent) return event;
    const parent = contextOf(event);
    const span = tracer().startSpan(
      `${topic} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "kafka",
          "messaging.operation.type": "send",
          "messaging.destination.name": topic,
          "messaging.message.id": (event as { id?: string }).id ?? "",
        },
      },
      parent,
    );
    spans.push(span);
    return { ...event, ...traceCarrier(trace.setSpan(parent, span)) };
  });
  try {
    await publish(sent);
  } catch (error) {
    for (const span of spans) failed(span, error);
    throw error;
  } finally {
    for (const span of spans) span.end();
  }
}

interface TracedEvent extends TraceCarrier {
  id: string;
  type: string;
}

const consumerAttributes = (group: string, topic: string): Attributes => ({
  "messaging.system": "kafka",
  "messaging.operation.type": "process",
  "messaging.consumer.group.name": group,
  "messaging.destination.name": topic,
});

/**
 * Handles consumed events under a consumer span. One event: the span continues the producer's
 * trace, so what the handler does (a socket push) belongs to it. Several (a batch handler): one
 * span linked to each event's context, as a batch has no single parent.
 */
export function consumeTraced<R>(
  events: readonly TracedEvent[],
  group: string,
  topic: string,
  handle: () => Promise<R>,
): Promise<R> {
  if (!TRACING.enabled) return handle();
  if (events.length === 1) {
    const [event] = events;
    return inSpan(
      `${group} process ${event.type}`,
      {
        kind: SpanKind.CONSUMER,
        parent: contextOf(event),
        attributes: { ...consumerAttributes(group, topic), "messaging.message.id": event.id },
      },
      handle,
    );
  }
  const links = events.flatMap((event) => {
    const spanContext = trace.getSpanContext(contextOf(event));
    return spanContext ? [{ context: spanContext }] : [];
  });
  return inSpan(
    `${group} process batch`,
    {
      kind: SpanKind.CONSUMER,
      parent: ROOT_CONTEXT,
      links,
      attributes: {
        ...consumerAttributes(group, topic),
        "messaging.batch.message_count": events.length,
      },
    },
    handle,
  );
}

type Handler = (ctx: Context) => Promise<unknown>;
type Emitter = (name: string, payload: unknown, opts?: unknown) => Promise<unknown>;
type EmitOptions = Record<string, unknown> & { meta?: Record<string, unknown> };

/** Emit/broadcast options with the active trace context added to the event's meta. */
function withTraceMeta(opts: unknown): unknown {
  const carrier = traceCarrier();
  if (!carrier) return opts;
  const base: EmitOptions =
    Array.isArray(opts) || typeof opts === "string"
      ? { groups: opts }
      : { ...((opts as EmitOptions | undefined) ?? {}) };
  return { ...base, meta: { ...(base.meta ?? {}), ...carrier } };
}

/**
 * The Moleculer side: a client span around each call to another node, its context in
 * `ctx.meta` (which the transporter carries); a server span around each action, under the
 * caller's span (from `ctx.meta` when the call came from another node); a consumer span around
 * each event handler, under the emitter's context; emits and broadcasts carry the active context.
 * Installed only when tracing is on.
 */
export function tracingMiddlewares(): Middleware[] {
  if (!TRACING.enabled) return [];
  let nodeID: string | undefined;
  /** A context from another node continues the trace its meta names; a local one the active. */
  const parentOf = (ctx: Context): OtelContext =>
    ctx.nodeID && ctx.nodeID !== nodeID ? contextOf(ctx.meta) : context.active();
  const middleware: Middleware = {
    name: "Tracing",
    created(broker: { nodeID: string }) {
      nodeID = broker.nodeID;
    },
    localAction(next, action) {
      const handler = next as Handler;
      const name = action.name ?? "action";
      return (ctx: Context) =>
        inSpan(
          name,
          {
            kind: SpanKind.SERVER,
            parent: parentOf(ctx),
            attributes: { "rpc.system": "moleculer", "rpc.method": name },
          },
          () => handler(ctx),
        );
    },
    remoteAction(next, action) {
      const handler = next as Handler;
      const name = action.name ?? "action";
      return (ctx: Context) =>
        inSpan(
          name,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              "rpc.system": "moleculer",
              "rpc.method": name,
              "server.address": ctx.nodeID ?? "",
            },
          },
          () => {
            Object.assign(ctx.meta as TraceCarrier, traceCarrier());
            return handler(ctx);
          },
        );
    },
    localEvent(next, event) {
      const handler = next as (ctx: Context) => Promise<void>;
      return (ctx: Context) =>
        inSpan(
          ctx.eventName ?? event.name ?? "event",
          {
            kind: SpanKind.CONSUMER,
            parent: parentOf(ctx),
            attributes: {
              "messaging.system": "moleculer",
              "messaging.destination.name": ctx.eventName ?? "",
            },
          },
          () => handler(ctx),
        );
    },
  };
  // Moleculer's typings say these hooks return a promise; they return the wrapped method.
  const emitters = {
    emit: (next: Emitter) => (name: string, payload: unknown, opts?: unknown) =>
      next(name, payload, withTraceMeta(opts)),
    broadcast: (next: Emitter) => (name: string, payload: unknown, opts?: unknown) =>
      next(name, payload, withTraceMeta(opts)),
  };
  Object.assign(middleware, emitters);
  return [middleware];
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

const headerGetter: TextMapGetter<IncomingMessage["headers"]> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

/**
 * A server span around every HTTP request of the gateway (REST, pages, Socket.IO polling),
 * continuing a caller's `traceparent` header. Named after the route once moleculer-web found it.
 * Wraps the listeners present now: call it after everything else attached its own.
 */
export function traceHttp(server: Server): void {
  if (!TRACING.enabled) return;
  const listeners = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
    const path = (req.url ?? "/").split("?")[0];
    const method = req.method ?? "GET";
    const span = tracer().startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": method, "url.path": path },
      },
      parent,
    );
    res.once("close", () => {
      const route = (req as { $alias?: { fullPath?: string } }).$alias?.fullPath;
      if (route) {
        span.updateName(`${method} ${route}`);
        span.setAttribute("http.route", route);
      }
      span.setAttribute("http.response.status_code", res.statusCode);
      if (isServerError(res.statusCode)) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => {
      for (const listener of listeners) listener.call(server, req, res);
    });
  });
}
