import { ServiceBroker, type BrokerOptions } from "moleculer";
import { brokerOptions } from "../moleculer.config";
import { SERVICE_SCHEMAS } from "../services";
import type { Config, ServiceName } from "./config";
import { bindRuntime, createRuntime, type Runtime } from "./runtime";

export interface BrokerSetup {
  /** Share one runtime (and so one in-process bus) between brokers of a test. */
  runtime?: Runtime;
  services?: ServiceName[];
  overrides?: Partial<BrokerOptions>;
}

/**
 * A broker hosting the services `config.services` names. The runtime's event bus is closed
 * when the broker stops, unless it was passed in (then its owner closes it).
 */
export function createBroker(config: Config, setup: BrokerSetup = {}): ServiceBroker {
  const options = brokerOptions(config);
  const broker = new ServiceBroker({
    ...options,
    ...setup.overrides,
    async stopped() {
      if (!setup.runtime) await runtime.bus.close();
    },
  });
  const runtime = setup.runtime ?? createRuntime(config, broker.getLogger("event-bus"));
  bindRuntime(broker, runtime);
  for (const name of setup.services ?? config.services) broker.createService(SERVICE_SCHEMAS[name]);
  return broker;
}
