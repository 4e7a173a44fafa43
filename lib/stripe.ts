import Stripe from "stripe";
import type { Config } from "./config";

/**
 * The Stripe SDK client for STRIPE_SECRET_KEY, pointed at STRIPE_API_BASE when set
 * (stripe-mock in development and tests). Undefined when no key is configured: the payment
 * service then uses its simulated provider.
 */
export function createStripeClient(config: Config, retries = 2): Stripe | undefined {
  const { secretKey, apiBase } = config.stripe;
  if (!secretKey) return undefined;
  if (!apiBase) return new Stripe(secretKey, { maxNetworkRetries: retries, timeout: 10_000 });
  const url = new URL(apiBase);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return new Stripe(secretKey, {
    host: url.hostname,
    port: Number(url.port || (protocol === "http" ? 80 : 443)),
    protocol,
    maxNetworkRetries: retries,
    timeout: 10_000,
  });
}
