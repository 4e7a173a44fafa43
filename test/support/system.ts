import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { ServiceBroker } from "moleculer";
import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import { signToken, type Role } from "../../lib/auth";
import { createBroker } from "../../services";
import { loadConfig, type Config, type ServiceName } from "../../lib/config";
import type { EventBus } from "../../adapters/event-bus";
import { createRuntime } from "../../lib/runtime";
import { uniqueName, type Infra } from "./infra";
import { ANYWHERE } from "./service-area";

export interface System {
  /** The first gateway; `gatewayUrls` has every one, in process order. */
  url: string;
  gatewayUrls: string[];
  config: Config;
  brokers: ServiceBroker[];
  token(role: Role, sub: string): string;
  api<T = unknown>(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

/** What the API helpers need of a running Kilat: where it answers, and tokens it takes. */
export type Client = Pick<System, "url" | "api" | "token">;

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface SystemOptions {
  /** Which real servers to use; unset parts run embedded (in-process bus, no transporter). */
  infra: Partial<Infra>;
  /** Services per process; one entry = everything in one broker. */
  processes?: ServiceName[][];
  env?: Record<string, string>;
  /** The event bus a process should use instead of its own (fault injection); its owner closes it. */
  busFor?: (services: ServiceName[], config: Config) => EventBus | undefined;
}

/**
 * Starts Kilat as a test wants it: every service in one broker, or split over several brokers
 * that talk over the Redis transporter — with names (namespace, topic prefix, databases) no
 * other test uses, so test files can run side by side against the same servers.
 */
export async function startSystem(options: SystemOptions): Promise<System> {
  const run = uniqueName("t");
  const split = (options.processes?.length ?? 1) > 1;
  const env: Record<string, string> = {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    PORT: "0",
    NAMESPACE: run,
    MONGO_DB_PREFIX: run,
    OUTBOX_SWEEP_MS: "300",
    SERVICE_AREA: ANYWHERE,
    ...(options.infra.mongo ? { MONGO_URL: options.infra.mongo } : {}),
    ...(options.infra.kafka
      ? { KAFKA_BROKERS: options.infra.kafka, KAFKA_TOPIC_PREFIX: `${run}.` }
      : {}),
    ...(options.infra.redis ? { REDIS_URL: options.infra.redis } : {}),
    ...(options.infra.stripe
      ? { STRIPE_SECRET_KEY: "sk_test_kilat", STRIPE_API_BASE: options.infra.stripe }
      : {}),
    ...(split && options.infra.redis ? { TRANSPORTER: options.infra.redis } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  if (split && !config.transporter)
    throw new Error("a split system needs Redis for the transporter");

  const groups = options.processes ?? [config.services];
  if (config.kafkaBrokers) {
    // Kafka topics come from infra:up in real life; here the test's own prefixed copies.
    const { bus } = createRuntime(config);
    await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
    await bus.close();
  }
  const brokers = groups.map((services, i) => {
    const nodeConfig = { ...config, nodeID: `${run}-${i}`, services };
    const bus = options.busFor?.(services, nodeConfig);
    return createBroker(nodeConfig, bus ? { runtime: { config: nodeConfig, bus } } : {});
  });
  await Promise.all(brokers.map((broker) => broker.start()));
  await Promise.all(brokers.map((broker) => broker.waitForServices(config.services)));

  const gatewayUrls = brokers
    .map((broker) => broker.getLocalService("api") as unknown as { server: Server } | undefined)
    .filter((gateway) => gateway !== undefined)
    .map((gateway) => `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`);
  const url = gatewayUrls[0] ?? "http://127.0.0.1:0";

  return {
    gatewayUrls,
    config,
    brokers,
    ...clientAt(url, config.jwtSecret),
    async stop() {
      await Promise.all(brokers.map((broker) => broker.stop()));
    },
  };
}

/**
 * The API of a Kilat answering at `url` whose tokens are signed with `jwtSecret`: the same
 * helpers for one started here and for one run as its own process (`npm start`).
 */
export function clientAt(url: string, jwtSecret: string): Client {
  return {
    url,
    token: (role, sub) => signToken({ role, sub }, jwtSecret),
    async api<T>(
      method: string,
      path: string,
      opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
    ) {
      const response = await fetch(url + path, {
        method,
        headers: {
          ...opts.headers,
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body:
          opts.body === undefined
            ? undefined
            : typeof opts.body === "string"
              ? opts.body
              : JSON.stringify(opts.body),
      });
      const text = await response.text();
      const type = response.headers.get("content-type") ?? "";
      return {
        status: response.status,
        body: (type.includes("json") && text ? JSON.parse(text) : text) as T,
        headers: response.headers,
      };
    },
  };
}
