import type { DeliveredEvent, DeliveryMeta, EventBus } from "../../adapters/event-bus";
import type { DomainEvent } from "../../events/envelope";
import { FlakyPublishBus } from "./flaky-bus";

/**
 * A real event bus on which one consumer group falls behind on chosen aggregates, as a Kafka
 * consumer stuck on one partition does: their events are taken off the bus and kept, the
 * group's other events flow on, and `catchUp` hands the kept ones to the group's handler, in
 * their order, at the moment a test chooses.
 */
export class LaggingConsumerBus extends FlakyPublishBus {
  private readonly behind = new Set<string>();
  private readonly kept: { event: DomainEvent; meta: DeliveryMeta }[] = [];
  private handler: ((event: DomainEvent, meta: DeliveryMeta) => Promise<void>) | undefined;

  constructor(
    real: EventBus,
    private readonly groupId: string,
  ) {
    super(real);
  }

  /** From now on, the group's events about `subject` wait for `catchUp`. */
  fallBehindOn(subject: string): void {
    this.behind.add(subject);
  }

  /** Kept events of `subject` so far, by type, in order. */
  keptOf(subject: string): string[] {
    return this.kept
      .filter(({ event }) => event.subject === subject)
      .map(({ event }) => event.type);
  }

  /** The group handles what it kept, in order, and keeps nothing more. */
  async catchUp(): Promise<void> {
    this.behind.clear();
    const handler = this.handler;
    if (!handler) throw new Error(`no consumer in ${this.groupId}`);
    for (const { event, meta } of this.kept.splice(0)) await handler(event, meta);
  }

  override subscribe(...[options]: Parameters<EventBus["subscribe"]>) {
    if (options.groupId !== this.groupId) return super.subscribe(options);
    const lagging = (event: DomainEvent) => this.behind.has(event.subject);
    this.handler = options.handler;
    const { batchHandler } = options;
    return super.subscribe({
      ...options,
      handler: async (event, meta) => {
        if (lagging(event)) this.kept.push({ event, meta });
        else await options.handler(event, meta);
      },
      ...(batchHandler
        ? {
            batchHandler: async (batch: DeliveredEvent[]) => {
              const now = batch.filter(({ event }) => !lagging(event));
              this.kept.push(...batch.filter(({ event }) => lagging(event)));
              return now.length > 0 ? batchHandler(now) : undefined;
            },
          }
        : {}),
    });
  }
}
