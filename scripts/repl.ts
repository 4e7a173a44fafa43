/**
 * `npm run repl`: a service-less node that joins the running system over TRANSPORTER and opens
 * the Moleculer REPL (`call booking.get --id …`, `services`, `nodes`, `metrics`, …).
 * Embedded mode has no network to join: there, `npm run dev` runs the system with its REPL.
 */
import { createBroker } from "../services";
import { ConfigError, loadConfig } from "../lib/config";

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.transporter) {
    console.error(
      "kilat repl: TRANSPORTER is not set, so there is no running node to join.\n" +
        "Embedded mode: run `npm run dev` (the whole system with its REPL), or set the\n" +
        "exports of `npm run infra:up` and start the services with TRANSPORTER=redis://…",
    );
    process.exit(2);
  }
  const broker = createBroker({ ...config, nodeID: `repl-${process.pid}` }, { services: [] });
  await broker.start();
  broker.repl();
}

main().catch((error: unknown) => {
  console.error(
    `kilat repl: ${error instanceof ConfigError ? error.message : (error as Error).message}`,
  );
  process.exit(1);
});
