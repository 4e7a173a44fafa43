import type { ServiceBroker } from "moleculer";
import type { Config } from "./config";
import { createEventBus, type EventBus } from "../adapters/event-bus";

/** What the services of one broker share: the validated config and the event bus. */
export interface Runtime {
  config: Config;
  bus: EventBus;
}

const runtimes = new WeakMap<ServiceBroker, Runtime>();

export interface RuntimeLogger {
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export function createRuntime(config: Config, logger: RuntimeLogger = console): Runtime {
  return { config, bus: createEventBus(config, `kilat-${config.nodeID ?? process.pid}`, logger) };
}

export function bindRuntime(broker: ServiceBroker, runtime: Runtime): void {
  runtimes.set(broker, runtime);
}

export function runtimeOf(broker: ServiceBroker): Runtime {
  const runtime = runtimes.get(broker);
  if (!runtime) throw new Error("broker has no Kilat runtime: create it with createBroker()");
  return runtime;
}
