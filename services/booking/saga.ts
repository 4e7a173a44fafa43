import { SYSTEM } from "../../domain/access";
import { decide, type BookingCommand } from "../../domain/booking";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import { bookingsOf, type BookingThis } from "./context";
import { transition } from "./transitions";

/** Lost races are tried again on what is stored then; a stale report changes nothing. */
const RETRIES = 3;

/** What the escrow saga reports, kept on the booking: a runner may accept only once it is held. */
function recordPayment(
  service: BookingThis,
  bookingId: string,
  payment_status: Extract<BookingCommand, { type: "record_payment" }>["payment_status"],
) {
  return bookingsOf(service).execute(
    bookingId,
    decide,
    () => ({ type: "record_payment" as const, payment_status, at: new Date() }),
    RETRIES,
  );
}

/** The payment service's events (group service-booking-payments). */
export const paymentEvents: EventHandlers<BookingThis> = {
  async "payment.escrow_held"(event) {
    await recordPayment(this, event.data.booking_id, "held");
  },
  async "payment.failed"(event) {
    await recordPayment(this, event.data.booking_id, "failed");
  },
  async "payment.escrow_refunded"(event) {
    await recordPayment(this, event.data.booking_id, "refunded");
  },
  /** The escrow was captured and split: the booking completes with its final price. */
  async "payment.escrow_released"(event) {
    const { booking_id, runner_payout_cents, platform_fee_cents } = event.data;
    const completed = await transition(this, booking_id, {
      type: "complete",
      actor: SYSTEM,
      at: new Date(),
      final_price_cents: runner_payout_cents + platform_fee_cents,
    });
    // Completed already: a repeat. Anything else (no such booking) is retried, then dead-lettered.
    if (!completed.ok && completed.rejection.kind !== "conflict") {
      throw new Error(`completing ${booking_id}: ${completed.rejection.message}`);
    }
  },
};

/** Confirms, for their owners, delivered bookings whose confirmation window has passed. */
export async function autoConfirmDue(this: BookingThis): Promise<number> {
  const due = await this.models.bookings
    .find({ status: "delivered", auto_confirm_at: { $lte: new Date() } }, { _id: 1 })
    .limit(100)
    .lean<{ _id: string }[]>();
  let confirmed = 0;
  for (const { _id } of due) {
    // A conflict: another instance, or the owner, got there first.
    const outcome = await transition(this, _id, { type: "confirm", actor: SYSTEM, at: new Date() });
    if (outcome.ok) confirmed++;
  }
  return confirmed;
}
