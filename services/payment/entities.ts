import type { PaymentEntity } from "../../contracts";
import type { Payment } from "../../domain/payment";

/** A payment as the API returns it. */
export const toEntity = (doc: Payment): PaymentEntity => ({
  payment_id: doc._id,
  booking_id: doc.booking_id,
  status: doc.status,
  amount_cents: doc.amount_cents,
  currency: doc.currency,
  captured_cents: doc.captured_cents,
  platform_fee_cents: doc.platform_fee_cents,
  runner_payout_cents: doc.runner_payout_cents,
  refunded_cents: doc.refunded_cents,
  failure_reason: doc.failure_reason,
  provider: doc.provider,
  provider_ref: doc.provider_ref,
  hold_at: doc.hold_at?.toISOString() ?? null,
  pay_by: doc.pay_by?.toISOString() ?? null,
  hold_expires_at: doc.hold_expires_at?.toISOString() ?? null,
  ...(doc.stripe_dispute
    ? {
        stripe_dispute: {
          id: doc.stripe_dispute.id,
          status: doc.stripe_dispute.status,
          reason: doc.stripe_dispute.reason,
          amount_cents: doc.stripe_dispute.amount_cents,
          opened_at: doc.stripe_dispute.opened_at.toISOString(),
          closed_at: doc.stripe_dispute.closed_at?.toISOString() ?? null,
        },
      }
    : {}),
});
