import { splitHold } from "../../domain/fees";
import { attemptOf } from "../../domain/payment";
import { holdExpiresAt, payBy } from "../../domain/schedule";
import { DEFAULT_RETRY } from "../../adapters/event-bus";
import { PaymentRejected, stepKey } from "../../adapters/payments/port";
import { runtimeOf } from "../../lib/runtime";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import type { PaymentDoc } from "../../models/payment.model";
import { claimHold, paymentOf, record } from "./commands";
import type { PaymentThis } from "./models";

/**
 * The escrow saga. Every step is a provider call with the step's idempotency key, then one
 * guarded write of what the answer changes, with its event (domain/payment.ts), so a step
 * retried after a crash repeats the call harmlessly and publishes once.
 */

/**
 * Authorises the card for the booking's price: held, pending (3-D Secure), or declined. Off
 * session (a scheduled booking's saved card, held before its pickup), a decline leaves the owner
 * until `pay_by` to pay.
 */
export async function authorize(
  service: PaymentThis,
  payment: PaymentDoc,
  offSession = false,
): Promise<PaymentDoc> {
  const authorization = await service.provider.authorize(
    {
      paymentId: payment._id,
      bookingId: payment.booking_id,
      amountCents: payment.amount_cents,
      currency: payment.currency,
      paymentMethod: payment.payment_method,
      attempt: attemptOf(payment),
      ...(offSession ? { offSession: { customerRef: payment.customer_ref ?? null } } : {}),
      ...(payment.customer_ref ? { customerRef: payment.customer_ref } : {}),
    },
    stepKey(payment._id, "authorize", attemptOf(payment)),
  );
  const { schedule } = runtimeOf(service.broker).config;
  const at = new Date();
  const recorded = await record(service, payment, {
    type: "authorized",
    authorization,
    hold_expires_at: holdExpiresAt(at, schedule),
    ...(offSession && payment.pickup_at ? { pay_by: payBy(at, payment.pickup_at, schedule) } : {}),
  });
  if (recorded.ok) return recorded.state;
  // The booking was cancelled while the card was being authorised: no money stays held for it.
  const now = (await paymentOf(service, payment.booking_id)) ?? payment;
  if (now.status === "canceled" && authorization.status !== "declined") {
    return release(service, now, authorization.providerRef, "booking cancelled");
  }
  return now;
}

/** Releases a hold at the provider, then records it (refunded = held). */
async function release(
  service: PaymentThis,
  payment: PaymentDoc,
  providerRef: string,
  reason: string,
): Promise<PaymentDoc> {
  await service.provider.cancel(providerRef, stepKey(payment._id, "cancel", attemptOf(payment)));
  const released = await record(service, payment, {
    type: "hold_released",
    provider_ref: providerRef,
    reason,
  });
  return released.ok ? released.state : payment;
}

/** `payment.failed` for the owner (and ops), with the reason kept on the payment. */
async function surface(
  service: PaymentThis,
  payment: PaymentDoc,
  reason: string,
  status?: "failed",
) {
  await record(service, payment, { type: "fail", reason, ...(status ? { status } : {}) });
}

/** The runner's Stripe connected account (null: the share stays on the platform). */
async function payoutDestination(service: PaymentThis, runnerId: string) {
  // Fails (and the saga retries) while the runner service is unreachable: paying a runner
  // late beats capturing without their transfer.
  const { stripe_account_id } = await service.broker.call<
    { stripe_account_id: string | null },
    { runner_id: string }
  >("runner.payoutAccount", { runner_id: runnerId });
  return stripe_account_id;
}

/**
 * Captures the booking's hold less `refundCents` (0: all of it), then records the split:
 * `payment.escrow_released` with payout + fee = captured, after `payment.partially_refunded`
 * when less than the hold was captured. `attempt` is the event's delivery attempt.
 */
async function captureHold(
  service: PaymentThis,
  of: { bookingId: string; runnerId: string; refundCents: number; reason?: string },
  attempt: number,
): Promise<void> {
  const read = await paymentOf(service, of.bookingId);
  if (!read || read.status === "captured") return; // a repeat, or never paid
  // The hold no renewal replaces now: the one captured is the one the payment names.
  const payment = read.status === "held" ? await claimHold(service, read) : read;
  if (payment.status === "captured") return; // by a capture that ran meanwhile
  if (payment.status !== "held" || !payment.provider_ref) {
    // Confirmed, but nothing to capture (the hold failed or expired): said out loud.
    await surface(service, payment, `nothing to capture: the payment is ${payment.status}`);
    return;
  }
  if (of.refundCents < 0 || of.refundCents >= payment.amount_cents) {
    await surface(service, payment, `a refund of ${of.refundCents} does not fit the hold`);
    return;
  }
  const feeBps = runtimeOf(service.broker).config.platformFeeBps;
  const split = splitHold(payment.amount_cents, of.refundCents, feeBps);
  try {
    const destination = await payoutDestination(service, of.runnerId);
    const { capturedCents } = await service.provider.capture(
      {
        paymentId: payment._id,
        providerRef: payment.provider_ref,
        amountCents: split.capturedCents,
        currency: payment.currency,
        payoutCents: split.runnerPayoutCents,
        ...(destination ? { destination } : {}),
      },
      stepKey(payment._id, "capture", attemptOf(payment)),
    );
    await record(service, payment, {
      type: "captured",
      provider_ref: payment.provider_ref,
      runner_id: of.runnerId,
      captured_cents: capturedCents,
      fee_bps: feeBps,
      ...(of.reason ? { reason: of.reason } : {}),
    });
  } catch (error) {
    // A refusal is final; anything else is retried with backoff (the same idempotency key
    // makes a repeat harmless) and, on the last attempt, also surfaced as payment.failed
    // before it goes to the dead-letter topic. Never a silent loss.
    if (error instanceof PaymentRejected) {
      await surface(service, payment, `capture refused: ${error.reason}`, "failed");
      return;
    }
    if (attempt >= DEFAULT_RETRY.attempts) {
      await surface(
        service,
        payment,
        `capture failed ${attempt} times: ${(error as Error).message}`,
      );
    }
    throw error;
  }
}

/** The booking service's events (group service-payment-bookings). */
export const bookingEvents: EventHandlers<PaymentThis> = {
  /** Capture, then `payment.escrow_released` with payout + fee = captured. */
  async "booking.delivery_confirmed"(event, meta) {
    const { booking_id, runner_id } = event.data;
    await captureHold(
      this,
      { bookingId: booking_id, runnerId: runner_id, refundCents: 0 },
      meta.attempt,
    );
  },

  /**
   * A dispute resolved: captured as on a confirmation (release), captured less the refund
   * (partial: the rest of the hold is never taken), or the hold released (full refund).
   */
  async "booking.dispute_resolved"(event, meta) {
    const { booking_id, runner_id, outcome, refund_cents } = event.data;
    if (outcome === "full_refund") {
      await settleEnded(this, booking_id, "dispute resolved: full refund");
      return;
    }
    const partial = outcome === "partial_refund";
    await captureHold(
      this,
      {
        bookingId: booking_id,
        runnerId: runner_id,
        refundCents: partial ? refund_cents : 0,
        ...(partial ? { reason: "dispute resolved: partial refund" } : {}),
      },
      meta.attempt,
    );
  },

  /** Release the hold (or refund a capture) and `payment.escrow_refunded`. */
  async "booking.cancelled"(event) {
    await settleEnded(this, event.data.booking_id, event.data.reason);
  },

  /** Expired unpaid: a hold placed at the last moment (or still pending) is released. */
  async "booking.expired"(event) {
    await settleEnded(this, event.data.booking_id, "booking expired unpaid");
  },

  /**
   * Nobody came to the pickup: its fee is captured for the runner and the rest of the hold
   * refunded. At the drop-off nothing moves yet: the pet goes back (booking.returned settles),
   * or an admin resolves it as a dispute (booking.dispute_resolved settles).
   */
  async "booking.no_show"(event, meta) {
    const { booking_id, runner_id, where, fee_cents } = event.data;
    if (where !== "pickup") return;
    const of = { bookingId: booking_id, runnerId: runner_id, reason: "no-show at pickup" };
    await charge(this, { ...of, chargeCents: fee_cents }, meta.attempt);
  },

  /** The pet was handed back at the pickup: the booking's charge captured, any rest refunded. */
  async "booking.returned"(event, meta) {
    const { booking_id, runner_id, charge_cents } = event.data;
    const reason = "pet returned after a no-show at the drop-off";
    const of = { bookingId: booking_id, runnerId: runner_id, reason };
    await charge(this, { ...of, chargeCents: charge_cents }, meta.attempt);
  },
};

/**
 * Captures `chargeCents` of the hold for the runner (the fee on it as on any capture) and leaves
 * the rest uncaptured, which returns it to the owner; nothing to charge releases the whole hold.
 * Repeated, it finds the payment captured (or released) and does nothing.
 */
async function charge(
  service: PaymentThis,
  of: { bookingId: string; runnerId: string; chargeCents: number; reason: string },
  attempt: number,
): Promise<void> {
  if (of.chargeCents <= 0) {
    await settleEnded(service, of.bookingId, of.reason);
    return;
  }
  const payment = await paymentOf(service, of.bookingId);
  if (!payment) return;
  const refundCents = Math.max(0, payment.amount_cents - of.chargeCents);
  await captureHold(
    service,
    {
      bookingId: of.bookingId,
      runnerId: of.runnerId,
      refundCents,
      ...(refundCents > 0 ? { reason: of.reason } : {}),
    },
    attempt,
  );
}

/**
 * The booking ended (cancelled, or expired unpaid): the hold is released, a capture refunded,
 * an authorisation still under way stopped. Each step is guarded, so asking again (the booking's
 * event redelivered, or a hold that arrived after the end) settles once.
 */
export async function settleEnded(
  service: PaymentThis,
  bookingId: string,
  reason: string,
): Promise<void> {
  const read = await paymentOf(service, bookingId);
  if (!read) return;
  // The hold no renewal replaces now: the one released is the one the payment names.
  const holding = read.status === "held" || read.status === "pending";
  const payment = holding ? await claimHold(service, read) : read;
  try {
    if (payment.status === "created" || payment.status === "card_saved") {
      // Ended while the card is being authorised (`authorize` releases what it gets), or while
      // it is only saved: nothing is held.
      await record(service, payment, { type: "cancel_unauthorized" });
    } else if (
      (payment.status === "held" || payment.status === "pending") &&
      payment.provider_ref
    ) {
      await release(service, payment, payment.provider_ref, reason);
    } else if (payment.status === "captured" && payment.provider_ref) {
      const { refundedCents } = await service.provider.refund(
        payment.provider_ref,
        payment.captured_cents,
        stepKey(payment._id, "refund", attemptOf(payment)),
      );
      await record(service, payment, { type: "refunded", refunded_cents: refundedCents, reason });
    }
  } catch (error) {
    // The provider refused (the hold expired, say): surfaced, not retried.
    if (!(error instanceof PaymentRejected)) throw error;
    await surface(service, payment, `release refused: ${error.reason}`);
  }
}
