import { decide, type PaymentCommand, type PaymentStep } from "../../domain/payment";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import type { PaymentDoc } from "../../models/payment.model";
import type { PaymentThis } from "./models";

/**
 * A booking has at most one payment, so its id follows from the booking's: every lookup is by
 * `_id`, the one lookup FerretDB (the MongoDB-compatible server here) answers from an index.
 */
export const paymentIdOf = (bookingId: string) => `pay_${bookingId}`;

const paymentsOf = (service: PaymentThis): AggregateStore<PaymentDoc> =>
  service.aggregate(service.models.payments, "payment");

/** Lost races (a webhook and our own flow at once) are decided again on what is stored then. */
const RETRIES = 3;

/** The booking's payment, if it has one. */
export const paymentOf = (service: PaymentThis, bookingId: string) =>
  paymentsOf(service).load(paymentIdOf(bookingId));

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
    { retries: RETRIES, known: payment },
  );
}

/** Opens the booking's payment (with `payment.escrow_created`), or finds the one there is. */
export const open = (service: PaymentThis, command: Extract<PaymentCommand, { type: "open" }>) =>
  paymentsOf(service).create(command.id, decide, command);
