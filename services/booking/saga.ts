import { SYSTEM } from "../../domain/access";
import { decide, holdReleasedBecause, type BookingCommand } from "../../domain/booking";
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
    const { booking_id } = event.data;
    const recorded = await recordPayment(this, booking_id, "held");
    if (recorded.ok) return;
    // Held for a booking that ended meanwhile (it expired, or was cancelled, while the card was
    // being authorised): the hold is released. A release asked twice happens once.
    const booking = await bookingsOf(this).load(booking_id);
    const reason = booking && holdReleasedBecause(booking.status);
    if (reason) await this.broker.call("payment.release", { booking_id, reason });
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

/**
 * Moves every booking `filter` finds due (a page per run): one that cannot be written is logged
 * and never keeps the others from moving; a conflict means another instance, the owner or the
 * escrow got there first.
 */
async function moveDue(
  service: BookingThis,
  filter: Record<string, unknown>,
  type: "confirm" | "expire",
): Promise<number> {
  const due = await service.models.bookings
    .find(filter, { _id: 1 })
    .limit(100)
    .lean<{ _id: string }[]>();
  let moved = 0;
  for (const { _id } of due) {
    try {
      const outcome = await transition(service, _id, { type, actor: SYSTEM, at: new Date() });
      if (outcome.ok) moved++;
    } catch (error) {
      service.logger.warn(`${type} of ${_id} failed: ${(error as Error).message}`);
    }
  }
  return moved;
}

/** Confirms, for their owners, delivered bookings whose confirmation window has passed. */
export function autoConfirmDue(this: BookingThis): Promise<number> {
  return moveDue(this, { status: "delivered", auto_confirm_at: { $lte: new Date() } }, "confirm");
}

/**
 * Expires requested bookings whose escrow was not held by their payment deadline
 * (`booking.expired`: the owner is told, and a hold that still comes is released).
 */
export function expireUnpaid(this: BookingThis): Promise<number> {
  return moveDue(
    this,
    { status: "requested", payment_status: { $ne: "held" }, payment_due_at: { $lte: new Date() } },
    "expire",
  );
}
