import { mayIssue, type Actor } from "./access";

export type { Actor };

/**
 * The booking state machine: which status each command leaves from and moves to, and who may
 * issue it (domain/access.ts). `decide` says whether a move is allowed; domain/booking.ts builds
 * on it what each move changes and publishes.
 *
 * requested → accepted → picked_up → in_transit → delivered → confirmed → completed,
 * cancelled from requested or accepted, and expired from requested while the escrow is not
 * held by the payment deadline.
 */
export const BOOKING_STATUSES = [
  "requested",
  "accepted",
  "picked_up",
  "in_transit",
  "delivered",
  "confirmed",
  "completed",
  "cancelled",
  "expired",
] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

export type PaymentStatus = "unpaid" | "pending" | "held" | "failed" | "released" | "refunded";

export interface BookingState {
  status: BookingStatus;
  owner_id: string;
  runner_id: string | null;
  payment_status: PaymentStatus;
}

export type BookingCommand =
  | { type: "accept"; actor: Actor }
  | { type: "pickup"; actor: Actor }
  | { type: "depart"; actor: Actor }
  | { type: "deliver"; actor: Actor }
  | { type: "confirm"; actor: Actor }
  | { type: "complete"; actor: Actor }
  | { type: "cancel"; actor: Actor }
  | { type: "expire"; actor: Actor };

export type Rejection =
  /** The actor may not do this to this booking at all (403/404). */
  | "forbidden"
  /** Not in this state (409). */
  | "illegal_transition"
  /** A runner may accept only once the escrow is held (409). */
  | "not_payable"
  /** An escrow that is held waits for a runner: the booking is paid for, it does not expire (409). */
  | "paid";

export type Decision =
  | { ok: true; from: BookingStatus; to: BookingStatus; runner_id: string | null }
  /** The command took effect already (an app retrying after a timeout): nothing to change. */
  | { ok: true; repeat: true; from: BookingStatus }
  | { ok: false; reason: Rejection; from: BookingStatus };

/** The one state each command leaves from (cancel has two). */
const FROM: Record<BookingCommand["type"], readonly BookingStatus[]> = {
  accept: ["requested"],
  pickup: ["accepted"],
  depart: ["picked_up"],
  deliver: ["in_transit"],
  confirm: ["delivered"],
  complete: ["confirmed"],
  cancel: ["requested", "accepted"],
  expire: ["requested"],
};

const TO: Record<BookingCommand["type"], BookingStatus> = {
  accept: "accepted",
  pickup: "picked_up",
  depart: "in_transit",
  deliver: "delivered",
  confirm: "confirmed",
  complete: "completed",
  cancel: "cancelled",
  expire: "expired",
};

/** The road a booking takes when all goes well, in order: the statuses up to `completed`. */
const ROAD: readonly BookingStatus[] = BOOKING_STATUSES.slice(
  0,
  BOOKING_STATUSES.indexOf("completed") + 1,
);

/**
 * Whether the booking is where this command would take it, or further down the road (an owner
 * confirming a booking that completed meanwhile): a retry of a command that took effect.
 * Accepting is a repeat only for the runner who accepted.
 */
function tookEffect(booking: BookingState, command: BookingCommand): boolean {
  const target = TO[command.type];
  if (command.type === "accept" && booking.runner_id !== command.actor.sub) return false;
  const reached = ROAD.indexOf(booking.status);
  return reached >= 0 && ROAD.includes(target)
    ? reached >= ROAD.indexOf(target)
    : booking.status === target;
}

export function decide(booking: BookingState, command: BookingCommand): Decision {
  const from = booking.status;
  if (!mayIssue(command.type, command.actor, booking))
    return { ok: false, reason: "forbidden", from };
  if (tookEffect(booking, command)) return { ok: true, repeat: true, from };
  if (!FROM[command.type].includes(from)) return { ok: false, reason: "illegal_transition", from };
  if (command.type === "accept" && booking.payment_status !== "held") {
    return { ok: false, reason: "not_payable", from };
  }
  if (command.type === "expire" && booking.payment_status === "held") {
    return { ok: false, reason: "paid", from };
  }
  const runner_id = command.type === "accept" ? command.actor.sub : booking.runner_id;
  return { ok: true, from, to: TO[command.type], runner_id };
}

/** The catalog event each transition publishes. */
export function eventOf(to: BookingStatus) {
  switch (to) {
    case "accepted":
      return "booking.accepted" as const;
    case "picked_up":
      return "booking.pet_picked_up" as const;
    case "in_transit":
      return "booking.delivery_in_progress" as const;
    case "delivered":
      return "booking.delivered" as const;
    case "confirmed":
      return "booking.delivery_confirmed" as const;
    case "completed":
      return "booking.completed" as const;
    case "cancelled":
      return "booking.cancelled" as const;
    case "expired":
      return "booking.expired" as const;
    case "requested":
      return "booking.requested" as const;
  }
}
