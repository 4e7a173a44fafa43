import { SYSTEM } from "../../domain/access";
import { decide, holdReleasedBecause, type BookingCommand } from "../../domain/booking";
import { runtimeOf } from "../../lib/runtime";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import { bookingsOf, type BookingThis } from "./models";

/**
 * The escrow saga, as the booking hears it: what the payment service reports is kept on the
 * booking, and a captured escrow completes it.
 */

/** Lost races are tried again on what is stored then; a stale report changes nothing. */
const RETRIES = 3;

/** What the escrow saga reports, kept on the booking: a runner may accept only once it is held. */
function recordPayment(
  service: BookingThis,
  bookingId: string,
  payment_status: Extract<BookingCommand, { type: "record_payment" }>["payment_status"],
  payBy?: string,
) {
  const { acceptTimeoutMs, schedule } = runtimeOf(service.broker).config;
  return bookingsOf(service).execute(
    bookingId,
    decide,
    () => ({
      type: "record_payment" as const,
      payment_status,
      at: new Date(),
      acceptTimeoutMs,
      acceptGraceMs: schedule.acceptGraceMs,
      ...(payBy ? { pay_by: new Date(payBy) } : {}),
    }),
    { retries: RETRIES },
  );
}

/** The payment service's events (group service-booking-payments). */
export const paymentEvents: EventHandlers<BookingThis> = {
  async "payment.escrow_held"(event) {
    const { booking_id } = event.data;
    const recorded = await recordPayment(this, booking_id, "held");
    if (recorded.ok) return;
    // Held for a booking that ended meanwhile (it expired, or was cancelled, while the card was
    // being authorised): the hold is released. A release asked twice happens once.
    const booking = await bookingsOf(this).load(booking_id);
    const reason = booking && holdReleasedBecause(booking);
    if (reason) await this.broker.call("payment.release", { booking_id, reason });
  },
  async "payment.failed"(event) {
    await recordPayment(this, event.data.booking_id, "failed", event.data.pay_by);
  },
  /** A scheduled booking's card is saved: Kilat holds it before the pickup, not the owner now. */
  async "payment.card_saved"(event) {
    await recordPayment(this, event.data.booking_id, "card_saved");
  },
  /**
   * Refunded: a dispute resolved with a full refund ends the booking `refunded`; otherwise (a
   * cancellation, a refund made in Stripe) the payment status is kept on the booking.
   */
  async "payment.escrow_refunded"(event) {
    const { booking_id } = event.data;
    const ended = await this.move(booking_id, {
      type: "refund",
      actor: SYSTEM,
      at: new Date(),
      autoConfirmAfterMs: runtimeOf(this.broker).config.autoConfirmAfterMs,
    });
    if (!ended.ok) await recordPayment(this, booking_id, "refunded");
  },
  /** The escrow was captured and split: the booking completes with its final price. */
  async "payment.escrow_released"(event) {
    const { booking_id, runner_payout_cents, platform_fee_cents } = event.data;
    const completed = await this.move(booking_id, {
      type: "complete",
      actor: SYSTEM,
      at: new Date(),
      autoConfirmAfterMs: runtimeOf(this.broker).config.autoConfirmAfterMs,
      final_price_cents: runner_payout_cents + platform_fee_cents,
    });
    // Completed already: a repeat. Anything else (no such booking) is retried, then dead-lettered.
    if (!completed.ok && completed.rejection.kind !== "conflict") {
      throw new Error(`completing ${booking_id}: ${completed.rejection.message}`);
    }
    // Captured for a booking that ends otherwise (a no-show's fee, a returned pet): kept on it.
    if (!completed.ok) await recordPayment(this, booking_id, "released");
  },
};
