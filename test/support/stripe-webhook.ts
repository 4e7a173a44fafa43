import Stripe from "stripe";

const signer = new Stripe("sk_test_signer");

/** Posts a Stripe webhook event to a Kilat gateway, signed as Stripe signs it. */
export function sendStripeWebhook(
  baseUrl: string,
  secret: string,
  event: { id: string; type: string; object: Record<string, unknown> },
): Promise<Response> {
  const payload = JSON.stringify({
    id: event.id,
    object: "event",
    type: event.type,
    data: { object: event.object },
  });
  return fetch(`${baseUrl}/api/webhooks/stripe`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "stripe-signature": signer.webhooks.generateTestHeaderString({ payload, secret }),
    },
    body: payload,
  });
}
