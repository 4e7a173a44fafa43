import { KafkaEventBus, type KafkaBusOptions } from "./kafka";
import { MemoryEventBus } from "./memory";
import type { EventBus } from "./port";

export * from "./port";
export { KafkaEventBus } from "./kafka";
export { MemoryEventBus } from "./memory";

/** Kafka when KAFKA_BROKERS is set, else the in-process bus (embedded mode). */
export function createEventBus(
  config: { kafkaBrokers: string[] | undefined; kafkaTopicPrefix: string },
  clientId: string,
  logger?: KafkaBusOptions["logger"],
): EventBus {
  return config.kafkaBrokers
    ? new KafkaEventBus({
        brokers: config.kafkaBrokers,
        clientId,
        topicPrefix: config.kafkaTopicPrefix,
        logger,
      })
    : new MemoryEventBus(3, logger);
}
