import { ServiceBroker, type BrokerOptions } from "moleculer";
import type { Config, ServiceName } from "../lib/config";
import { bindRuntime, createRuntime, type Runtime } from "../lib/runtime";
import { brokerOptions } from "../moleculer.config";
import ApiService from "./api/api.service";
import BookingService from "./booking/booking.service";
import NotificationService from "./notification/notification.service";
import PaymentService from "./payment/payment.service";
import RunnerService from "./runner/runner.service";
import TrackingService from "./tracking/tracking.service";

/** Every service this codebase hosts; `SERVICES` chooses which run in a process. */
export const SERVICE_SCHEMAS = {
  api: ApiService,
  booking: BookingService,
  payment: PaymentService,
  runner: RunnerService,
  tracking: TrackingService,
  notification: NotificationService,
} satisfies Record<ServiceName, { name: string }>;

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
  const broker = new ServiceBroker({
    ...brokerOptions(config),
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
