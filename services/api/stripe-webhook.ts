import type { IncomingMessage, ServerResponse } from "node:http";
import Stripe from "stripe";
import { HTTP_STATUS, isServerError } from "../../lib/http-status";
import { runtimeOf } from "../../lib/runtime";
import type { ApiThis } from "./context";
import { errorBody, type HttpError } from "./errors";

/** How old (or how far ahead) a signature's timestamp may be, as Stripe's SDK defaults. */
const SIGNATURE_TOLERANCE_S = 300;

/** The `t=` of a Stripe-Signature header, in Unix seconds (0 when missing). */
function signedAt(header: string): number {
  const t = /(?:^|,)t=(\d+)/.exec(header);
  return t ? Number(t[1]) : 0;
}

/** A signed body read as an event: an object with a string id and type, else null. */
function parseEvent(raw: Buffer): { id: string; type: string; data?: unknown } | null {
  try {
    const body: unknown = JSON.parse(raw.toString("utf8"));
    if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
    const { id, type, data } = body as Record<string, unknown>;
    return typeof id === "string" && typeof type === "string" ? { id, type, data } : null;
  } catch {
    return null;
  }
}

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
  const header = String(req.headers["stripe-signature"] ?? "");
  try {
    // The SDK bounds a signature's age, not how far ahead of our clock it claims to be.
    if (signedAt(header) > Date.now() / 1000 + SIGNATURE_TOLERANCE_S) throw new Error("future");
    const signature = webhookVerifier.webhooks.signature;
    if (!signature) throw new Error("the Stripe SDK has no signature verifier");
    signature.verifyHeader(
      raw,
      header,
      runtimeOf(service.broker).config.stripe.webhookSecret,
      SIGNATURE_TOLERANCE_S,
    );
  } catch {
    reply(HTTP_STATUS.BAD_REQUEST, {
      name: "BadRequest",
      message: "Invalid Stripe signature",
      code: HTTP_STATUS.BAD_REQUEST,
      type: "INVALID_SIGNATURE",
    });
    return;
  }
  // Signed, but not an event at all (no id to record it by): nothing Stripe would send.
  const event = parseEvent(raw);
  if (!event) {
    reply(HTTP_STATUS.BAD_REQUEST, {
      name: "BadRequest",
      message: "Not a Stripe event: expected a JSON object with an id and a type",
      code: HTTP_STATUS.BAD_REQUEST,
      type: "NOT_AN_EVENT",
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
    reply(HTTP_STATUS.OK, result);
  } catch (error) {
    const { status, body } = errorBody(error as HttpError);
    if (isServerError(status)) service.logger.error("stripe webhook failed", error);
    reply(status, body);
  }
}
