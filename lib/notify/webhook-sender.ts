import { WEBHOOK_TUNING } from "../../config/tuning";
import { pointsInside } from "./address";
import { SIGNATURE_HEADER, sign } from "./signature";

/** What one attempt to deliver came to, as the deliveries list shows it. */
export interface DeliveryAttempt {
  at: Date;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface SignedDelivery {
  id: string;
  url: string;
  secret: string;
  /** The CloudEvent, in the same JSON as on Kafka. */
  body: string;
  /** May the URL resolve to a loopback or private address (WEBHOOK_ALLOW_INTERNAL)? */
  allowInternal: boolean;
}

/**
 * One signed POST to an integrator's webhook: `kilat-signature: t=…,v1=<HMAC>` over the body, no
 * redirects followed, at most WEBHOOK_TUNING.deliveryTimeoutMs. The address is checked again
 * before every send (a name may resolve elsewhere by now). Never throws: the attempt says how
 * it went, and a 2xx is a delivery.
 */
export async function sendWebhook(delivery: SignedDelivery): Promise<DeliveryAttempt> {
  const started = Date.now();
  const attempt: DeliveryAttempt = {
    at: new Date(),
    status_code: null,
    error: null,
    duration_ms: 0,
  };
  try {
    if (!delivery.allowInternal && (await pointsInside(delivery.url))) {
      throw new Error("refused: the URL now resolves to an internal address");
    }
    const response = await fetch(delivery.url, {
      method: "POST",
      headers: {
        "content-type": "application/cloudevents+json; charset=utf-8",
        [SIGNATURE_HEADER]: sign(delivery.secret, delivery.body, Math.floor(started / 1000)),
        "kilat-delivery": delivery.id,
      },
      body: delivery.body,
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TUNING.deliveryTimeoutMs),
    });
    attempt.status_code = response.status;
    await response.body?.cancel();
  } catch (error) {
    attempt.error = (error as Error).message.slice(0, 300);
  }
  attempt.duration_ms = Date.now() - started;
  return attempt;
}

export const delivered = (attempt: DeliveryAttempt) =>
  attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300;
