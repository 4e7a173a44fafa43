import { ConfigError, loadConfig } from "./lib/config";
import { createBroker } from "./services";
import { EmbeddedMongoUnavailable } from "./lib/embedded-mongo";
import { openEmbeddedMongo, stopEmbeddedMongo } from "./lib/mongo";
import { startProbeServer } from "./lib/probe-server";
import { markProcessStopping } from "./lib/readiness";
import { runtimeOf } from "./lib/runtime";
import { startTracing, stopTracing } from "./lib/tracing";
import { watchStripe } from "./lib/stripe-watch";

/**
 * Starts one Kilat process: `SERVICES` chooses what it hosts, the other variables what it uses.
 * `--fresh` starts the embedded database empty; `--repl` attaches the Moleculer REPL.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  // Before the broker is built: its middleware and every span depend on it. Off without OTEL_*.
  startTracing(`kilat-${config.services.join("-")}`);
  // Resolve the database before any service starts, so a missing one is a clean exit.
  if (!config.mongoUrl && config.services.some((name) => name !== "api")) {
    await openEmbeddedMongo(config, process.argv.includes("--fresh"));
  }
  // This process stops the broker and then the embedded database itself; Moleculer's own signal
  // handlers would exit as soon as the broker stopped.
  const broker = createBroker(config, { overrides: { skipProcessEventRegistration: true } });
  // The gateway serves the probes on its PORT; any other process on a port of its own, from
  // before the start (alive, not ready) until after the stop (not ready from its first moment).
  const probes = config.services.includes("api")
    ? undefined
    : await startProbeServer(broker, runtimeOf(broker));
  const stripe = config.services.includes("payment") ? watchStripe(broker, config) : undefined;
  const shutdown = async (signal: string) => {
    broker.logger.info(`${signal}: stopping`);
    markProcessStopping();
    await Promise.all([stripe?.stop(), broker.stop()]);
    await probes?.close();
    await stopEmbeddedMongo();
    // The last spans (the drain's) go out before the process does.
    await stopTracing().catch(() => undefined);
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  await broker.start();
  if (process.argv.includes("--repl")) broker.repl();
}

main().catch(async (error: unknown) => {
  if (error instanceof ConfigError || error instanceof EmbeddedMongoUnavailable) {
    console.error(`kilat: ${error.message}`);
  } else {
    console.error("kilat: failed to start:", error instanceof Error ? error.message : error);
  }
  await stopEmbeddedMongo().catch(() => undefined);
  process.exit(1);
});
