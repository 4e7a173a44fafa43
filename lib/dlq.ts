import { ALL_TOPICS, dlqOf } from "../events/catalog";
import type { WireMessage } from "../events/envelope";
import { DLQ_HEADERS } from "../adapters/event-bus/delivery";
import type { EventBus, TopicRecord } from "../adapters/event-bus";

/** A dead letter as operators look at it. */
export interface DeadLetter {
  topic: string;
  offset: string;
  partition: number;
  event_id: string | null;
  type: string | null;
  origin: { topic: string; partition: string; offset: string } | null;
  group: string | null;
  error: string | null;
  attempts: number | null;
  failed_at: string | null;
}

function describe(record: TopicRecord, topic: string): DeadLetter {
  let event: { id?: string; type?: string } = {};
  try {
    event = JSON.parse(record.value) as typeof event;
  } catch {
    // not JSON: a poison message, shown by its headers
  }
  const h = record.headers;
  return {
    topic,
    offset: record.offset,
    partition: record.partition,
    event_id: typeof event.id === "string" ? event.id : null,
    type: typeof event.type === "string" ? event.type : null,
    origin: h[DLQ_HEADERS.topic]
      ? {
          topic: h[DLQ_HEADERS.topic],
          partition: h[DLQ_HEADERS.partition] ?? "",
          offset: h[DLQ_HEADERS.offset] ?? "",
        }
      : null,
    group: h[DLQ_HEADERS.group] ?? null,
    error: h[DLQ_HEADERS.error] ?? null,
    attempts: h[DLQ_HEADERS.attempts] ? Number(h[DLQ_HEADERS.attempts]) : null,
    failed_at: h[DLQ_HEADERS.failedAt] ?? null,
  };
}

/** Accepts `booking.events` or `booking.events.dlq`; refuses topics outside the catalog. */
export function dlqTopicOf(topic: string): { topic: string; dlq: string } {
  const base = topic.endsWith(".dlq") ? topic.slice(0, -".dlq".length) : topic;
  if (!(ALL_TOPICS as string[]).includes(base)) {
    throw new RangeError(`unknown topic ${topic}; known: ${ALL_TOPICS.join(", ")}`);
  }
  return { topic: base, dlq: dlqOf(base) };
}

/** How many dead letters each catalog topic has (its `.dlq` twin's records). */
export async function deadLetterDepths(bus: EventBus): Promise<Record<string, number>> {
  const depths = await Promise.all(ALL_TOPICS.map((topic) => bus.countRecords(dlqOf(topic))));
  return Object.fromEntries(ALL_TOPICS.map((topic, i) => [topic, depths[i]]));
}

/** The dead letters of one topic, or of all. */
export async function listDeadLetters(bus: EventBus, topic?: string): Promise<DeadLetter[]> {
  const topics = topic ? [dlqTopicOf(topic).topic] : ALL_TOPICS;
  const lists = await Promise.all(
    topics.map(async (name) =>
      (await bus.readTopic(dlqOf(name), { timeoutMs: 10_000 })).map((r) => describe(r, name)),
    ),
  );
  return lists.flat();
}

/**
 * The records an operator means: `<partition>:<offset>`, or a bare offset when only one
 * partition has it (offsets are per partition); an ambiguous bare offset is refused.
 */
function pick(records: TopicRecord[], at: string): TopicRecord[] {
  const [partition, offset] = at.includes(":") ? at.split(":", 2) : [undefined, at];
  const matches = records.filter(
    (record) =>
      record.offset === offset &&
      (partition === undefined || String(record.partition) === partition),
  );
  if (matches.length > 1) {
    throw new RangeError(
      `offset ${at} is in partitions ${matches.map((m) => m.partition).join(", ")}: say <partition>:<offset>`,
    );
  }
  return matches;
}

/** One dead letter whole: its summary, headers and value. */
export async function showDeadLetter(bus: EventBus, topic: string, offset: string) {
  const { topic: base, dlq } = dlqTopicOf(topic);
  const [record] = pick(await bus.readTopic(dlq, { timeoutMs: 10_000 }), offset);
  if (!record) return null;
  let value: unknown = record.value;
  try {
    value = JSON.parse(record.value);
  } catch {
    // shown as it is
  }
  return { ...describe(record, base), headers: record.headers, value };
}

/**
 * Publishes dead letters again to the topic they came from (their key kept, the dead-letter
 * headers dropped), for the consumer groups to take them anew once the cause is fixed. Safe to
 * repeat: consumers deduplicate by event id, so a group that handled one ignores it.
 */
export async function replayDeadLetters(
  bus: EventBus,
  topic: string,
  which: { offset?: string; all?: boolean },
): Promise<{ replayed: number; replayed_at: string[] }> {
  if (!which.all && which.offset === undefined) {
    throw new RangeError("say which: an offset, or all");
  }
  const { topic: base, dlq } = dlqTopicOf(topic);
  const all = await bus.readTopic(dlq, { timeoutMs: 10_000 });
  const records = which.all ? all : pick(all, which.offset ?? "");
  const byOrigin = new Map<string, WireMessage[]>();
  for (const record of records) {
    const origin = record.headers[DLQ_HEADERS.topic] ?? base;
    const headers = Object.fromEntries(
      Object.entries(record.headers).filter(([name]) => !name.startsWith("x-kilat-")),
    );
    const list = byOrigin.get(origin) ?? [];
    list.push({ key: record.key, value: record.value, headers });
    byOrigin.set(origin, list);
  }
  for (const [origin, messages] of byOrigin) await bus.publishWire(origin, messages);
  return {
    replayed: records.length,
    replayed_at: records.map((record) => `${record.partition}:${record.offset}`),
  };
}
