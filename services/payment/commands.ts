import { decide, type PaymentCommand, type PaymentStep } from "../../domain/payment";
import { renewalMayRace } from "../../domain/schedule";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import { runtimeOf } from "../../lib/runtime";
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

/**
 * Claims the payment's hold for a capture or release (`settling`): from then on no renewal
 * replaces it. A renewal that replaced the hold read first wins the race: the payment is read
 * again and its current hold claimed. Answers the payment as claimed, or as it is when there is
 * no hold left to claim (captured, released, failed meanwhile).
 */
export async function claimHold(service: PaymentThis, payment: PaymentDoc): Promise<PaymentDoc> {
  // A hold far from lapsing is renewed by nobody: nothing to claim it from.
  const { schedule } = runtimeOf(service.broker).config;
  if (!renewalMayRace(payment.hold_expires_at, new Date(), schedule)) return payment;
  let now: PaymentDoc | null = payment;
  for (let tries = 0; tries <= RETRIES; tries++) {
    if (!now || (now.status !== "held" && now.status !== "pending") || !now.provider_ref) break;
    const claimed = await record(service, now, {
      type: "settling",
      provider_ref: now.provider_ref,
    });
    if (claimed.ok) return claimed.state;
    now = await paymentOf(service, now.booking_id);
  }
  const holding = now && (now.status === "held" || now.status === "pending");
  // Lost every race: thrown, so the event is delivered again and the claim tried anew.
  if (holding && now?.provider_ref && !now.settling_at) throw new Error("the hold kept changing");
  return now ?? payment;
}

/** Opens the booking's payment (with `payment.escrow_created`), or finds the one there is. */
export const open = (service: PaymentThis, command: Extract<PaymentCommand, { type: "open" }>) =>
  paymentsOf(service).create(command.id, decide, command);
