import { trace } from "@opentelemetry/api";
import { type CloudEvent, Kafka } from "cloudevents";
import { createEvent, fromWire, toWire, type DomainEvent } from "../../events/envelope";
import { toOutbox } from "../../lib/outbox";
import {
  TRACING,
  activeTraceIds,
  consumeTraced,
  publishTraced,
  startTracing,
  traceCarrier,
  tracingConfigured,
  tracingMiddlewares,
} from "../../lib/tracing";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACESTATE = "kilat=1";

const failed = (trace?: { traceparent?: string; tracestate?: string }): DomainEvent => ({
  ...createEvent(
    "payment.failed",
    {
      payment_id: "pay-1",
      booking_id: "booking-1",
      booking_number: "KLT-20261126-ABC123",
      owner_id: "owner-1",
      reason: "card_declined",
      occurred_at: "2026-11-26T10:00:00.000Z",
    },
    {
      service: "payment",
      time: "2026-11-26T10:00:01.000Z",
      id: "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    },
  ),
  ...trace,
});

describe("the CloudEvents distributed-tracing extension", () => {
  it("given an event with a trace context, when serialised and read back, then it keeps it", () => {
    const event = failed({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    const wire = toWire(event);
    const json = JSON.parse(wire.value) as Record<string, unknown>;
    expect([json.traceparent, json.tracestate]).toEqual([TRACEPARENT, TRACESTATE]);
    expect(fromWire(wire)).toEqual(event);
  });

  it("given an event with a trace context, then the CloudEvents SDK reads it as extension attributes", () => {
    const wire = toWire(failed({ traceparent: TRACEPARENT, tracestate: TRACESTATE }));
    const read = Kafka.toEvent({ ...wire, body: wire.value }) as CloudEvent<unknown>;
    expect([read.traceparent, read.tracestate]).toEqual([TRACEPARENT, TRACESTATE]);
  });

  it("given an event without one, then the record has no such attributes", () => {
    const json = JSON.parse(toWire(failed()).value) as Record<string, unknown>;
    expect(["traceparent" in json, "tracestate" in json]).toEqual([false, false]);
    expect(fromWire(toWire(failed()))).toEqual(failed());
  });

  it("given a malformed traceparent, when read, then the event is kept and the context dropped", () => {
    const wire = toWire(failed({ traceparent: "not-a-traceparent", tracestate: TRACESTATE }));
    expect(fromWire(wire)).toEqual(failed());
  });

  it("given an event with a trace context, when queued in an outbox, then the entry keeps it", () => {
    const [traced] = toOutbox([failed({ traceparent: TRACEPARENT })]);
    const [plain] = toOutbox([failed()]);
    expect(traced.traceparent).toEqual(TRACEPARENT);
    expect(["traceparent" in traced, "tracestate" in traced]).toEqual([true, false]);
    expect(["traceparent" in plain, "tracestate" in plain]).toEqual([false, false]);
  });
});

describe("tracing is off unless OTEL_* configure it", () => {
  it("given no OTLP endpoint, then it is not configured; given one, it is unless disabled", () => {
    expect(tracingConfigured({})).toEqual(false);
    expect(tracingConfigured({ OTEL_SERVICE_NAME: "kilat" })).toEqual(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toEqual(
      true,
    );
    expect(
      tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }),
    ).toEqual(true);
    expect(
      tracingConfigured({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_SDK_DISABLED: "true",
      }),
    ).toEqual(false);
    expect(
      tracingConfigured({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_TRACES_EXPORTER: "none",
      }),
    ).toEqual(false);
  });

  it("given OTEL_* unset, when started, then no middleware, no context, no span anywhere", async () => {
    expect(startTracing("kilat-test", {})).toEqual(false);
    expect(TRACING.enabled).toEqual(false);
    expect(tracingMiddlewares()).toEqual([]);
    expect(traceCarrier()).toBeUndefined();
    expect(activeTraceIds()).toBeUndefined();

    const event = failed({ traceparent: TRACEPARENT });
    const seen: unknown[] = [];
    await consumeTraced([event], "group", "payment.events", async () => {
      seen.push(trace.getActiveSpan());
    });
    const published: DomainEvent[][] = [];
    await publishTraced("payment.events", [event], async (events) => {
      published.push(events);
    });
    // The handler ran outside any span; the events went out as they were, the same objects.
    expect(seen).toEqual([undefined]);
    expect(published).toEqual([[event]]);
    expect(published[0][0]).toBe(event);
  });
});
