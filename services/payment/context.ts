import type { PaymentEntity } from "../../contracts";
import { decide, type Payment, type PaymentCommand, type PaymentStep } from "../../domain/payment";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import type { PaymentProvider } from "../../adapters/payments/port";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { paymentModel, type PaymentDoc } from "../../models/payment.model";
import { simulatedIntentModel } from "../../adapters/payments/simulated-intents";
import { stripeEventModel } from "../../models/stripe-event.model";

export const models = {
  payments: paymentModel,
  stripeEvents: stripeEventModel,
  simulatedIntents: simulatedIntentModel,
};

export type PaymentThis = DomainServiceThis<typeof models, { provider: PaymentProvider }>;

/**
 * A booking has at most one payment, so its id follows from the booking's: every lookup is by
 * `_id`, the one lookup FerretDB (the MongoDB-compatible server here) answers from an index.
 */
export const paymentIdOf = (bookingId: string) => `pay_${bookingId}`;

const paymentsOf = (service: PaymentThis): AggregateStore<PaymentDoc> =>
  service.aggregate(service.models.payments, "payment");

/** Lost races (a webhook and our own flow at once) are decided again on what is stored then. */
const RETRIES = 3;

/** One saga step's outcome, decided on `payment` as the caller read it, then stored. */
export function record(
  service: PaymentThis,
  payment: PaymentDoc,
  step: PaymentStep,
): Promise<Outcome<PaymentDoc>> {
  return paymentsOf(service).execute(
    payment._id,
    decide,
    (): PaymentCommand => ({ ...step, at: new Date() }),
    RETRIES,
    payment,
  );
}

/** Opens the booking's payment (with `payment.escrow_created`), or finds the one there is. */
export const open = (service: PaymentThis, command: Extract<PaymentCommand, { type: "open" }>) =>
  paymentsOf(service).create(command.id, decide, command);

/**
 * Payments have been stored under `paymentIdOf(booking)` since this day (the version storing
 * them under ids of their own was replaced the day before): a booking made since has no other.
 */
const PAYMENT_IDS_FOLLOW_BOOKINGS_SINCE = Date.parse("2026-11-27T00:00:00Z");

/** Whether the booking made at `bookedAt` can only have its payment under `paymentIdOf`. */
export const paidUnderBookingId = (bookedAt: string) =>
  Date.parse(bookedAt) >= PAYMENT_IDS_FOLLOW_BOOKINGS_SINCE;

/**
 * The booking's payment: by `_id`, or by `booking_id` for one whose id does not follow the
 * booking's (on FerretDB a scan, run only when the lookup by `_id` missed and the booking, if
 * its creation time is given, is older than the convention).
 */
export async function paymentOf(service: PaymentThis, bookingId: string, bookedAt?: string) {
  const payment = await paymentsOf(service).load(paymentIdOf(bookingId));
  if (payment || (bookedAt && paidUnderBookingId(bookedAt))) return payment;
  return service.models.payments.findOne({ booking_id: bookingId }).lean<PaymentDoc>();
}

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
});
