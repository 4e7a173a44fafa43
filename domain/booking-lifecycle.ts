import { mayIssue, type Actor } from "./access";

export type { Actor };

/**
 * The booking state machine: which status each command leaves from and moves to, and who may
 * issue it (domain/access.ts). `decide` says whether a move is allowed; domain/booking.ts builds
 * on it what each move changes and publishes.
 *
 * requested → accepted → picked_up → in_transit → delivered → confirmed → completed,
 * and cancelled from requested or accepted.
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
  | { type: "cancel"; actor: Actor };

export type Rejection =
  /** The actor may not do this to this booking at all (403/404). */
  | "forbidden"
  /** Not in this state (409). */
  | "illegal_transition"
  /** A runner may accept only once the escrow is held (409). */
  | "not_payable";

export type Decision =
  | { ok: true; from: BookingStatus; to: BookingStatus; runner_id: string | null }
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
};

const TO: Record<BookingCommand["type"], BookingStatus> = {
  accept: "accepted",
  pickup: "picked_up",
  depart: "in_transit",
  deliver: "delivered",
  confirm: "confirmed",
  complete: "completed",
  cancel: "cancelled",
};

export function decide(booking: BookingState, command: BookingCommand): Decision {
  const from = booking.status;
  if (!mayIssue(command.type, command.actor, booking))
    return { ok: false, reason: "forbidden", from };
  if (!FROM[command.type].includes(from)) return { ok: false, reason: "illegal_transition", from };
  if (command.type === "accept" && booking.payment_status !== "held") {
    return { ok: false, reason: "not_payable", from };
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
    case "requested":
      return "booking.requested" as const;
  }
}
