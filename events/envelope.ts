import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import {
  eventDefinition,
  isEventType,
  parsePayload,
  type EventPayload,
  type EventType,
} from "./catalog";

/** What every domain event carries besides its type and payload (CloudEvents attributes). */
export interface EventEnvelope {
  id: string;
  source: string;
  subject: string;
  time: string;
  partitionkey: string;
  /**
   * The W3C trace context of what caused the event (CloudEvents distributed-tracing extension),
   * present only while tracing is on.
   */
  traceparent?: string;
  tracestate?: string;
}

/**
 * A domain event as the rest of the code sees it: a checked CloudEvent whose `type` narrows its
 * `data` (`if (event.type === "booking.cancelled") event.data.reason`).
 */
export type DomainEvent<T extends EventType = EventType> = {
  [K in T]: EventEnvelope & { type: K; data: EventPayload<K> };
}[T];

/** The bytes that travel: a Kafka record in CloudEvents structured mode. */
export interface WireMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
}

export const CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";

/** W3C Trace Context `traceparent`: version, trace id, parent id, flags. */
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

const Envelope = z.object({
  specversion: z.literal("1.0"),
  id: z.uuid(),
  source: z.string().regex(/^\/kilat\/[a-z-]+$/),
  type: z.string(),
  subject: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal("application/json"),
  partitionkey: z.string().min(1),
  data: z.unknown(),
  // The distributed-tracing extension: a malformed one is dropped (a trace is lost, the event
  // is not), as W3C Trace Context says of a header it cannot parse.
  traceparent: z.string().regex(TRACEPARENT).optional().catch(undefined),
  tracestate: z.string().max(512).optional().catch(undefined),
});

/** A UUID (version 5 layout) derived from a name: the same name, the same id. */
export function nameUuid(name: string): string {
  const hash = createHash("sha1").update(`kilat:${name}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvelopeError";
  }
}

/**
 * Builds a domain event: validates the payload against the catalog, takes the partition key
 * from the payload field the catalog names, and gives it a fresh id unless one is passed
 * (an outbox entry keeps its id across publish retries).
 */
export function createEvent<T extends EventType>(
  type: T,
  data: EventPayload<T>,
  opts: { service: string; id?: string; time?: string },
): DomainEvent<T> {
  const definition = eventDefinition(type);
  const payload = parsePayload(type, data);
  const key = (payload as Record<string, unknown>)[definition.partitionKey];
  if (typeof key !== "string") {
    throw new EnvelopeError(`${type}: payload has no ${definition.partitionKey}`);
  }
  const bookingId = (payload as Record<string, unknown>)["booking_id"];
  const subject = typeof bookingId === "string" ? bookingId : key;
  const attributes: EventEnvelope = {
    id: opts.id ?? randomUUID(),
    source: `/kilat/${opts.service}`,
    subject,
    time: opts.time ?? new Date().toISOString(),
    partitionkey: key,
  };
  return withPayload(attributes, type, payload) as DomainEvent<T>;
}

/** The record header naming the event type, so a consumer can skip others without parsing. */
export const TYPE_HEADER = "ce_type";

/**
 * CloudEvents 1.0 structured mode, Kafka binding: the whole event as one JSON value, keyed by
 * the partition key. Written by hand: the event was checked when it was built, and the SDK's
 * per-event re-validation cost more than the rest of a GPS fix's path (test/unit/envelope.test.ts
 * checks the SDK reads what this writes).
 */
export function toWire(event: DomainEvent): WireMessage {
  return {
    key: event.partitionkey,
    value: JSON.stringify({
      specversion: "1.0",
      id: event.id,
      source: event.source,
      type: event.type,
      subject: event.subject,
      time: event.time,
      datacontenttype: "application/json",
      partitionkey: event.partitionkey,
      data: event.data,
      // Undefined (tracing off) leaves them out of the JSON.
      traceparent: event.traceparent,
      tracestate: event.tracestate,
    }),
    headers: { "content-type": CLOUDEVENTS_CONTENT_TYPE, [TYPE_HEADER]: event.type },
  };
}

/**
 * Reads a record back into a checked domain event. Throws EnvelopeError for anything that is
 * not a well-formed CloudEvent of a known type with a valid payload (a poison message).
 */
export function fromWire(message: WireMessage): DomainEvent {
  const contentType = message.headers["content-type"] ?? "";
  if (!contentType.startsWith("application/cloudevents+json")) {
    throw new EnvelopeError(`not a structured CloudEvent (content-type ${contentType || "none"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(message.value);
  } catch (error) {
    throw new EnvelopeError(`not a CloudEvent: ${(error as Error).message}`);
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) {
    throw new EnvelopeError(`bad envelope: ${z.prettifyError(envelope.error)}`);
  }
  if (envelope.data.partitionkey !== message.key) {
    throw new EnvelopeError("the record key is not the event's partition key");
  }
  const { type } = envelope.data;
  if (!isEventType(type)) throw new EnvelopeError(`unknown event type ${type}`);
  const data = eventDefinition(type).schema.safeParse(envelope.data.data);
  if (!data.success) {
    throw new EnvelopeError(`bad ${type} payload: ${z.prettifyError(data.error)}`);
  }
  const attributes: EventEnvelope = {
    id: envelope.data.id,
    source: envelope.data.source,
    subject: envelope.data.subject,
    time: envelope.data.time,
    partitionkey: envelope.data.partitionkey,
  };
  if (envelope.data.traceparent) {
    attributes.traceparent = envelope.data.traceparent;
    if (envelope.data.tracestate) attributes.tracestate = envelope.data.tracestate;
  }
  return withPayload(attributes, type, data.data);
}

/**
 * An event from its attributes and a payload checked against its type's schema (or read back
 * from where such an event was stored): the one place a type and its payload are paired.
 */
export const withPayload = (attributes: EventEnvelope, type: EventType, data: unknown) =>
  ({ ...attributes, type, data }) as DomainEvent;
