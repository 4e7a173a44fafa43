import type { Model } from "mongoose";
import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { consumerGroup, type EventPayload, type EventType } from "../events/catalog";
import type { EventDraft } from "../domain/decider";
import { createEvent, type DomainEvent } from "../events/envelope";
import { AggregateStore } from "../lib/aggregate";
import type {
  BatchHandler,
  DeliveredEvent,
  DeliveryMeta,
  RetryPolicy,
  Subscription,
  WriteBehind,
} from "../adapters/event-bus";
import { addCollector, operatorMetric } from "../lib/metrics";
import { OutboxRelay } from "../lib/outbox";
import { consumerLogging } from "../lib/logger";
import { ignoreDuplicateKey } from "../lib/mongo";
import { runtimeOf } from "../lib/runtime";
import { TRACING, consumeTraced, traceCarrier } from "../lib/tracing";
import { EVENT_BUS_TUNING } from "../config/tuning";
import type { WithOutbox } from "../lib/outbox-schema";
import { processedEventModel } from "../models/processed-event.model";
import { MongoMixin, type ModelFactories, type MongoThis } from "./mongo.mixin";

/** A consumer of one event type, with the service as `this`. */
export type EventHandler<S, T extends EventType> = (
  this: S,
  event: DomainEvent<T>,
  meta: DeliveryMeta,
) => Promise<void>;

/** Handlers keyed by the event type they take. */
export type EventHandlers<S> = { [T in EventType]?: EventHandler<S, T> };

/** For each consumer group of the catalog this service joins, its handlers. */
export type ConsumeMap<S> = Record<string, EventHandlers<S>>;

export interface DomainEventsOptions<S> {
  /** The service name in CloudEvent sources: `/kilat/<source>`. */
  source: string;
  consume?: ConsumeMap<S>;
  /**
   * Per consumer group, a handler of whole batches for hot streams. It skips the per-event
   * `processed_events` check, so it must be idempotent by itself; when it throws, the events go
   * one by one through `consume` (deduplicated as usual).
   */
  batch?: Record<string, (this: S, batch: DeliveredEvent[]) => Promise<void | WriteBehind>>;
  /**
   * `false` when every consume handler of this service is idempotent by a key of its own (an
   * insert whose `_id` is derived from the event id, a write guarded on the state it changes):
   * the `processed_events` check and record (two database round trips per event) are skipped.
   */
  deduplicate?: boolean;
  /**
   * Consumer groups that may hear of their events later (ms): on a topic with a hot stream
   * they do not handle, their fetches then wait to fill instead of returning every few records.
   */
  fetchWaitMs?: Record<string, number>;
  /** Models (keys of MongoMixin's `models`) whose outbox this service relays from start-up on. */
  outbox?: string[];
  retry?: Partial<RetryPolicy>;
}

/** Optional method of the service: runs after its consumers and relays have stopped. */
export interface DomainEventsHooks {
  afterEventsStopped(): Promise<void>;
}

export interface DomainEventsMethods {
  /** A new event from this service, payload checked against the catalog. */
  domainEvent<T extends EventType>(type: T, data: EventPayload<T>): DomainEvent<T>;
  /** The relay that drains a model's outbox (started once); use it for `flushSoon(id)`. */
  outboxRelay<T extends WithOutbox>(model: Model<T>): OutboxRelay<T>;
  /** Load → decide → one guarded write with its events, for one model's aggregates. */
  aggregate<T extends WithOutbox>(model: Model<T>, noun: string): AggregateStore<T>;
}

interface DomainEventsState {
  $subscriptions: Subscription[];
  /** The consumers' start, which `started` does not wait out (see there). */
  $joining?: Promise<void>;
  $stopping?: boolean;
  /** Each model's relay (typed by its model where it is asked for: `outboxRelay`). */
  $relays: Map<string, Pick<OutboxRelay<WithOutbox>, "stop" | "oldestUnpublishedAgeSeconds">>;
  /** Takes this service's collectors (lag, outbox age) off /metrics. */
  $stopCollecting: (() => void)[];
  /** The event-handling histogram's name, registered at start. */
  $eventDuration: string;
  /** Each model's store (typed by its model where it is asked for: `aggregate`). */
  $stores: Map<string, object>;
  handleDomainEvent(
    handlers: EventHandlers<unknown>,
    event: DomainEvent,
    meta: DeliveryMeta,
  ): Promise<void>;
}

type This = Service & MongoThis & DomainEventsMethods & DomainEventsState;

/** How the mixin calls any handler of the map (each is typed by its key where it is written). */
type AnyHandler = (this: unknown, event: DomainEvent, meta: DeliveryMeta) => Promise<void>;

function checkConsumeMap<S>(service: string, consume: ConsumeMap<S>): void {
  for (const [groupId, handlers] of Object.entries(consume)) {
    const group = consumerGroup(groupId);
    if (group.service !== `service-${service}`) {
      throw new Error(`${service}: consumer group ${groupId} belongs to ${group.service}`);
    }
    for (const type of Object.keys(handlers) as EventType[]) {
      if (!group.events.includes(type)) {
        throw new Error(`${service}: group ${groupId} does not handle ${type} in the catalog`);
      }
    }
  }
}

/**
 * The one way services touch domain events: build them (`domainEvent`), publish them through
 * a model's outbox (`outboxRelay`), and consume them per consumer group. Consuming is
 * idempotent: an event id already handled by the group is skipped (`processed_events`), and
 * the handlers themselves are written to tolerate the rare repeat that slips past a crash
 * (or, with `deduplicate: false`, are the only guard).
 * Use it as `mixins: [DomainEvents(…), MongoMixin(…)]`.
 */
export function DomainEvents<S>(options: DomainEventsOptions<S>) {
  checkConsumeMap(options.source, options.consume ?? {});

  const mixin: Partial<ServiceSchema<ServiceSettingSchema, object, object, This>> = {
    created(this: This) {
      this.$subscriptions = [];
      this.$relays = new Map();
      this.$stores = new Map();
      this.$stopCollecting = [];
    },

    async started(this: This) {
      if (!this.db) {
        throw new Error(
          `${options.source}: list MongoMixin after DomainEvents in mixins ` +
            "(Moleculer starts the last mixin first, and consumers need the database)",
        );
      }
      const { bus, config } = runtimeOf(this.broker);
      const whileConsuming = consumerLogging(config);
      const batchOf = (groupId: string): BatchHandler | undefined => {
        const handler = options.batch?.[groupId];
        const { topic } = consumerGroup(groupId);
        return (
          handler &&
          ((batch) => {
            const events = batch.map((delivered) => delivered.event);
            return whileConsuming(events, () =>
              consumeTraced(events, groupId, topic, () =>
                timed(this, events, groupId, () =>
                  handler.call(this.$background as unknown as S, batch),
                ),
              ),
            );
          })
        );
      };
      // Started before any write, so what a crash left in an outbox goes out on restart; on the
      // background pool, as its publishing and removals are no request's to wait for.
      for (const name of options.outbox ?? []) this.outboxRelay(this.$background.models[name]);
      reportOperatorMetrics(this, options);
      const joining = Promise.all(
        Object.entries(options.consume ?? {}).map(([groupId, handlers]) =>
          bus
            .subscribe({
              groupId,
              topics: [consumerGroup(groupId).topic],
              retry: options.retry,
              types: Object.keys(handlers),
              ...(options.fetchWaitMs?.[groupId]
                ? { fetchWaitMs: options.fetchWaitMs[groupId] }
                : {}),
              // Its lines name the event's booking and trace: no Moleculer context does here.
              handler: (event, meta) =>
                whileConsuming([event], () =>
                  consumeTraced([event], groupId, meta.topic, () =>
                    timed(this, [event], groupId, () =>
                      this.handleDomainEvent(handlers as EventHandlers<unknown>, event, meta),
                    ),
                  ),
                ),
              ...(batchOf(groupId) ? { batchHandler: batchOf(groupId) } : {}),
            })
            .then((subscription) => {
              // Kept as each joins: a stop stops these even when another group failed to start.
              this.$subscriptions.push(subscription);
            }),
        ),
      ).then(() => undefined);
      this.$joining = joining;
      // A restarted process serves its actions at once: its consumers may wait for the group's
      // rebalance (a killed member's place is given up only after the rebalance timeout), and
      // new groups read from the beginning, committed ones from their offsets, so nothing is
      // missed. A consumer that cannot start at all stops the process, as an await would have.
      let waiting = true;
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          waiting = false;
          resolve();
        }, EVENT_BUS_TUNING.joinWaitMs);
      });
      const joined = joining.catch((error: unknown) => {
        if (waiting) throw error;
        if (!this.$stopping)
          this.broker.fatal(`${options.source}: a consumer could not start`, error as Error);
      });
      try {
        await Promise.race([joined, waited]);
      } finally {
        clearTimeout(timer);
        waiting = false;
      }
    },

    async stopped(this: This) {
      this.$stopping = true;
      for (const stop of this.$stopCollecting) stop();
      // Consumers still joining (Kafka away) are waited for no longer than a stop waits for
      // writes; those that joined are stopped either way.
      await Promise.race([
        this.$joining?.catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, EVENT_BUS_TUNING.stopWaitMs).unref()),
      ]);
      await Promise.all(this.$subscriptions.map((subscription) => subscription.stop()));
      await Promise.all([...this.$relays.values()].map((relay) => relay.stop()));
      // A service's own `stopped` runs before this one: what its consumers still need (a
      // Redis client, a last checkpoint) is released here, once they are done.
      await (this as Partial<DomainEventsHooks>).afterEventsStopped?.();
    },

    actions: {
      /** Ops (REPL `outbox`): events written but not yet published, per aggregate, with age. */
      pendingEvents: {
        visibility: "public",
        async handler(this: This) {
          const now = Date.now();
          const pending = [];
          for (const name of options.outbox ?? []) {
            const docs = await this.models[name]
              .find({ "outbox.0": { $exists: true } }, { outbox: 1 })
              .limit(500)
              .lean<WithOutbox[]>();
            for (const doc of docs) {
              for (const entry of doc.outbox) {
                pending.push({
                  service: options.source,
                  model: name,
                  aggregate_id: doc._id,
                  type: entry.type,
                  event_id: entry.id,
                  age_s: Math.round((now - new Date(entry.created_at).getTime()) / 1000),
                });
              }
            }
          }
          return pending;
        },
      },
    },

    methods: {
      domainEvent<T extends EventType>(this: This, type: T, data: EventPayload<T>) {
        const event = createEvent(type, data, { service: options.source });
        // The event carries the trace of the action that caused it, through outbox and Kafka.
        if (TRACING.enabled) Object.assign(event, traceCarrier());
        return event;
      },

      outboxRelay<T extends WithOutbox>(this: This, model: Model<T>) {
        let relay = this.$relays.get(model.modelName) as OutboxRelay<T> | undefined;
        if (!relay) {
          const { bus, config } = runtimeOf(this.broker);
          relay = new OutboxRelay(model, bus, config.outboxSweepMs, this.logger);
          relay.start();
          this.$relays.set(model.modelName, relay);
        }
        return relay;
      },

      aggregate<T extends WithOutbox>(this: This, given: Model<T>, noun: string) {
        let store = this.$stores.get(given.modelName) as AggregateStore<T> | undefined;
        if (!store) {
          // One store per aggregate, whoever asks (a request or a consumer), so that what one
          // wrote is what the next decides on: on the request pool, where most commands come from.
          const model = (Object.values(this.$requestModels).find(
            (candidate) => candidate.modelName === given.modelName,
          ) ?? given) as Model<T>;
          store = new AggregateStore(
            model,
            () => this.outboxRelay(model),
            (draft: EventDraft) => this.domainEvent(draft.type, draft.data),
            noun,
          );
          this.$stores.set(model.modelName, store);
        }
        return store;
      },

      async handleDomainEvent(
        this: This,
        handlers: EventHandlers<unknown>,
        event: DomainEvent,
        meta: DeliveryMeta,
      ) {
        const handler = handlers[event.type] as AnyHandler | undefined;
        if (!handler) return; // another consumer's event on a shared topic
        // Consumers are background work: their reads and writes use the background pool.
        const background = this.$background;
        if (options.deduplicate === false) return handler.call(background, event, meta);
        const processed = processedEventModel(this.$backgroundDb);
        const key = `${meta.groupId}:${event.id}`;
        if (await processed.exists({ _id: key })) return;
        await handler.call(background, event, meta);
        await processed
          .create({
            _id: key,
            group: meta.groupId,
            event_id: event.id,
            type: event.type,
            processed_at: new Date(),
          })
          .catch(ignoreDuplicateKey); // a concurrent duplicate finished first
      },
    },
  };
  return mixin as Partial<ServiceSchema>;
}

/**
 * Times one handling into the histogram, spread evenly over the events it took: a batch of 500
 * GPS fixes counts 500 events, and its time once. A failed handling is timed too (its retry will
 * be again).
 */
async function timed<R>(
  service: This,
  events: readonly DomainEvent[],
  group: string,
  handle: () => Promise<R>,
): Promise<R> {
  const started = performance.now();
  try {
    return await handle();
  } finally {
    const each = (performance.now() - started) / 1000 / Math.max(1, events.length);
    for (const event of events) {
      service.broker.metrics.observe(service.$eventDuration, each, { group, type: event.type });
    }
  }
}

/**
 * The consumer lag of the service's groups, and the age of the oldest entry its relays know to be
 * unpublished, refreshed when /metrics is read (not on the event paths).
 */
function reportOperatorMetrics<S>(service: This, options: DomainEventsOptions<S>): void {
  const { metrics } = service.broker;
  const { bus } = runtimeOf(service.broker);
  service.$eventDuration = operatorMetric(metrics, "eventDuration");
  const groups = Object.keys(options.consume ?? {}).map((groupId) => ({
    groupId,
    topic: consumerGroup(groupId).topic,
  }));
  if (groups.length > 0) {
    const lagMetric = operatorMetric(metrics, "consumerLag");
    service.$stopCollecting.push(
      addCollector(service.broker, `${options.source} consumer lag`, async () => {
        for (const { groupId, topic, partition, lag } of await bus.consumerLag(groups)) {
          metrics.set(lagMetric, lag, { group: groupId, topic, partition });
        }
      }),
    );
  }
  if ((options.outbox ?? []).length > 0) {
    const ageMetric = operatorMetric(metrics, "outboxOldestAge");
    service.$stopCollecting.push(
      addCollector(service.broker, `${options.source} outbox`, async () => {
        const now = Date.now();
        const ages = [...service.$relays.values()].map((relay) =>
          relay.oldestUnpublishedAgeSeconds(now),
        );
        metrics.set(ageMetric, Math.max(0, ...ages), { service: options.source });
      }),
    );
  }
}

/** `this` in a domain service: its database and models, its domain events, and its own state. */
export type DomainServiceThis<M extends ModelFactories, Vars = object> = Service &
  MongoThis<M> &
  DomainEventsMethods &
  Vars;

/**
 * The two mixins of every domain service, in the order Moleculer needs them (it starts the last
 * mixin first): its database `db`, then its domain events (their source is `db` too), whose
 * relays and consumers use the database.
 */
export function DomainMixins<S, M extends ModelFactories>(
  options: Omit<DomainEventsOptions<S>, "source"> & { db: string; models: M },
): Partial<ServiceSchema>[] {
  const { db, models, ...events } = options;
  return [DomainEvents<S>({ source: db, ...events }), MongoMixin({ db, models })];
}
