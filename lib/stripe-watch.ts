import type { ServiceBroker } from "moleculer";
import type Stripe from "stripe";
import type { Config } from "./config";
import { operatorMetric } from "./metrics";
import { PeriodicTask } from "./periodic";
import { createStripeClient } from "./stripe";

/**
 * Often enough for an alert within a minute or two; at two requests a minute, far below Stripe's
 * rate limits.
 */
const CHECK_EVERY_MS = 30_000;

/** The reachability watch: `check` runs one (tests), `stop` ends the loop. */
export interface StripeWatch {
  check(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Watches whether Stripe answers, for the payment process: `kilat_stripe_reachable` (1 or 0) and a
 * log line when it changes. Not part of /ready: an outage at Stripe must not take the processes
 * out of rotation (payments then fail or wait on their own, and everything else still works).
 * Undefined without STRIPE_SECRET_KEY (the simulated provider has nothing to reach).
 */
export function watchStripe(
  broker: ServiceBroker,
  config: Config,
  client: Stripe | undefined = createStripeClient(config, 0),
): StripeWatch | undefined {
  if (!client) return undefined;
  const stripe = client;
  const { metrics, logger } = broker;
  const name = operatorMetric(metrics, "stripeReachable");
  let reachable: boolean | undefined;
  const check = async () => {
    let now: boolean;
    let reason = "";
    try {
      await stripe.balance.retrieve();
      now = true;
    } catch (error) {
      // An answer (a refused key, a rate limit) is Stripe reachable; no answer is not.
      const type = (error as { type?: string }).type;
      now = type !== "StripeConnectionError" && type !== "StripeAPIError";
      reason = (error as Error).message;
    }
    metrics.set(name, now ? 1 : 0);
    if (now !== reachable) {
      if (now) logger.info("stripe: reachable");
      else logger.warn(`stripe: unreachable: ${reason}`);
    }
    reachable = now;
    return now;
  };
  const task = new PeriodicTask(check, CHECK_EVERY_MS, (error) =>
    logger.warn("stripe: reachability check failed", error),
  );
  task.start(0);
  return { check, stop: () => task.stop() };
}
