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

/** Bookings a sweep moves at most (one read). */
const PAGE = 100;

/** A due booking's place in a sweep's order: its due time, then its id. */
interface Place {
  due: Date;
  id: string;
}

type DueField = "auto_confirm_at" | "payment_due_at";

/**
 * Where the last sweep of each kind stopped, per service instance. A sweep that read a full page
 * leaves the next one to start behind it, so a page of bookings that cannot be moved (each
 * failing every time) never keeps the ones after it waiting; a sweep that reaches the end leaves
 * the next to start at the front, where those are tried again.
 */
const stops = new WeakMap<BookingThis, Partial<Record<DueField, Place>>>();

/**
 * Moves the bookings `filter` finds due, oldest due first, a page per run from where the last
 * run stopped: one that cannot be written is logged and never keeps the others from moving; a
 * conflict means another instance, the owner or the escrow got there first. One read per run,
 * as before: on FerretDB every query with this filter reads the collection.
 */
async function moveDue(
  service: BookingThis,
  due: DueField,
  filter: Record<string, unknown>,
  type: "confirm" | "expire",
): Promise<number> {
  const stopped = stops.get(service) ?? {};
  stops.set(service, stopped);
  const after = stopped[due];
  const behind = after && {
    $or: [{ [due]: { $gt: after.due } }, { [due]: after.due, _id: { $gt: after.id } }],
  };
  const page = await service.models.bookings
    .find(behind ? { $and: [filter, behind] } : filter, { _id: 1, [due]: 1 })
    .sort({ [due]: 1, _id: 1 })
    .limit(PAGE)
    .lean<({ _id: string } & Record<DueField, Date>)[]>();
  const last = page.at(-1);
  stopped[due] = page.length === PAGE && last ? { due: last[due], id: last._id } : undefined;
  let moved = 0;
  for (const { _id } of page) {
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
  return moveDue(
    this,
    "auto_confirm_at",
    { status: "delivered", auto_confirm_at: { $lte: new Date() } },
    "confirm",
  );
}

/**
 * Expires requested bookings whose escrow was not held by their payment deadline
 * (`booking.expired`: the owner is told, and a hold that still comes is released).
 */
export function expireUnpaid(this: BookingThis): Promise<number> {
  return moveDue(
    this,
    "payment_due_at",
    { status: "requested", payment_status: { $ne: "held" }, payment_due_at: { $lte: new Date() } },
    "expire",
  );
}
