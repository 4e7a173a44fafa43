import type { Filter, UpdateFilter } from "mongodb";
import type { Model, QueryFilter } from "mongoose";
import { collectionOf } from "../adapters/mongo-driver";
import { eventDefinition, type EventType } from "../events/catalog";
import { withPayload, type DomainEvent } from "../events/envelope";
import type { OutboxEntry, WithOutbox } from "./outbox-schema";
import { OUTBOX_TUNING } from "../config/tuning";
import type { EventBus } from "../adapters/event-bus";
import { GroupCommit } from "./group-commit";
import { PeriodicTask } from "./periodic";
import { publishTraced } from "./tracing";

/** Turns events into outbox entries, to be written in the same update as the state change. */
export function toOutbox(events: DomainEvent[]): OutboxEntry[] {
  const now = new Date();
  return events.map((event) => ({
    id: event.id,
    topic: eventDefinition(event.type).topic,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time: event.time,
    partitionkey: event.partitionkey,
    data: event.data,
    created_at: now,
    // Absent, not null, when tracing is off: the write goes through the driver, which keeps nulls.
    ...(event.traceparent ? traceOf(event) : {}),
  }));
}

function traceOf({ traceparent, tracestate }: DomainEvent | OutboxEntry) {
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

function fromOutbox(entry: OutboxEntry): DomainEvent {
  const { id, source, subject, time, partitionkey } = entry;
  const attributes = { id, source, subject, time, partitionkey };
  return withPayload(
    entry.traceparent ? { ...attributes, ...traceOf(entry) } : attributes,
    entry.type as EventType,
    entry.data,
  );
}

export interface RelayLogger {
  warn(...args: unknown[]): void;
}

/** A published entry to take off the head of its aggregate's outbox. */
interface Removal {
  id: string;
  entryId: string;
}

/**
 * Publishes what aggregates put in their outbox, then removes each entry — only after the bus
 * acknowledged it, and a moment later (`removeAfterMs`), together with the entries published
 * meanwhile, in one write; until then the relay skips them. The owner of a write calls
 * `flush(id)` right away (the fast path). Every `sweepMs` the relay tries again what its own fast
 * path failed to publish (an outage), and at start and every FULL_SWEEP_EVERY sweeps it looks
 * through the collection for anything older (what a crash of this or another instance left
 * behind): on FerretDB that query reads every document, so it is not run every few seconds.
 * Publishing may repeat an event (crash between ack and removal); it never loses one. Consumers
 * dedupe by id.
 */
export class OutboxRelay<T extends WithOutbox> {
  private readonly running = new Map<string, Promise<void>>();
  /** Aggregates whose fast-path publish failed: retried every sweep. */
  private readonly failed = new Set<string>();
  private sweeps = 0;
  private readonly sweeper: PeriodicTask;
  /** Ids of entries published but not removed yet: not published again meanwhile. */
  private readonly removing = new Set<string>();
  private readonly removals: GroupCommit<Removal>;
  /**
   * Aggregates known to hold unpublished entries (a failed publish, a sweep's find), with when the
   * oldest was written: the relay's backlog for /metrics, at no extra database read.
   */
  private readonly unpublished = new Map<string, number>();

  constructor(
    private readonly model: Model<T>,
    private readonly bus: EventBus,
    private readonly sweepMs: number,
    private readonly logger: RelayLogger,
  ) {
    this.sweeper = new PeriodicTask(
      () => this.sweep({ full: this.sweeps++ % OUTBOX_TUNING.fullSweepEvery === 0 }),
      sweepMs,
      (error) => this.logger.warn(`outbox sweep failed`, error),
    );
    this.removals = new GroupCommit(
      (removals) => this.remove(removals),
      OUTBOX_TUNING.removeRetry,
      (error, attempt) => this.logger.warn(`outbox removal failed (attempt ${attempt})`, error),
      Math.min(OUTBOX_TUNING.removeAfterMs, sweepMs / 4),
    );
  }

  /** The first sweep runs at once: what a crash left in the outbox goes out on restart. */
  start(): void {
    this.sweeper.start(0);
  }

  async stop(): Promise<void> {
    await this.sweeper.stop();
    await Promise.allSettled([...this.running.values()]);
    await this.removals.close(); // one last try; what stays is published again on a restart
  }

  /**
   * Publishes one aggregate's pending events; concurrent calls for one id run one after another.
   * `written` is the outbox as the write that just filled it returned it: used instead of reading
   * the document again, unless another flush of the aggregate runs (then what it left is read).
   */
  flush(id: string, written?: OutboxEntry[]): Promise<void> {
    const previous = this.running.get(id);
    const entries = previous ? undefined : written;
    const next = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.publishPending(id, entries))
      .then(() => {
        this.unpublished.delete(id);
      })
      .finally(() => {
        if (this.running.get(id) === next) this.running.delete(id);
      });
    this.running.set(id, next);
    return next;
  }

  /** Fire-and-forget flush after a write: failures are left to the sweep. */
  flushSoon(id: string, written?: OutboxEntry[]): void {
    this.flush(id, written).catch((error: unknown) => {
      this.failed.add(id);
      this.noteUnpublished(id, written?.[0]?.created_at);
      this.logger.warn(`outbox ${this.model.modelName}/${id}: publish failed, will retry`, error);
    });
  }

  /**
   * Publishes for the aggregates whose fast-path publish failed and, when `full`, for those
   * holding events older than the sweep interval (what a crash left), oldest first. One aggregate
   * that cannot be published does not hold up the others.
   */
  async sweep({ full = true } = {}): Promise<number> {
    const ids = new Set(this.failed);
    this.failed.clear();
    if (full) {
      const cutoff = new Date(Date.now() - this.sweepMs);
      const stale = await this.model
        .find({ "outbox.created_at": { $lt: cutoff } } as QueryFilter<T>, { _id: 1, outbox: 1 })
        .sort({ "outbox.created_at": 1 })
        .limit(200)
        .lean<{ _id: string; outbox?: OutboxEntry[] }[]>()
        .catch((error: unknown) => {
          for (const id of ids) this.failed.add(id); // still owed: the next sweep tries them
          throw error;
        });
      for (const doc of stale) {
        ids.add(String(doc._id));
        this.noteUnpublished(String(doc._id), doc.outbox?.[0]?.created_at);
      }
    }
    let published = 0;
    for (const id of ids) {
      try {
        await this.flush(id);
        published++;
      } catch (error) {
        this.failed.add(id);
        this.noteUnpublished(id);
        this.logger.warn(`outbox ${this.model.modelName}/${id}: publish failed, will retry`, error);
      }
    }
    return published;
  }

  /** Seconds since the oldest entry this relay knows to be unpublished was written; 0 if none. */
  oldestUnpublishedAgeSeconds(now = Date.now()): number {
    let oldest = now;
    for (const writtenAt of this.unpublished.values()) oldest = Math.min(oldest, writtenAt);
    return (now - oldest) / 1000;
  }

  /** Keeps the earliest time known: what the outbox's head says, else now (an upper bound). */
  private noteUnpublished(id: string, writtenAt?: Date | string): void {
    const at = writtenAt === undefined ? Date.now() : new Date(writtenAt).getTime();
    const known = this.unpublished.get(id);
    this.unpublished.set(id, known === undefined ? at : Math.min(known, at));
  }

  private async publishPending(id: string, written?: OutboxEntry[]): Promise<void> {
    const entries = (
      written ??
      (await this.model.findById(id, { outbox: 1 }).lean<{ outbox?: OutboxEntry[] }>())?.outbox ??
      []
    ).filter((entry) => !this.removing.has(entry.id));
    let index = 0;
    while (index < entries.length) {
      // Consecutive entries for one topic go out in one request, in their order.
      const topic = entries[index].topic;
      let end = index;
      while (end < entries.length && entries[end].topic === topic) end++;
      const batch = entries.slice(index, end);
      await publishTraced(topic, batch.map(fromOutbox), (events) =>
        this.bus.publish(topic, events),
      );
      for (const entry of batch) this.removing.add(entry.id);
      this.removals
        .add(batch.map((entry) => ({ id, entryId: entry.id })))
        .catch(() => undefined) // closing: left in the outbox, published again after a restart
        .finally(() => {
          for (const entry of batch) this.removing.delete(entry.id);
        });
      index = end;
    }
  }

  /**
   * Takes published entries off their outboxes, all in one write, in the order they were
   * published (an outbox is published from its head). Each pop is guarded on the head's id:
   * one already removed (by a concurrent relay, or a write tried again) is a no-op.
   */
  private async remove(removals: Removal[]): Promise<void> {
    await this.model.collection.bulkWrite(
      removals.map(({ id, entryId }) => ({
        updateOne: {
          filter: { _id: id, "outbox.0.id": entryId } as never,
          update: { $pop: { outbox: -1 } } as never,
        },
      })),
      { ordered: true },
    );
  }
}

/** An update that changes state and queues the events it causes, as one document write. */
function withOutbox(set: Record<string, unknown>, events: DomainEvent[]) {
  return events.length > 0
    ? { $set: set, $push: { outbox: { $each: toOutbox(events) } } }
    : { $set: set };
}

/**
 * One write that moves an aggregate from the state `filter` expects and queues the events it
 * causes; null when the aggregate is no longer in that state (a lost race). Goes through the
 * driver: mongoose adds a projection to findAndModify that FerretDB does not implement.
 */
export async function guardedUpdate<T extends WithOutbox>(
  model: Model<T>,
  filter: Record<string, unknown>,
  set: Record<string, unknown>,
  events: DomainEvent[],
): Promise<T | null> {
  return collectionOf(model).findOneAndUpdate(
    filter as Filter<T>,
    withOutbox(set, events) as UpdateFilter<T>,
    {
      returnDocument: "after",
    },
  ) as Promise<T | null>;
}
