import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import { MemoryEventBus } from "../../adapters/event-bus";
import { accepted, eventBusContract } from "../contract/event-bus.contract";
import { eventually } from "../support/wait";

describe("event bus contract: in-process adapter", () => {
  eventBusContract(async () => {
    const bus = new MemoryEventBus();
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    return bus;
  });
});

describe("in-process bus: a write that never settles", () => {
  it("is given up on by stop after stopWaitMs, and its records go again to the next member", async () => {
    const bus = new MemoryEventBus(3, undefined, 200);
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    const event = accepted("stuck-1", 1);
    const handed: string[] = [];
    const stuck = await bus.subscribe({
      groupId: "stuck",
      topics: ["booking.events"],
      handler: async () => {
        throw new Error("the batch path only");
      },
      batchHandler: async (batch) => {
        handed.push(...batch.map(({ event }) => event.id));
        return { durable: new Promise<void>(() => undefined) };
      },
    });
    await bus.publish("booking.events", [event]);
    await eventually(() => (handed.length === 1 ? true : undefined), { what: "the event" });

    const started = Date.now();
    await stuck.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);

    const read: string[] = [];
    const next = await bus.subscribe({
      groupId: "stuck",
      topics: ["booking.events"],
      handler: async (delivered) => void read.push(delivered.id),
    });
    await eventually(() => (read.length === 1 ? true : undefined), { what: "the event again" });
    expect(read).toEqual([event.id]);
    await next.stop();
    await bus.close();
  });
});
