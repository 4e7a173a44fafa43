import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import { MemoryEventBus } from "../../lib/event-bus";
import { eventBusContract } from "../contract/event-bus.contract";

describe("event bus contract: in-process adapter", () => {
  eventBusContract(async () => {
    const bus = new MemoryEventBus();
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    return bus;
  });
});
