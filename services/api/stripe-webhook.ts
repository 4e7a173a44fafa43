import type { IncomingMessage, ServerResponse } from "node:http";
import Stripe from "stripe";
import { runtimeOf } from "../../lib/runtime";
import type { ApiThis } from "./context";
import { errorBody, type HttpError } from "./errors";

/** Signature checks need no API key: an instance only for its webhooks helper. */
const webhookVerifier = new Stripe("sk_test_signature_checks_only");

/**
 * `POST /api/webhooks/stripe`: no bearer token, the signature over the raw body authenticates
 * it (STRIPE_WEBHOOK_SECRET). A verified event goes to the payment service; Stripe retries
 * anything that is not a 2xx.
 */
export async function stripeWebhook(
  service: ApiThis,
  req: IncomingMessage & { body?: unknown },
  res: ServerResponse,
): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.writeHead(status);
    res.end(JSON.stringify(body));
  };
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  let event: Stripe.Event;
  try {
    event = webhookVerifier.webhooks.constructEvent(
      raw,
      String(req.headers["stripe-signature"] ?? ""),
      runtimeOf(service.broker).config.stripe.webhookSecret,
    );
  } catch {
    reply(400, {
      name: "BadRequest",
      message: "Invalid Stripe signature",
      code: 400,
      type: "INVALID_SIGNATURE",
    });
    return;
  }
  // Signed, yet possibly without the object Stripe always sends: the payment service records
  // such an event as unusable (naming the missing fields) rather than the gateway failing on it.
  const object: unknown = (event.data as { object?: unknown } | undefined)?.object;
  try {
    const result = await service.broker.call("payment.stripeEvent", {
      id: event.id,
      type: event.type,
      object: typeof object === "object" && object !== null && !Array.isArray(object) ? object : {},
    });
    reply(200, result);
  } catch (error) {
    const { status, body } = errorBody(error as HttpError);
    if (status >= 500) service.logger.error("stripe webhook failed", error);
    reply(status, body);
  }
}
