import type { ChildProcess } from "node:child_process";
import { child, randomPort } from "../../bench/support";
import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import { KafkaEventBus } from "../../adapters/event-bus";
import type { Infra } from "./infra";
import { ANYWHERE } from "./service-area";

export { stopChildren } from "../../bench/support";

/** A port no one listens on now. */
export const freePort = async (): Promise<number> => Number(await randomPort());

/** The catalog's topics under a run's own prefix (`<run>.`), as infra:up makes them. */
export async function createRunTopics(kafka: string, run: string): Promise<void> {
  const bus = new KafkaEventBus({
    brokers: kafka.split(","),
    clientId: run,
    topicPrefix: `${run}.`,
  });
  await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
  await bus.close();
}

/**
 * One `server.ts` process hosting `services`, as the README's distributed block starts it, on
 * the test's servers and under the run's own names (namespace, topic prefix, databases).
 */
export function startKilat(
  infra: Required<Infra>,
  run: string,
  services: string,
  env: Record<string, string> = {},
): ChildProcess {
  return child(["server.ts"], {
    LOG_LEVEL: "warn",
    NAMESPACE: run,
    NODE_ID: `${run}-${services}`,
    TRANSPORTER: infra.redis,
    REDIS_URL: infra.redis,
    KAFKA_BROKERS: infra.kafka,
    KAFKA_TOPIC_PREFIX: `${run}.`,
    MONGO_URL: infra.mongo,
    MONGO_DB_PREFIX: run,
    SERVICE_AREA: ANYWHERE,
    SERVICES: services,
    ...env,
  });
}
