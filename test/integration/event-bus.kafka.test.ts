import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import { KafkaEventBus } from "../../lib/event-bus";
import { eventBusContract } from "../contract/event-bus.contract";
import { describeWithInfra, uniqueName } from "../support/infra";

describeWithInfra(["kafka"], "event bus contract: Kafka adapter (real broker)", (infra) => {
  eventBusContract(async () => {
    // A fresh topic prefix per test: its own topics and consumer groups on the shared broker.
    const bus = new KafkaEventBus({
      brokers: infra.kafka.split(","),
      clientId: "contract-test",
      topicPrefix: `${uniqueName("contract")}.`,
    });
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    return bus;
  });
});
