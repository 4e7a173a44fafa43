/** Creates the catalog's topics (and their `.dlq` twins) on KAFKA_BROKERS; run by infra:up. */
import { ALL_TOPICS, PARTITIONS, dlqOf } from "../events/catalog";
import { KafkaEventBus } from "../adapters/event-bus/kafka";

async function main(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
  const bus = new KafkaEventBus({ brokers, clientId: "kilat-create-topics" });
  try {
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    const names = ALL_TOPICS.flatMap((topic) => [topic, dlqOf(topic)]);
    console.log(`topics ready (${PARTITIONS} partitions each): ${names.join(", ")}`);
  } finally {
    await bus.close();
  }
}

main().catch((error: unknown) => {
  console.error(`could not create topics: ${(error as Error).message}`);
  process.exit(1);
});
