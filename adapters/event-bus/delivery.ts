import { EnvelopeError, TYPE_HEADER, fromWire, type WireMessage } from "../../events/envelope";
import { dlqOf } from "../../events/catalog";
import {
  DEFAULT_RETRY,
  type BatchHandler,
  type DeliveredEvent,
  type DeliveryMeta,
  type EventHandler,
  type RetryPolicy,
  type WriteBehind,
} from "./port";

/** Headers a dead letter carries, so ops can see why and replay it where it came from. */
export const DLQ_HEADERS = {
  topic: "x-kilat-origin-topic",
  partition: "x-kilat-origin-partition",
  offset: "x-kilat-origin-offset",
  group: "x-kilat-consumer-group",
  error: "x-kilat-error",
  attempts: "x-kilat-attempts",
  failedAt: "x-kilat-failed-at",
} as const;

export type DeliveryOutcome = "handled" | "dead-lettered" | "skipped";

/** False only for a record whose type header names a type the consumer does not handle. */
function wanted(message: WireMessage, types: ReadonlySet<string> | undefined): boolean {
  const type = message.headers[TYPE_HEADER];
  return !types || type === undefined || types.has(type);
}

export interface DeliveryPorts {
  deadLetter(topic: string, message: WireMessage): Promise<void>;
  /** Waits between attempts; the Kafka adapter heartbeats meanwhile so the group stays stable. */
  sleep(ms: number): Promise<void>;
  /** Told about every failed attempt and every dead letter. */
  logger?: { warn(...args: unknown[]): void; error(...args: unknown[]): void };
}

export function resolveRetry(policy: Partial<RetryPolicy> | undefined): RetryPolicy {
  return { ...DEFAULT_RETRY, ...policy };
}

export function backoffDelay(
  policy: Pick<RetryPolicy, "initialDelayMs" | "maxDelayMs" | "factor">,
  failedAttempt: number,
): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (failedAttempt - 1));
}

/** A failure that says it may pass: Moleculer marks its transport and availability errors so. */
function transient(error: unknown): boolean {
  return (
    typeof error === "object" && error !== null && "retryable" in error && error.retryable === true
  );
}

/**
 * Delivers one message to a handler, the same way for every adapter: a message that is not a
 * valid catalog CloudEvent is dead-lettered at once (retrying cannot fix it); a failing handler
 * is retried with exponential backoff, then dead-lettered — after `attempts`, or, while its
 * failure is a transient one, after `transientForMs`. Either way the caller commits and moves on,
 * so a poison message never blocks its partition for long.
 */
export async function deliver(
  message: WireMessage,
  origin: Omit<DeliveryMeta, "attempt">,
  handler: EventHandler,
  policy: RetryPolicy,
  ports: DeliveryPorts,
  types?: ReadonlySet<string>,
): Promise<DeliveryOutcome> {
  if (!wanted(message, types)) return "skipped";
  let event;
  try {
    event = fromWire(message);
  } catch (error) {
    ports.logger?.error(
      `${origin.topic}/${origin.partition}@${origin.offset} (${origin.groupId}) is not a valid event, dead-lettered:`,
      error,
    );
    await ports.deadLetter(dlqOf(origin.topic), deadLetter(message, origin, error, 0));
    return "dead-lettered";
  }
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await handler(event, { ...origin, attempt });
      return "handled";
    } catch (error) {
      const where = `${event.type} ${event.id} (${origin.groupId}, attempt ${attempt})`;
      firstFailure ??= Date.now();
      const waitFor = transient(error) && Date.now() - firstFailure < policy.transientForMs;
      if ((attempt >= policy.attempts && !waitFor) || error instanceof EnvelopeError) {
        ports.logger?.error(`${where} failed for good, dead-lettered:`, error);
        await ports.deadLetter(dlqOf(origin.topic), deadLetter(message, origin, error, attempt));
        return "dead-lettered";
      }
      ports.logger?.warn(`${where} failed, retrying:`, error);
      await ports.sleep(backoffDelay(policy, attempt));
    }
  }
}

export interface BatchRecord {
  message: WireMessage;
  origin: Omit<DeliveryMeta, "attempt">;
}

/**
 * Delivers records of one partition through the batch handler; when one of them is not a valid
 * event, or the batch handler fails, falls back to `deliver` record by record, in order. Resolves
 * with the handler's write-behind, if it returned one: the caller commits once it is durable.
 */
export async function deliverBatch(
  all: BatchRecord[],
  batchHandler: BatchHandler,
  handler: EventHandler,
  policy: RetryPolicy,
  ports: DeliveryPorts,
  types?: ReadonlySet<string>,
): Promise<WriteBehind | undefined> {
  const records = all.filter(({ message }) => wanted(message, types));
  if (records.length === 0) return undefined;
  const batch: DeliveredEvent[] = [];
  try {
    for (const { message, origin } of records) {
      batch.push({ event: fromWire(message), meta: { ...origin, attempt: 1 } });
    }
    return (await batchHandler(batch)) ?? undefined;
  } catch (error) {
    if (batch.length === records.length) {
      ports.logger?.warn(`a batch of ${records.length} failed, delivering one by one:`, error);
    }
  }
  for (const { message, origin } of records) {
    await deliver(message, origin, handler, policy, ports, types);
  }
  return undefined;
}

function deadLetter(
  message: WireMessage,
  origin: Omit<DeliveryMeta, "attempt">,
  error: unknown,
  attempts: number,
): WireMessage {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      [DLQ_HEADERS.topic]: origin.topic,
      [DLQ_HEADERS.partition]: String(origin.partition),
      [DLQ_HEADERS.offset]: origin.offset,
      [DLQ_HEADERS.group]: origin.groupId,
      [DLQ_HEADERS.error]: reason.slice(0, 1000),
      [DLQ_HEADERS.attempts]: String(attempts),
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
    },
  };
}
