import type { EventBus } from "../../adapters/event-bus";

/**
 * A real event bus whose publishing can be cut off, as when a process loses its Kafka
 * producer connection: consuming goes on, every publish fails until `publishing` is back on.
 */
export class FlakyPublishBus implements EventBus {
  readonly kind: EventBus["kind"];
  publishing = true;

  constructor(private readonly real: EventBus) {
    this.kind = real.kind;
  }

  publish(...args: Parameters<EventBus["publish"]>) {
    return this.publishing
      ? this.real.publish(...args)
      : Promise.reject(new Error("KafkaJSConnectionError: Connection refused"));
  }
  publishWire(...args: Parameters<EventBus["publishWire"]>) {
    return this.publishing
      ? this.real.publishWire(...args)
      : Promise.reject(new Error("KafkaJSConnectionError: Connection refused"));
  }
  subscribe(...args: Parameters<EventBus["subscribe"]>) {
    return this.real.subscribe(...args);
  }
  ensureTopics(...args: Parameters<EventBus["ensureTopics"]>) {
    return this.real.ensureTopics(...args);
  }
  readTopic(...args: Parameters<EventBus["readTopic"]>) {
    return this.real.readTopic(...args);
  }
  ping() {
    return this.real.ping();
  }
  consumerLag(...args: Parameters<EventBus["consumerLag"]>) {
    return this.real.consumerLag(...args);
  }
  countRecords(...args: Parameters<EventBus["countRecords"]>) {
    return this.real.countRecords(...args);
  }
  close() {
    return this.real.close();
  }
}
