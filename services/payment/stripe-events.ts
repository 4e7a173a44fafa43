import type { PaymentStep } from "../../domain/payment";
import type { PaymentDoc } from "../../models/payment.model";
import { record, type PaymentThis } from "./context";

export const UNKNOWN_PAYMENT = "unknown payment";

/** A string field of a Stripe object, or "" when it is absent or not a string. */
const text = (value: unknown): string => (typeof value === "string" ? value : "");

/**
 * What a Stripe event says about the escrow, as a saga step — or nothing (`label` says why):
 * a hold that settled after 3-D Secure, a failed authorisation, a hold that expired or was
 * voided outside Kilat, a refund from the dashboard.
 */
function stepOf(
  type: string,
  object: Record<string, unknown>,
  payment: PaymentDoc,
): { step: PaymentStep; label: string } | { label: string } {
  switch (type) {
    case "payment_intent.amount_capturable_updated":
      return {
        step: {
          type: "authorized",
          authorization: { status: "held", providerRef: text(object.id) },
        },
        label: "held",
      };
    case "payment_intent.payment_failed": {
      const code = text((object.last_payment_error as { code?: unknown } | undefined)?.code);
      return {
        step: { type: "authorization_failed", reason: code || "payment_failed" },
        label: "failed",
      };
    }
    case "payment_intent.canceled": {
      // Our own cancellation (booking cancelled) says requested_by_customer: already handled.
      if (text(object.cancellation_reason) === "requested_by_customer")
        return { label: "no change" };
      return {
        step: { type: "hold_lost", reason: text(object.cancellation_reason) || "expired" },
        label: "failed",
      };
    }
    case "payment_intent.succeeded":
      // Our capture already recorded it (or will, from the delivery confirmation).
      return { label: "no change" };
    case "charge.refunded":
      return {
        step: {
          type: "refunded",
          refunded_cents: Number(object.amount_refunded ?? payment.captured_cents),
          reason: "refunded in Stripe",
        },
        label: "refunded",
      };
    default:
      return { label: "ignored" };
  }
}

/**
 * Applies a verified Stripe event to its payment. Each step is a guarded write, so one our own
 * flow already applied changes nothing ("no change").
 */
export async function applyStripeEvent(
  service: PaymentThis,
  type: string,
  object: Record<string, unknown>,
): Promise<string> {
  const intentId = text(type === "charge.refunded" ? object.payment_intent : object.id);
  const paymentId = text((object.metadata as Record<string, unknown> | undefined)?.payment_id);
  const payment = await service.models.payments
    .findOne(paymentId ? { _id: paymentId } : { provider_ref: intentId })
    .lean<PaymentDoc>();
  if (!payment) return UNKNOWN_PAYMENT;
  const meaning = stepOf(type, object, payment);
  if (!("step" in meaning)) return meaning.label;
  const recorded = await record(service, payment, meaning.step);
  return recorded.ok ? meaning.label : "no change";
}
