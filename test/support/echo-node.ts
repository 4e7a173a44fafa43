/**
 * A Kilat broker (the real broker options and transporter) hosting one `echo` service, for the
 * node-liveness test to kill. argv: <redis url> <namespace> <node id>. Prints "ready" once started.
 */
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { brokerOptions } from "../../moleculer.config";

const [redis, namespace, nodeID] = process.argv.slice(2);
const env = { NODE_ENV: "test", LOG_LEVEL: "warn", NAMESPACE: namespace, TRANSPORTER: redis };
const broker = new ServiceBroker(brokerOptions({ ...loadConfig(env), nodeID }));
broker.createService({
  name: "echo",
  actions: {
    /** Answers who answered, after `ms` (to have calls in flight when the node is killed). */
    say: {
      async handler(ctx) {
        const { ms } = ctx.params as { ms?: number };
        if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
        return nodeID;
      },
    },
  },
});
void broker.start().then(() => process.stdout.write("ready\n"));
