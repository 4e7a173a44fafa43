/**
 * A consumer process that dies (exit 1, no shutdown) while handling booking number 3.
 * argv: <brokers> <topic prefix> <group>. Prints each booking number it finished.
 */
import { KafkaEventBus } from "../../adapters/event-bus";

const [brokers, prefix, group] = process.argv.slice(2);
const bus = new KafkaEventBus({
  brokers: brokers.split(","),
  clientId: "crashing-consumer",
  topicPrefix: prefix,
});

void bus.subscribe({
  groupId: group,
  topics: ["booking.events"],
  handler: async (event) => {
    const n = Number((event.data as { booking_number: string }).booking_number.slice(4));
    if (n === 3) {
      // Let earlier offsets be committed first (kafkajs commits every 500 ms), then die mid-handler.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      process.exit(1);
    }
    process.stdout.write(`${n}\n`);
  },
});
