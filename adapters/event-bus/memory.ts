import { EVENT_BUS_TUNING } from "../../config/tuning";
import { setTimeout as sleep } from "node:timers/promises";
import { dlqOf } from "../../events/catalog";
import { toWire, type DomainEvent, type WireMessage } from "../../events/envelope";
import { deliver, deliverBatch, resolveRetry, type DeliveryPorts } from "./delivery";
import {
  partitionLag,
  type ConsumerOptions,
  type EventBus,
  type GroupTopic,
  type PartitionLag,
  type RetryPolicy,
  type Subscription,
  type TopicRecord,
  type WriteBehind,
} from "./port";

interface Member {
  id: number;
  topics: string[];
  handler: ConsumerOptions["handler"];
  batchHandler: ConsumerOptions["batchHandler"];
  maxBatch: number;
  types: ReadonlySet<string> | undefined;
  retry: RetryPolicy;
  /** Deliveries in hand; stop() waits for them. */
  inFlight: Set<Promise<unknown>>;
}

interface Group {
  id: string;
  members: Member[];
  /** Next offset to deliver, per "topic/partition"; advanced only after the handler settled. */
  committed: Map<string, number>;
  workers: Set<string>;
}

/**
 * The embedded event bus: Kafka's semantics in one process. Each topic has partitions chosen
 * by key hash (per-key order), each consumer group has committed offsets and spreads the
 * partitions over its members, and failures go through the same retry / dead-letter path as
 * the Kafka adapter (delivery.ts).
 */
export class MemoryEventBus implements EventBus {
  readonly kind = "memory" as const;
  private readonly logs = new Map<string, WireMessage[][]>();
  private readonly groups = new Map<string, Group>();
  private readonly wakeups = new Set<() => void>();
  private nextMemberId = 1;
  private closed = false;

  /**
   * @param stopWaitMs how long a stop (or close) waits for what its members have in hand and
   *   are storing, as the Kafka adapter does; past it, what is not committed goes again to the
   *   next member.
   */
  constructor(
    private readonly defaultPartitions = 3,
    private readonly logger?: DeliveryPorts["logger"],
    private readonly stopWaitMs = EVENT_BUS_TUNING.stopWaitMs,
  ) {}

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    for (const topic of topics) {
      this.createTopic(topic, partitions);
      this.createTopic(dlqOf(topic), partitions);
    }
  }

  async publish(topic: string, events: DomainEvent[]): Promise<void> {
    await this.publishWire(topic, events.map(toWire));
  }

  async publishWire(topic: string, messages: WireMessage[]): Promise<void> {
    this.assertOpen();
    for (const message of messages) this.append(topic, message);
    this.wake();
  }

  async subscribe(options: ConsumerOptions): Promise<Subscription> {
    this.assertOpen();
    const group = this.groupOf(options.groupId);
    const member: Member = {
      id: this.nextMemberId++,
      topics: options.topics,
      handler: options.handler,
      batchHandler: options.batchHandler,
      maxBatch: options.maxBatch ?? 500,
      types: options.types ? new Set(options.types) : undefined,
      retry: resolveRetry(options.retry),
      inFlight: new Set(),
    };
    group.members.push(member);
    for (const topic of options.topics) {
      this.partitionsOf(topic).forEach((_, partition) => this.startWorker(group, topic, partition));
    }
    this.wake(); // parked workers of this group re-check who owns their partition
    return {
      stop: async () => {
        group.members = group.members.filter((candidate) => candidate !== member);
        await this.settle([member.inFlight]);
        this.wake();
      },
    };
  }

  async readTopic(topic: string): Promise<TopicRecord[]> {
    return this.partitionsOf(topic).flatMap((log, partition) =>
      log.map((message, offset) => ({ topic, partition, offset: String(offset), ...message })),
    );
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async consumerLag(groups: readonly GroupTopic[]): Promise<PartitionLag[]> {
    return groups.flatMap(({ groupId, topic }) =>
      (this.logs.get(topic) ?? []).map((log, partition) => ({
        groupId,
        topic,
        partition,
        lag: partitionLag(
          String(this.groups.get(groupId)?.committed.get(`${topic}/${partition}`) ?? 0),
          "0",
          String(log.length),
        ),
      })),
    );
  }

  async countRecords(topic: string): Promise<number> {
    return (this.logs.get(topic) ?? []).reduce((sum, log) => sum + log.length, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    const members = [...this.groups.values()].flatMap((group) => group.members);
    await this.settle(members.map((member) => member.inFlight));
  }

  /**
   * Waits, at most `stopWaitMs`, until every set is empty: a batch in hand adds its write and
   * commit when its handler returns, so a set is read again until empty.
   */
  private async settle(sets: Set<Promise<unknown>>[]): Promise<void> {
    const deadline = Date.now() + this.stopWaitMs;
    for (const set of sets) {
      while (set.size > 0) {
        const left = deadline - Date.now();
        if (left <= 0) {
          this.logger?.warn(`gave up waiting for ${set.size} deliveries or writes`);
          return;
        }
        await Promise.race([Promise.allSettled([...set]), sleep(left, undefined, { ref: false })]);
      }
    }
  }

  private append(topic: string, message: WireMessage): void {
    const partitions = this.partitionsOf(topic);
    partitions[partitionFor(message.key, partitions.length)].push(message);
  }

  private createTopic(topic: string, partitions: number): WireMessage[][] {
    let log = this.logs.get(topic);
    if (!log) {
      log = Array.from({ length: partitions }, () => []);
      this.logs.set(topic, log);
    }
    return log;
  }

  private partitionsOf(topic: string): WireMessage[][] {
    return this.logs.get(topic) ?? this.createTopic(topic, this.defaultPartitions);
  }

  private groupOf(id: string): Group {
    let group = this.groups.get(id);
    if (!group) {
      group = { id, members: [], committed: new Map(), workers: new Set() };
      this.groups.set(id, group);
    }
    return group;
  }

  /** Round-robin assignment, recomputed from the current members on every delivery. */
  private ownerOf(group: Group, topic: string, partition: number): Member | undefined {
    const candidates = group.members.filter((member) => member.topics.includes(topic));
    if (candidates.length === 0) return undefined;
    return candidates[partition % candidates.length];
  }

  private startWorker(group: Group, topic: string, partition: number): void {
    const key = `${topic}/${partition}`;
    if (group.workers.has(key)) return;
    group.workers.add(key);
    // The worker leaves `workers` itself, in the same turn as it stops, so a member that
    // subscribes right after sees it gone and starts another.
    void this.runWorker(group, topic, partition, key).catch((error: unknown) => {
      group.workers.delete(key);
      this.logger?.warn(`${key} (${group.id}): worker stopped`, error);
    });
  }

  /**
   * Hands one partition's records to the group's member that owns it, in order. A batch's
   * write-behind is not waited for: the next records go out while it is stored, and offsets are
   * committed in order, each once its write and every earlier one are stored. A failed write,
   * or a new owner, sends the worker back to the last commit, as a rebuilt Kafka consumer
   * would be.
   */
  private async runWorker(group: Group, topic: string, partition: number, key: string) {
    /** Next offset to hand over: ahead of the committed one while writes are pending. */
    let position = group.committed.get(key) ?? 0;
    let owner: Member | undefined;
    /** The commit chain: true while every write so far was stored and committed. */
    let commits: Promise<boolean> = Promise.resolve(true);
    /** Writes and commits not settled yet (a rewind waits for them all). */
    const pending = new Set<Promise<unknown>>();
    let failed: unknown;
    const track = (member: Member, promise: Promise<unknown>) => {
      for (const set of [pending, member.inFlight]) {
        set.add(promise);
        void promise.finally(() => set.delete(promise));
      }
    };
    const commitAfter = (member: Member, durable: Promise<void>, next: number) => {
      // Observed at once: a later write may fail while an earlier one is still pending.
      const stored = durable.then(
        () => true,
        (error: unknown) => {
          failed ??= error;
          this.wake();
          return false;
        },
      );
      const earlier = commits;
      commits = (async () => {
        const [before, mine] = await Promise.all([earlier, stored]);
        if (before && mine) group.committed.set(key, next);
        return before && mine;
      })();
      track(member, stored);
      track(member, commits);
    };
    /**
     * Back to the last commit, once nothing is being stored (or `stopWaitMs` passed: a write
     * still pending then can only commit what it stored, in order).
     */
    const rewind = async () => {
      await this.settle([pending]);
      commits = Promise.resolve(true);
      failed = undefined;
      position = group.committed.get(key) ?? 0;
    };
    const ports: DeliveryPorts = {
      deadLetter: async (dlq, letter) => {
        this.append(dlq, letter);
        this.wake();
      },
      sleep: (ms) => sleep(ms),
      logger: this.logger,
    };
    const origin = (at: number) => ({ topic, partition, offset: String(at), groupId: group.id });

    while (!this.closed) {
      if (failed !== undefined) {
        this.logger?.warn(`${key} (${group.id}): effects not stored, delivering again`, failed);
        await rewind();
        await sleep(owner?.retry.initialDelayMs ?? 0);
        continue;
      }
      const message = this.partitionsOf(topic)[partition][position];
      const member = message && this.ownerOf(group, topic, partition);
      if (!message || !member) {
        if (group.members.length === 0) break;
        await new Promise<void>((resolve) => this.wakeups.add(resolve));
        continue;
      }
      if (member !== owner) {
        if (owner) await rewind(); // a new owner starts from the last commit
        owner = member;
        continue;
      }
      let next = position + 1;
      let delivery: Promise<WriteBehind | void>;
      if (member.batchHandler) {
        const log = this.partitionsOf(topic)[partition];
        const records = log
          .slice(position, position + member.maxBatch)
          .map((record, i) => ({ message: record, origin: origin(position + i) }));
        next = position + records.length;
        delivery = deliverBatch(
          records,
          member.batchHandler,
          member.handler,
          member.retry,
          ports,
          member.types,
        );
      } else {
        delivery = deliver(
          message,
          origin(position),
          member.handler,
          member.retry,
          ports,
          member.types,
        ).then(() => undefined);
      }
      member.inFlight.add(delivery);
      try {
        const behind = await delivery;
        position = next;
        commitAfter(member, behind?.durable ?? Promise.resolve(), next);
      } catch (error) {
        failed ??= error;
      } finally {
        member.inFlight.delete(delivery);
      }
    }
    group.workers.delete(key);
  }

  private wake(): void {
    const waiting = [...this.wakeups];
    this.wakeups.clear();
    for (const resolve of waiting) resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("event bus is closed");
  }
}

/** FNV-1a: a stable hash so one key always lands on one partition. */
export function partitionFor(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
