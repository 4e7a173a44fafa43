import { ServiceBroker, type BrokerOptions } from "moleculer";
import type { Config, ServiceName } from "../lib/config";
import { bindRuntime, createRuntime, type Runtime } from "../lib/runtime";
import { brokerOptions } from "../moleculer.config";
import type ApiService from "./api/api.service";
import type BookingService from "./booking/booking.service";
import type NotificationService from "./notification/notification.service";
import type PaymentService from "./payment/payment.service";
import type RunnerService from "./runner/runner.service";
import type TrackingService from "./tracking/tracking.service";

/**
 * Every service this codebase hosts; `SERVICES` chooses which run in a process. Each is loaded
 * only when a process hosts it: a restarted worker does not read the other five's code (and
 * their libraries: Stripe's, socket.io's, sharp's) before it can answer. The imports above are
 * types only, erased when compiled.
 */
// A type, not an interface: the OpenAPI builder reads it as a catalog indexed by name.
type ServiceSchemas = {
  api: typeof ApiService;
  booking: typeof BookingService;
  payment: typeof PaymentService;
  runner: typeof RunnerService;
  tracking: typeof TrackingService;
  notification: typeof NotificationService;
};

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand */
const SCHEMA_LOADERS: { [name in ServiceName]: () => ServiceSchemas[name] } = {
  api: () => (require("./api/api.service") as { default: typeof ApiService }).default,
  booking: () =>
    (require("./booking/booking.service") as { default: typeof BookingService }).default,
  payment: () =>
    (require("./payment/payment.service") as { default: typeof PaymentService }).default,
  runner: () => (require("./runner/runner.service") as { default: typeof RunnerService }).default,
  tracking: () =>
    (require("./tracking/tracking.service") as { default: typeof TrackingService }).default,
  notification: () =>
    (require("./notification/notification.service") as { default: typeof NotificationService })
      .default,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** One service's schema, loaded on first use. */
export function serviceSchema<N extends ServiceName>(name: N): ServiceSchemas[N] {
  return SCHEMA_LOADERS[name]();
}

/** Every service's schema (tests and documentation read them all). */
export function allServiceSchemas(): ServiceSchemas {
  return {
    api: serviceSchema("api"),
    booking: serviceSchema("booking"),
    payment: serviceSchema("payment"),
    runner: serviceSchema("runner"),
    tracking: serviceSchema("tracking"),
    notification: serviceSchema("notification"),
  };
}

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
  for (const name of setup.services ?? config.services) broker.createService(serviceSchema(name));
  return broker;
}
