import type { PetType } from "../config/defaults";
import { BOOKING_TUNING } from "../config/tuning";
import { mayTryCommand, type Actor, type User } from "./access";
import {
  BOOKING_STATUSES,
  decide as move,
  eventOf,
  type BookingStatus,
  type PaymentStatus,
} from "./booking-lifecycle";
import {
  accept,
  reject,
  unreachable,
  type Decision,
  type EventDraft,
  withArticle,
  cap,
} from "./decider";
import type { LatLng } from "./geo";
import type { PriceEstimate } from "./pricing";

export { BOOKING_STATUSES, type BookingStatus, type PaymentStatus };

/**
 * The booking aggregate's rules: what each command changes and publishes. Which status a command
 * may leave from is the state machine of domain/booking-lifecycle.ts; who may issue it is
 * domain/access.ts.
 */
export interface Booking {
  _id: string;
  booking_number: string;
  owner_id: string;
  runner_id: string | null;
  status: BookingStatus;
  pet_type: PetType;
  pet_name: string;
  notes: string | null;
  pickup: LatLng;
  dropoff: LatLng;
  distance_km: number;
  estimated_price_cents: number;
  currency: string;
  payment_status: PaymentStatus;
  final_price_cents: number | null;
  accepted_at: Date | null;
  picked_up_at: Date | null;
  delivered_at: Date | null;
  confirmed_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  cancelled_by: string | null;
  cancel_reason: string | null;
  /** When a delivered booking the owner has not confirmed is confirmed for them. */
  auto_confirm_at: Date | null;
  /** When the booking expires unless its escrow is held by then (null: made before deadlines). */
  payment_due_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface BookingRequest {
  pet_type: PetType;
  pet_name: string;
  pickup: LatLng;
  dropoff: LatLng;
  notes?: string;
}

export type BookingCommand =
  | {
      type: "request";
      id: string;
      booking_number: string;
      owner: User;
      request: BookingRequest;
      price: PriceEstimate;
      at: Date;
      paymentTimeoutMs: number;
    }
  | { type: "accept" | "pickup" | "depart" | "confirm" | "expire"; actor: Actor; at: Date }
  | { type: "deliver"; actor: Actor; at: Date; autoConfirmAfterMs: number }
  | { type: "complete"; actor: Actor; at: Date; final_price_cents: number }
  | { type: "cancel"; actor: Actor; at: Date; reason: string }
  /** What the escrow saga reports (payment events), kept on the booking for accept to check. */
  | { type: "record_payment"; payment_status: "held" | "failed" | "refunded"; at: Date };

/** How a refusal reads: "A delivered booking cannot be picked up". */
const DONE: Record<Exclude<BookingCommand["type"], "request" | "record_payment">, string> = {
  accept: "accepted",
  pickup: "picked up",
  depart: "departed",
  deliver: "delivered",
  confirm: "confirmed",
  complete: "completed",
  cancel: "cancelled",
  expire: "expired",
};

/** The timestamp field each status sets. */
const STAMP: Partial<Record<BookingStatus, keyof Booking>> = {
  accepted: "accepted_at",
  picked_up: "picked_up_at",
  delivered: "delivered_at",
  confirmed: "confirmed_at",
  completed: "completed_at",
  cancelled: "cancelled_at",
};

/** The payment statuses each report may overwrite (a late report never undoes a later one). */
const PAYMENT_FROM: Record<
  Extract<BookingCommand, { type: "record_payment" }>["payment_status"],
  readonly PaymentStatus[]
> = {
  held: ["unpaid", "pending", "failed"],
  failed: ["unpaid", "pending", "held"],
  refunded: ["unpaid", "pending", "held", "failed", "released", "refunded"],
};

export function decide(booking: Booking | null, command: BookingCommand): Decision<Booking> {
  switch (command.type) {
    case "request":
      return booking ? reject("conflict", "The booking exists already") : requested(command);
    case "record_payment":
      return recordPayment(booking, command);
    case "accept":
    case "pickup":
    case "depart":
    case "deliver":
    case "confirm":
    case "complete":
    case "cancel":
    case "expire":
      return transition(booking, command);
    default:
      return unreachable(command);
  }
}

function requested(command: Extract<BookingCommand, { type: "request" }>): Decision<Booking> {
  const { id, booking_number, owner, request, price, at, paymentTimeoutMs } = command;
  const booking: Booking = {
    _id: id,
    booking_number,
    owner_id: owner.sub,
    runner_id: null,
    status: "requested",
    pet_type: request.pet_type,
    pet_name: request.pet_name,
    notes: request.notes ?? null,
    pickup: request.pickup,
    dropoff: request.dropoff,
    distance_km: price.distanceKm,
    estimated_price_cents: price.amountCents,
    currency: price.currency,
    payment_status: "unpaid",
    final_price_cents: null,
    accepted_at: null,
    picked_up_at: null,
    delivered_at: null,
    confirmed_at: null,
    completed_at: null,
    cancelled_at: null,
    cancelled_by: null,
    cancel_reason: null,
    auto_confirm_at: null,
    payment_due_at: new Date(at.getTime() + paymentTimeoutMs),
    created_at: at,
    updated_at: at,
  };
  return accept<Booking>({}, booking, [
    {
      type: "booking.requested",
      data: {
        booking_id: id,
        booking_number,
        owner_id: owner.sub,
        pet_type: request.pet_type,
        pet_name: request.pet_name,
        pickup_lat: request.pickup.lat,
        pickup_lng: request.pickup.lng,
        dropoff_lat: request.dropoff.lat,
        dropoff_lng: request.dropoff.lng,
        estimated_price_cents: price.amountCents,
        currency: price.currency,
        occurred_at: at.toISOString(),
      },
    },
  ]);
}

function recordPayment(
  booking: Booking | null,
  command: Extract<BookingCommand, { type: "record_payment" }>,
): Decision<Booking> {
  if (!booking) return reject("not_found", "Booking not found");
  const { payment_status, at } = command;
  const stale =
    !PAYMENT_FROM[payment_status].includes(booking.payment_status) ||
    (payment_status === "held" && holdReleasedBecause(booking.status) !== null);
  if (stale) {
    return reject(
      "conflict",
      `${cap(withArticle(booking.payment_status))} payment is not ${payment_status} now`,
    );
  }
  return accept<Booking>(
    { status: booking.status, payment_status: booking.payment_status },
    { payment_status, updated_at: at },
  );
}

type Transition = Exclude<BookingCommand, { type: "request" | "record_payment" }>;

function transition(booking: Booking | null, command: Transition): Decision<Booking> {
  if (!booking || !mayTryCommand(command.type, command.actor, booking)) {
    return reject("not_found", "Booking not found");
  }
  const moved = move(booking, command);
  if (!moved.ok) {
    switch (moved.reason) {
      case "forbidden":
        return reject("forbidden", "Not allowed for this booking");
      case "illegal_transition":
        return reject(
          "conflict",
          `${cap(withArticle(moved.from))} booking cannot be ${DONE[command.type]}`,
          {
            status: moved.from,
          },
        );
      case "not_payable":
        return reject("conflict", "The escrow for this booking is not held yet", {
          payment_status: booking.payment_status,
        });
      case "paid":
        return reject("conflict", "The escrow for this booking is held: it waits for a runner", {
          payment_status: booking.payment_status,
        });
      default:
        return unreachable(moved.reason);
    }
  }
  // A retried command that took effect already answers with the booking as it is.
  if ("repeat" in moved) return accept<Booking>({ status: moved.from }, {});
  const { at } = command;
  const changes: Partial<Booking> = {
    status: moved.to,
    runner_id: moved.runner_id,
    updated_at: at,
  };
  const stamp = STAMP[moved.to];
  if (stamp) Object.assign(changes, { [stamp]: at });
  switch (command.type) {
    case "deliver":
      changes.auto_confirm_at = new Date(at.getTime() + command.autoConfirmAfterMs);
      break;
    case "confirm":
      changes.auto_confirm_at = null;
      break;
    case "cancel":
      changes.cancelled_by = command.actor.sub;
      changes.cancel_reason = command.reason;
      break;
    case "complete":
      changes.final_price_cents = command.final_price_cents;
      changes.payment_status = "released";
      break;
  }
  // Accepting relies on more than the status: no runner yet, and the escrow held; expiring, on
  // the escrow not held (a hold recorded meanwhile wins over the deadline).
  const expect: Partial<Booking> =
    command.type === "accept"
      ? { status: moved.from, runner_id: null, payment_status: "held" }
      : command.type === "expire"
        ? { status: moved.from, payment_status: booking.payment_status }
        : { status: moved.from };
  return accept<Booking>(expect, changes, [
    transitionEvent(booking, { ...booking, ...changes }, command),
  ]);
}

/** The catalog event of a transition, from the booking before (`was`) and after it (`is`). */
function transitionEvent(was: Booking, is: Booking, command: Transition): EventDraft {
  const at = command.at.toISOString();
  const base = { booking_id: is._id, booking_number: is.booking_number, occurred_at: at };
  const parties = { runner_id: is.runner_id ?? "", owner_id: is.owner_id };
  const type = eventOf(is.status);
  switch (type) {
    case "booking.accepted":
      return { type, data: { ...base, ...parties } };
    case "booking.pet_picked_up":
      return { type, data: { ...base, ...parties, picked_up_at: at } };
    case "booking.delivery_in_progress":
      return {
        type,
        data: { ...base, ...parties, picked_up_at: (was.picked_up_at ?? command.at).toISOString() },
      };
    case "booking.delivered":
      return { type, data: { ...base, ...parties, delivered_at: at } };
    case "booking.delivery_confirmed":
      return {
        type,
        data: { ...base, ...parties, delivered_at: (was.delivered_at ?? command.at).toISOString() },
      };
    case "booking.completed":
      return {
        type,
        data: {
          ...base,
          ...parties,
          final_price_cents: is.final_price_cents ?? is.estimated_price_cents,
          currency: is.currency,
        },
      };
    case "booking.cancelled":
      return {
        type,
        data: {
          ...base,
          owner_id: is.owner_id,
          ...(is.runner_id ? { runner_id: is.runner_id } : {}),
          cancelled_by: is.cancelled_by ?? "",
          reason: is.cancel_reason ?? "",
        },
      };
    case "booking.expired":
      return {
        type,
        data: {
          ...base,
          owner_id: is.owner_id,
          payment_due_at: (is.payment_due_at ?? command.at).toISOString(),
        },
      };
    case "booking.requested":
      throw new Error("booking.requested is not a transition");
    default:
      return unreachable(type);
  }
}

/**
 * Why money held for a booking in this status is released, or null while it may be held: a
 * booking called off, or expired unpaid, releases whatever the escrow holds for it or comes to
 * hold later (a payment that succeeded at the moment it ended).
 */
export function holdReleasedBecause(status: BookingStatus): string | null {
  switch (status) {
    case "cancelled":
      return "booking cancelled";
    case "expired":
      return "booking expired unpaid";
    default:
      return null;
  }
}

/** A runner on one of these has its hands full: it may not accept another booking. */
const ACTIVE: readonly BookingStatus[] = ["accepted", "picked_up", "in_transit"];

/** The runner's hands are free again once the pet is handed over or the trip is off. */
export const freesRunner = (status: BookingStatus) =>
  status === "delivered" || status === "cancelled";

/**
 * Whether a runner's one active-booking slot, taken for `holder` `heldForMs` ago, may be taken
 * over for another accept: the booking it was taken for is over, or belongs to someone else, or
 * its accept never finished (still `requested` after the grace period).
 */
export function slotIsFree(
  runnerId: string,
  holder: Pick<Booking, "status" | "runner_id"> | null,
  heldForMs: number,
): boolean {
  return (
    !holder ||
    !["requested", ...ACTIVE].includes(holder.status) ||
    (holder.runner_id !== null && holder.runner_id !== runnerId) ||
    (holder.status === "requested" && heldForMs >= BOOKING_TUNING.lockGraceMs)
  );
}
