import { EVENT_BUS_TUNING } from "../../config/tuning";
import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type logCreator,
  type Producer,
} from "kafkajs";
import { dlqOf } from "../../events/catalog";
import { TYPE_HEADER, toWire, type DomainEvent, type WireMessage } from "../../events/envelope";
import { deliver, deliverBatch, resolveRetry, type DeliveryPorts } from "./delivery";
import { DurableOffsets } from "./durable-offsets";
import { quietRequestQueues } from "./kafkajs-idle";
import {
  partitionLag,
  type ConsumerOptions,
  type EventBus,
  type GroupTopic,
  type PartitionLag,
  type Subscription,
  type TopicRecord,
} from "./port";

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Prepended to every topic and group id on the cluster; the code keeps catalog names. */
  topicPrefix?: string;
  /** Partitions consumed at once per consumer; each partition stays strictly in order. */
  partitionsConsumedConcurrently?: number;
  /** How long a send waits for others to share its request, by catalog topic (default: tuning). */
  produceLingerMs?: Readonly<Record<string, number>>;
  logger?: { warn(...args: unknown[]): void; error(...args: unknown[]): void };
}

const {
  maxMessagesPerRequest: MAX_MESSAGES_PER_REQUEST,
  commitEveryMs: COMMIT_EVERY_MS,
  lazyFetchBytes: LAZY_FETCH_BYTES,
  stopWaitMs: STOP_WAIT_MS,
} = EVENT_BUS_TUNING;

interface QueuedSend {
  topic: string;
  /** When it may go out at the latest (performance.now()), if it may wait for company. */
  dueAt: number;
  messages: WireMessage[];
  resolve(): void;
  reject(error: unknown): void;
}

/** kafkajs adapter of the event-bus port. */
export class KafkaEventBus implements EventBus {
  readonly kind = "kafka" as const;
  private readonly kafka: Kafka;
  private producer: Promise<Producer> | undefined;
  private admin: Promise<Admin> | undefined;
  private readonly subscriptions = new Set<Subscription>();
  private readonly prefix: string;
  private readonly queued: QueuedSend[] = [];
  /** The loop sending what is queued, while it runs (close waits for it). */
  private draining: Promise<void> | undefined;
  private closed = false;
  /** Ends a linger early: a send that must not wait has been queued, or the bus closes. */
  private endLinger: (() => void) | undefined;

  constructor(private readonly options: KafkaBusOptions) {
    quietRequestQueues(); // kafkajs's idle connections otherwise wake every millisecond
    this.prefix = options.topicPrefix ?? "";
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(options.logger),
      connectionTimeout: 3000,
      retry: { initialRetryTime: 200, retries: 8 },
    });
  }

  async publish(topic: string, events: DomainEvent[]): Promise<void> {
    await this.publishWire(topic, events.map(toWire));
  }

  /**
   * Group commit: sends that arrive while one is in flight wait and go out together as one
   * produce request. With one request in flight (see getProducer) a send per call would cap
   * the bus at one round trip per event; batched, a busy producer pays one per batch.
   */
  async publishWire(topic: string, messages: WireMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (messages.length > MAX_MESSAGES_PER_REQUEST) {
      // In order, a request's worth at a time: one send never outgrows a request.
      for (let start = 0; start < messages.length; start += MAX_MESSAGES_PER_REQUEST) {
        await this.publishWire(topic, messages.slice(start, start + MAX_MESSAGES_PER_REQUEST));
      }
      return;
    }
    const lingerMs = (this.options.produceLingerMs ?? EVENT_BUS_TUNING.produceLingerMs)[topic] ?? 0;
    const dueAt = lingerMs > 0 ? performance.now() + lingerMs : 0;
    if (this.closed) throw new Error("the Kafka event bus is closed");
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ topic: this.prefix + topic, dueAt, resolve, reject, messages });
      if (lingerMs === 0) this.endLinger?.();
      this.draining ??= this.drain();
    });
  }

  /**
   * Before a request whose sends all may wait, waits for more to join, until the first of
   * them is due (Kafka's linger.ms: a send waits at most its topic's linger in all, also while
   * a request is in flight); a send that may not wait ends it.
   */
  private async linger(): Promise<void> {
    let dueAt = Infinity;
    let count = 0;
    for (const send of this.queued) {
      count += send.messages.length;
      dueAt = Math.min(dueAt, send.dueAt);
      if (count >= MAX_MESSAGES_PER_REQUEST) return; // the next request is full already
    }
    const wait = dueAt - performance.now();
    if (wait <= 0 || this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait);
      this.endLinger = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.endLinger = undefined;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        await this.linger();
        // Bounded, so a backlog after a stall goes out as several requests, each well under
        // the broker's message.max.bytes, and one oversized request cannot fail them all.
        let count = 0;
        let take = 0;
        while (
          take < this.queued.length &&
          count + this.queued[take].messages.length <= MAX_MESSAGES_PER_REQUEST
        ) {
          count += this.queued[take].messages.length;
          take++;
        }
        const batch = this.queued.splice(0, Math.max(1, take));
        const byTopic = new Map<string, WireMessage[]>();
        for (const { topic, messages } of batch) {
          const list = byTopic.get(topic) ?? [];
          list.push(...messages);
          byTopic.set(topic, list);
        }
        try {
          const producer = await this.getProducer();
          await producer.sendBatch({
            acks: -1,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          });
          for (const send of batch) send.resolve();
        } catch (error) {
          for (const send of batch) send.reject(error);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  async subscribe(options: ConsumerOptions): Promise<Subscription> {
    const retry = resolveRetry(options.retry);
    let stopping = false;
    let consumer: Consumer | undefined;

    /**
     * Batch consumers commit themselves, each batch once its effects are stored. One per
     * subscription, kept when kafkajs dies and the consumer is rebuilt (its batches in hand are
     * still being stored, and later ones must commit after them); replaced after one of its
     * batches failed to be stored, whose partition it can no longer commit.
     */
    let offsets: DurableOffsets | undefined;
    let commitTimer: NodeJS.Timeout | undefined;
    let batchesRunning = 0;
    const commitReady = async (target: Consumer, from: DurableOffsets): Promise<void> => {
      const ready = from.take();
      if (ready.length === 0) return;
      await target.commitOffsets(ready).catch((error: unknown) => {
        from.restore(ready);
        this.options.logger?.warn(`consumer ${options.groupId}: commit failed`, error);
      });
    };

    const start = async (): Promise<void> => {
      const current = this.kafka.consumer({
        groupId: this.prefix + options.groupId,
        allowAutoTopicCreation: false,
        sessionTimeout: EVENT_BUS_TUNING.sessionTimeoutMs,
        heartbeatInterval: EVENT_BUS_TUNING.heartbeatIntervalMs,
        // Rebalances on join should be quick: the broker runs group.initial.rebalance.delay.ms=0.
        rebalanceTimeout: EVENT_BUS_TUNING.rebalanceTimeoutMs,
        // By default a fetch returns as soon as data arrives (maxWaitTimeInMs then only bounds
        // how long disconnect() waits); a patient consumer lets it fill.
        ...(options.fetchWaitMs
          ? { minBytes: LAZY_FETCH_BYTES, maxWaitTimeInMs: options.fetchWaitMs }
          : { maxWaitTimeInMs: 1000 }),
      });
      consumer = current;
      const joined = new Promise<void>((resolve, reject) => {
        current.on(current.events.GROUP_JOIN, () => resolve());
        current.on(current.events.CRASH, ({ payload }) => {
          if (!payload.restart) reject(payload.error);
        });
      });
      // kafkajs#1011: a consumer can crash for good (restart=false); build a fresh one.
      current.on(current.events.CRASH, ({ payload }) => {
        if (stopping || payload.restart || consumer !== current) return;
        this.options.logger?.error(
          `consumer ${options.groupId} crashed, restarting`,
          payload.error,
        );
        restartSoon(1);
      });
      try {
        await current.connect();
        await current.subscribe({
          topics: options.topics.map((topic) => this.prefix + topic),
          fromBeginning: true,
        });
        const ports = (heartbeat: () => Promise<void>): DeliveryPorts => ({
          deadLetter: (dlq, letter) => this.publishWire(dlq, [letter]),
          sleep: (ms) => sleepWithHeartbeat(ms, heartbeat),
          logger: this.options.logger,
        });
        const originOf = (topic: string, partition: number, message: KafkaMessage) => ({
          topic: topic.slice(this.prefix.length),
          partition,
          offset: message.offset,
          groupId: options.groupId,
        });
        const { batchHandler } = options;
        const types = options.types ? new Set(options.types) : undefined;
        const maxBatch = options.maxBatch ?? 500;
        if (batchHandler && !offsets) {
          const fresh = new DurableOffsets((error) => {
            if (stopping || offsets !== fresh) return;
            this.options.logger?.error(
              `consumer ${options.groupId}: a batch's effects were not stored; reading again from the last commit`,
              error,
            );
            offsets = undefined;
            clearInterval(commitTimer);
            void consumer
              ?.disconnect()
              .catch(() => undefined) // it is being replaced either way
              .finally(() => restartSoon(1));
          });
          offsets = fresh;
        }
        const durable = batchHandler ? offsets : undefined;
        if (durable) {
          clearInterval(commitTimer);
          commitTimer = setInterval(() => void commitReady(current, durable), COMMIT_EVERY_MS);
          commitTimer.unref();
        }
        await current.run({
          // eachMessage: kafkajs resolves a message's offset only after its handler returned,
          // so the periodic commit never covers a message whose handler has not finished.
          // eachBatch: resolving only moves the fetch position; DurableOffsets commits.
          autoCommit: !durable,
          autoCommitInterval: COMMIT_EVERY_MS,
          partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
          ...(batchHandler && durable
            ? {
                eachBatchAutoResolve: false,
                eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
                  batchesRunning++;
                  try {
                    for (let start = 0; start < batch.messages.length; start += maxBatch) {
                      if (stopping || !isRunning() || isStale()) return;
                      const chunk = batch.messages.slice(start, start + maxBatch);
                      const behind = await deliverBatch(
                        chunk
                          .filter((message) => !othersType(message, types))
                          .map((message) => ({
                            message: fromKafka(message),
                            origin: originOf(batch.topic, batch.partition, message),
                          })),
                        batchHandler,
                        options.handler,
                        retry,
                        ports(heartbeat),
                        types,
                      );
                      const last = chunk[chunk.length - 1].offset;
                      resolveOffset(last);
                      durable.add(
                        {
                          topic: batch.topic,
                          partition: batch.partition,
                          offset: String(BigInt(last) + 1n),
                        },
                        behind?.durable,
                      );
                      await heartbeat();
                    }
                  } finally {
                    batchesRunning--;
                  }
                },
              }
            : {
                eachMessage: async ({ topic, partition, message, heartbeat }) => {
                  if (othersType(message, types)) return;
                  await deliver(
                    fromKafka(message),
                    originOf(topic, partition, message),
                    options.handler,
                    retry,
                    ports(heartbeat),
                    types,
                  );
                },
              }),
        });
        await joined;
      } catch (error) {
        await current.disconnect().catch(() => undefined);
        throw error;
      }
    };

    // Until stopped, a consumer that died is rebuilt, backing off up to 30 s between tries.
    const restartSoon = (attempt: number): void => {
      setTimeout(
        () => {
          if (stopping) return;
          start().catch((error: unknown) => {
            this.options.logger?.error(`consumer ${options.groupId} restart failed`, error);
            restartSoon(attempt + 1);
          });
        },
        Math.min(30_000, 1000 * 2 ** (attempt - 1)),
      ).unref();
    };

    await start();
    const subscription: Subscription = {
      stop: async () => {
        stopping = true;
        this.subscriptions.delete(subscription);
        clearInterval(commitTimer);
        if (consumer && offsets) {
          // Batches in hand finish; what they handed over is stored (or given up on), and
          // committed while the consumer is still in its group.
          for (let waited = 0; batchesRunning > 0 && waited < STOP_WAIT_MS; waited += 10) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          await offsets.settled(STOP_WAIT_MS);
          await commitReady(consumer, offsets);
        }
        // disconnect() waits for the running eachMessage, commits (eachMessage), leaves the group.
        await consumer?.disconnect();
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    const admin = await this.getAdmin();
    const wanted = topics.flatMap((topic) => [topic, dlqOf(topic)]).map((t) => this.prefix + t);
    // A broker restarted on existing data lists its topics at once but answers "does not host
    // this topic-partition" for a while as it loads their logs: retried (bounded), with what is
    // still missing each time, until every partition has a leader.
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = new Set(await admin.listTopics());
        const missing = wanted.filter((topic) => !existing.has(topic));
        if (missing.length > 0) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((topic) => ({
              topic,
              numPartitions: partitions,
              replicationFactor: 1,
            })),
          });
        }
        const { topics: loaded } = await admin.fetchTopicMetadata({ topics: wanted });
        const leaderless = loaded.filter((t) => t.partitions.some((p) => p.leader < 0));
        if (leaderless.length === 0) return;
        throw Object.assign(
          new Error(`no leader yet for ${leaderless.map((t) => t.name).join(", ")}`),
          {
            retriable: true,
          },
        );
      } catch (error) {
        const retriable =
          (error as { retriable?: boolean; type?: string }).retriable === true ||
          (error as { type?: string }).type === "UNKNOWN_TOPIC_OR_PARTITION";
        if (!retriable || attempt >= 30) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async readTopic(topic: string, opts: { timeoutMs?: number } = {}): Promise<TopicRecord[]> {
    const admin = await this.getAdmin();
    const physical = this.prefix + topic;
    const ends = await admin.fetchTopicOffsets(physical);
    const remaining = new Map(
      ends
        .filter((end) => Number(end.high) > Number(end.low))
        .map((end) => [end.partition, BigInt(end.high)]),
    );
    const records: TopicRecord[] = [];
    if (remaining.size === 0) return records;
    // A throw-away group that never commits: reading must not move anyone's offsets.
    const reader = this.kafka.consumer({ groupId: `kilat-reader-${process.pid}-${Date.now()}` });
    await reader.connect();
    try {
      await reader.subscribe({ topic: physical, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out reading ${topic}`)),
          opts.timeoutMs ?? 15000,
        );
        reader
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              records.push({ topic, partition, offset: message.offset, ...fromKafka(message) });
              const high = remaining.get(partition);
              if (high !== undefined && BigInt(message.offset) + 1n >= high) {
                remaining.delete(partition);
              }
              if (remaining.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch((error: unknown) => {
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          });
      });
    } finally {
      await reader.disconnect();
    }
    return records.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  }

  async ping(): Promise<void> {
    const admin = await this.getAdmin();
    await admin.describeCluster();
  }

  /** Two admin requests per topic and one per group: cheap enough for every scrape. */
  async consumerLag(groups: readonly GroupTopic[]): Promise<PartitionLag[]> {
    const admin = await this.getAdmin();
    const topics = [...new Set(groups.map((group) => group.topic))];
    const ends = new Map(
      await Promise.all(
        topics.map(
          async (topic) => [topic, await admin.fetchTopicOffsets(this.prefix + topic)] as const,
        ),
      ),
    );
    const lags = await Promise.all(
      groups.map(async ({ groupId, topic }) => {
        const [committed] = await admin.fetchOffsets({
          groupId: this.prefix + groupId,
          topics: [this.prefix + topic],
        });
        const offsets = new Map(committed?.partitions.map((p) => [p.partition, p.offset]));
        return (ends.get(topic) ?? []).map((end) => ({
          groupId,
          topic,
          partition: end.partition,
          lag: partitionLag(offsets.get(end.partition), end.low, end.high),
        }));
      }),
    );
    return lags.flat();
  }

  async countRecords(topic: string): Promise<number> {
    const admin = await this.getAdmin();
    const ends = await admin.fetchTopicOffsets(this.prefix + topic).catch((error: unknown) => {
      if ((error as { type?: string }).type === "UNKNOWN_TOPIC_OR_PARTITION") return [];
      throw error;
    });
    return ends.reduce((sum, end) => sum + partitionLag(undefined, end.low, end.high), 0);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.stop()));
    // What was sent before (the consumers' write-behind included) goes out now, not lingering.
    this.closed = true;
    this.endLinger?.();
    await this.draining;
    const [producer, admin] = await Promise.allSettled([this.producer, this.admin]);
    if (producer.status === "fulfilled" && producer.value) await producer.value.disconnect();
    if (admin.status === "fulfilled" && admin.value) await admin.value.disconnect();
  }

  private getProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        // kafkajs#353: the idempotent producer is only safe with one request in flight, and
        // even then we do not rely on it: consumers dedupe by CloudEvent id.
        idempotent: true,
        maxInFlightRequests: 1,
        // Java-compatible murmur2: a key lands on the same partition as with any other client.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })().catch((error: unknown) => {
      this.producer = undefined;
      throw error;
    });
    return this.producer;
  }

  private getAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.admin = undefined;
      throw error;
    });
    return this.admin;
  }
}

/**
 * Routes kafkajs' own log to ours. Its per-request errors ("group is rebalancing",
 * "coordinator is loading") are retried inside kafkajs; what is not shows up as a CRASH.
 */
function kafkaLogCreator(logger: KafkaBusOptions["logger"]): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      if (namespace === "Connection" || !logger) return;
      // We keep bounded retries on purpose (a send must fail, not hang, while Kafka is down)
      // and never rely on the idempotent producer's exactly-once: consumers dedupe.
      if (log.message.startsWith("Limiting retries for the idempotent producer")) return;
      const line = `kafkajs ${namespace}: ${log.message}`;
      if (level === logLevel.ERROR) logger.error(line);
      else if (level === logLevel.WARN) logger.warn(line);
    };
}

/**
 * True for a record whose type header names a type this consumer does not handle: read from
 * the raw record, so a consumer skips the other types of its topic (a GPS stream, say) without
 * decoding them.
 */
function othersType(message: KafkaMessage, types: ReadonlySet<string> | undefined): boolean {
  if (!types) return false;
  const raw = message.headers?.[TYPE_HEADER];
  const type = (Array.isArray(raw) ? raw[0] : raw)?.toString();
  return type !== undefined && !types.has(type);
}

function fromKafka(message: KafkaMessage): WireMessage {
  return {
    key: message.key?.toString() ?? "",
    value: message.value?.toString() ?? "",
    headers: headersToStrings(message.headers),
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    result[name] = (Array.isArray(value) ? value[0] : value)?.toString() ?? "";
  }
  return result;
}

async function sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, deadline - Date.now())));
    await heartbeat();
  }
}
