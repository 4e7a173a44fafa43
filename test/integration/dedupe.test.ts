import { ServiceBroker, type Service } from "moleculer";
import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import type { DomainEvent } from "../../events/envelope";
import { loadConfig } from "../../lib/config";
import { MemoryEventBus } from "../../adapters/event-bus";
import { bindRuntime } from "../../lib/runtime";
import { DomainEvents } from "../../mixins/domain-events.mixin";
import { MongoMixin } from "../../mixins/mongo.mixin";
import { accepted } from "../contract/event-bus.contract";
import { describeWithInfra, uniqueName } from "../support/infra";
import { eventually } from "../support/wait";

describeWithInfra(["mongo"], "DomainEvents consumer dedupe (FerretDB)", (infra) => {
  it("runs a handler once per CloudEvent id, even when the handler itself is not idempotent", async () => {
    const handled: string[] = [];
    const config = loadConfig({
      MONGO_URL: infra.mongo,
      MONGO_DB_PREFIX: uniqueName("dedupe"),
      LOG_LEVEL: "error",
    });
    const bus = new MemoryEventBus();
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    const broker = new ServiceBroker({ logger: false });
    bindRuntime(broker, { config, bus });
    broker.createService({
      name: "counter",
      mixins: [
        DomainEvents<Service>({
          source: "tracking",
          consume: {
            "service-tracking-bookings": {
              async "booking.accepted"(event: DomainEvent) {
                handled.push(event.id); // a plain counter: only the mixin stands between it and a repeat
              },
            },
          },
        }),
        MongoMixin({ db: "counter", models: {} }),
      ],
    });
    await broker.start();
    try {
      const once = accepted("booking-dedupe", 1);
      const other = accepted("booking-dedupe", 2);
      await bus.publish("booking.events", [once, once, other, once]);
      await eventually(() => (handled.includes(other.id) ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(handled).toEqual([once.id, other.id]);
    } finally {
      await broker.stop();
      await bus.close();
    }
  });
});
