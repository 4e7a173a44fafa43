import { ConfigError, loadConfig } from "./lib/config";
import { createBroker } from "./services";
import { EmbeddedMongoUnavailable } from "./lib/embedded-mongo";
import { openEmbeddedMongo, stopEmbeddedMongo } from "./lib/mongo";

/**
 * Starts one Kilat process: `SERVICES` chooses what it hosts, the other variables what it uses.
 * `--fresh` starts the embedded database empty; `--repl` attaches the Moleculer REPL.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  // Resolve the database before any service starts, so a missing one is a clean exit.
  if (!config.mongoUrl && config.services.some((name) => name !== "api")) {
    await openEmbeddedMongo(config, process.argv.includes("--fresh"));
  }
  // This process stops the broker and then the embedded database itself; Moleculer's own signal
  // handlers would exit as soon as the broker stopped.
  const broker = createBroker(config, { overrides: { skipProcessEventRegistration: true } });
  const shutdown = async (signal: string) => {
    broker.logger.info(`${signal}: stopping`);
    await broker.stop();
    await stopEmbeddedMongo();
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
