import { SYSTEM } from "../../domain/access";
import type { MoveName } from "../../domain/booking";
import { CARD_NOT_CHARGED } from "../../domain/schedule";
import { runtimeOf } from "../../lib/runtime";
import type { BookingThis } from "./models";

/**
 * The booking's deadlines: a delivered booking its owner did not confirm in time is confirmed
 * for them, a requested one whose escrow is not held by its payment deadline expires, and a held
 * one no runner accepted in time is cancelled (its hold released).
 */

/** Bookings a sweep moves at most (one read). */
const PAGE = 100;

/** A due booking's place in a sweep's order: its due time, then its id. */
interface Place {
  due: Date;
  id: string;
}

type DueField = "auto_confirm_at" | "payment_due_at" | "accept_due_at" | "pay_by";

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
  type: Extract<MoveName, "confirm" | "expire" | "cancel" | "cancel_uncharged">,
  reason?: string,
): Promise<number> {
  const { autoConfirmAfterMs } = runtimeOf(service.broker).config;
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
      const at = new Date();
      const outcome = await service.move(_id, {
        type,
        actor: SYSTEM,
        at,
        autoConfirmAfterMs,
        ...(reason ? { reason } : {}),
      });
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

/** Why a held booking no runner took is called off: the owner reads it in the notification. */
export const NO_RUNNER_ACCEPTED = "no runner accepted the booking in time";

/**
 * Cancels held bookings no runner accepted by their deadline (ACCEPT_TIMEOUT after the hold):
 * `booking.cancelled` with the reason, and the hold is released as for any cancellation. An
 * accept at the same moment wins or loses on the booking's one guarded write.
 */
export function cancelUnaccepted(this: BookingThis): Promise<number> {
  return moveDue(
    this,
    "accept_due_at",
    { status: "requested", payment_status: "held", accept_due_at: { $lte: new Date() } },
    "cancel",
    NO_RUNNER_ACCEPTED,
  );
}

/**
 * Cancels scheduled bookings whose off-session hold failed and that their owner did not pay for
 * by the deadline given (`pay_by`): nothing is held, and the owner reads why.
 */
export function cancelUncharged(this: BookingThis): Promise<number> {
  return moveDue(
    this,
    "pay_by",
    { status: "requested", payment_status: "failed", pay_by: { $lte: new Date() } },
    "cancel_uncharged",
    CARD_NOT_CHARGED,
  );
}

/** Held bookings no runner took, and scheduled ones not paid for, cancelled: one sweep. */
export async function cancelOverdue(this: BookingThis): Promise<number> {
  return (await cancelUnaccepted.call(this)) + (await cancelUncharged.call(this));
}
