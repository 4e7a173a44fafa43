import type { DomainEvent, WireMessage } from "../../events/envelope";

/** Where a delivered message came from; also what a dead letter records. */
export interface DeliveryMeta {
  topic: string;
  partition: number;
  offset: string;
  groupId: string;
  /** 1 on the first try, then 2, 3… while the handler keeps failing. */
  attempt: number;
}

export type EventHandler = (event: DomainEvent, meta: DeliveryMeta) => Promise<void>;

export interface RetryPolicy {
  /** Tries in all, the first included; after the last failure the message is dead-lettered. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /**
   * A failure that says it may pass (a Moleculer error marked `retryable`: the transporter
   * disconnected, no node for the action yet, a timeout) is tried again past `attempts` for this
   * long from the first failure: the event waits in its partition for the dependency to return
   * instead of going to the dead-letter topic while Redis restarts.
   */
  transientForMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 5000,
  factor: 2,
  transientForMs: 120_000,
};

export interface DeliveredEvent {
  event: DomainEvent;
  meta: DeliveryMeta;
}

/**
 * What a batch handler returns when it stores a batch's effects after it returned (write-behind):
 * the bus goes on to the next records at once, and commits these only once `durable` resolved.
 * If `durable` rejects, the records are delivered again from the last commit, so the handler must
 * not count on what it remembers of them.
 */
export interface WriteBehind {
  durable: Promise<void>;
}

/** Several records of one partition, in offset order. Must be idempotent, like any handler. */
export type BatchHandler = (batch: DeliveredEvent[]) => Promise<void | WriteBehind>;

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  handler: EventHandler;
  retry?: Partial<RetryPolicy>;
  /**
   * The fast path for hot streams: the records a fetch brought, up to `maxBatch`, in one call,
   * so a consumer can write them with one round trip. When it throws, the same records go
   * through `handler` one by one, with the usual retries and dead letters. It may return a
   * `WriteBehind`, to be handed the next records while the last ones are still being stored.
   */
  batchHandler?: BatchHandler;
  maxBatch?: number;
  /**
   * The event types this consumer handles. Records of other types (named by their `ce_type`
   * header) are committed without being parsed: a topic's hot stream costs its other
   * consumers nothing.
   */
  types?: readonly string[];
  /**
   * How long a fetch may wait to fill (Kafka: up to 64 kB) when the consumer can hear of its
   * events that much later. Unset: a fetch returns as soon as any record arrives.
   */
  fetchWaitMs?: number;
}

export interface Subscription {
  /** Graceful: lets the message in hand finish, commits, and leaves the group. */
  stop(): Promise<void>;
}

/**
 * The event-bus port. Both adapters (Kafka, in-process) give the same guarantees:
 * per-key order within a topic, one delivery per consumer group (at least once), offsets
 * committed only after the handler succeeded, bounded retries then `<topic>.dlq`.
 */
export interface EventBus {
  readonly kind: "kafka" | "memory";
  /** Resolves once every event is acknowledged by all in-sync replicas (acks = all). */
  publish(topic: string, events: DomainEvent[]): Promise<void>;
  /** Publishes records as they are (DLQ replay, tests of poison messages). */
  publishWire(topic: string, messages: WireMessage[]): Promise<void>;
  /** Resolves once the consumer has joined its group. */
  subscribe(options: ConsumerOptions): Promise<Subscription>;
  /** Creates the topics that do not exist yet, each with its `.dlq` twin. */
  ensureTopics(topics: string[], partitions: number): Promise<void>;
  /** Reads a topic from the start (ops and tests: the DLQ, the published sequence). */
  readTopic(topic: string, opts?: { timeoutMs?: number }): Promise<TopicRecord[]>;
  /** Reachability, for /ready. */
  ping(): Promise<void>;
  /** How far each group is behind on each partition of its topic (/metrics). */
  consumerLag(groups: readonly GroupTopic[]): Promise<PartitionLag[]>;
  /** Records a topic holds now (0 when it does not exist): a dead-letter topic's depth. */
  countRecords(topic: string): Promise<number>;
  close(): Promise<void>;
}

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** A consumer group and the topic it reads. */
export interface GroupTopic {
  groupId: string;
  topic: string;
}

/** Records a group has yet to take from one partition. */
export interface PartitionLag extends GroupTopic {
  partition: number;
  lag: number;
}

/**
 * Records left for a group on one partition: from its committed offset to the end, or from the
 * partition's first record when it has committed nothing yet (`-1`, or an offset that retention
 * has deleted), since consumers start from the beginning.
 */
export function partitionLag(committed: string | undefined, low: string, high: string): number {
  const start =
    committed === undefined || committed === "-1" || BigInt(committed) < BigInt(low)
      ? BigInt(low)
      : BigInt(committed);
  const lag = BigInt(high) - start;
  return lag > 0n ? Number(lag) : 0;
}
