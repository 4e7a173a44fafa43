import type { Producer } from "kafkajs";
import { EVENT_BUS_TUNING } from "../../config/tuning";
import { ALL_TOPICS, PARTITIONS, TOPICS } from "../../events/catalog";
import { createEvent } from "../../events/envelope";
import { KafkaEventBus } from "../../adapters/event-bus";
import { accepted, eventBusContract } from "../contract/event-bus.contract";
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

describeWithInfra(["kafka"], "Kafka adapter: the GPS stream's produce linger", (infra) => {
  // Longer than the tuned linger, so that "waited" and "did not wait" are far apart.
  const LINGER_MS = 200;
  const prefix = `${uniqueName("linger")}.`;
  const bus = new KafkaEventBus({
    brokers: infra.kafka.split(","),
    clientId: "linger",
    topicPrefix: prefix,
    produceLingerMs: { [TOPICS.runner]: LINGER_MS },
  });
  /** The produce requests the adapter sent: when, and how many records of which topics. */
  let requests: { at: number; records: Record<string, number> }[] = [];
  const fix = (n: number) =>
    createEvent(
      "runner.offline",
      { runner_id: `runner-${n}`, occurred_at: new Date().toISOString() },
      { service: "runner" },
    );
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  beforeAll(async () => {
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    // The adapter's own producer, watched: each sendBatch is one produce request.
    const producer = await (bus as unknown as { getProducer(): Promise<Producer> }).getProducer();
    const sendBatch = producer.sendBatch.bind(producer);
    producer.sendBatch = (batch) => {
      const records: Record<string, number> = {};
      for (const { topic, messages } of batch.topicMessages ?? []) {
        records[topic.slice(prefix.length)] = messages.length;
      }
      requests.push({ at: performance.now(), records });
      return sendBatch(batch);
    };
  });
  afterAll(() => bus.close());
  beforeEach(() => {
    requests = [];
  });

  it("sends what the runner topic gets within its linger as one request, no sooner", async () => {
    expect(EVENT_BUS_TUNING.produceLingerMs[TOPICS.runner]).toBeGreaterThan(0);
    const first = performance.now();
    const sends = [bus.publish(TOPICS.runner, [fix(1)])];
    await nextTurn();
    sends.push(bus.publish(TOPICS.runner, [fix(2), fix(3)]));
    await nextTurn();
    sends.push(bus.publish(TOPICS.runner, [fix(4)]));
    await Promise.all(sends);
    expect(requests.map((request) => request.records)).toEqual([{ [TOPICS.runner]: 4 }]);
    // Node may fire a timer a millisecond or two early by performance.now(): a wide margin.
    expect(requests[0].at - first).toBeGreaterThanOrEqual(LINGER_MS * 0.9);
  });

  it("on close, sends what lingers at once and refuses later sends", async () => {
    const closing = new KafkaEventBus({
      brokers: infra.kafka.split(","),
      clientId: "linger-close",
      topicPrefix: prefix,
      produceLingerMs: { [TOPICS.runner]: 60_000 },
    });
    const started = performance.now();
    const lingering = closing.publish(TOPICS.runner, [fix(6)]);
    await nextTurn();
    await closing.close();
    await expect(lingering).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(30_000);
    await expect(closing.publish(TOPICS.runner, [fix(7)])).rejects.toThrow(/closed/);
  });

  it("sends a booking or money event at once, with the stream's waiting events", async () => {
    const waiting = performance.now();
    const stream = bus.publish(TOPICS.runner, [fix(5)]);
    await nextTurn();
    await bus.publish(TOPICS.booking, [accepted("bk-linger", 1)]);
    await stream;
    expect(requests.map((request) => request.records)).toEqual([
      { [TOPICS.runner]: 1, [TOPICS.booking]: 1 },
    ]);
    // The booking event ended the wait: the request left long before the stream's linger.
    expect(requests[0].at - waiting).toBeLessThan(LINGER_MS / 2);
  });
});
