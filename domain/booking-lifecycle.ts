import type { AuthUser } from "../lib/auth";

/**
 * The booking state machine, decide/evolve style: `decide` says whether a command is allowed in
 * the booking's current state and what it changes; it has no side effects. The booking service
 * persists the result with a write guarded on the status it was decided from.
 *
 * requested → accepted → picked_up → in_transit → delivered → confirmed → completed,
 * and cancelled from requested or accepted.
 */
export type BookingStatus =
  | "requested"
  | "accepted"
  | "picked_up"
  | "in_transit"
  | "delivered"
  | "confirmed"
  | "completed"
  | "cancelled";

export type PaymentStatus = "unpaid" | "pending" | "held" | "failed" | "released" | "refunded";

export interface BookingState {
  status: BookingStatus;
  owner_id: string;
  runner_id: string | null;
  payment_status: PaymentStatus;
}

/** Who acts: a user through the API, or the system (auto-confirm, the escrow saga). */
export type Actor = AuthUser | { role: "system"; sub: "system" };

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

const isAdmin = (actor: Actor) => actor.role === "admin";
const isOwner = (actor: Actor, booking: BookingState) =>
  actor.role === "owner" && actor.sub === booking.owner_id;
const isItsRunner = (actor: Actor, booking: BookingState) =>
  actor.role === "runner" && booking.runner_id !== null && actor.sub === booking.runner_id;

/** Whether the actor may issue this command to this booking at all, whatever its state. */
function permitted(command: BookingCommand, booking: BookingState): boolean {
  const { actor } = command;
  switch (command.type) {
    case "accept":
      return actor.role === "runner";
    case "pickup":
    case "depart":
    case "deliver":
      return isItsRunner(actor, booking);
    case "confirm":
      return isOwner(actor, booking) || actor.role === "system" || isAdmin(actor);
    case "complete":
      return actor.role === "system";
    case "cancel":
      return (
        isOwner(actor, booking) ||
        isItsRunner(actor, booking) ||
        isAdmin(actor) ||
        actor.role === "system"
      );
  }
}

export function decide(booking: BookingState, command: BookingCommand): Decision {
  const from = booking.status;
  if (!permitted(command, booking)) return { ok: false, reason: "forbidden", from };
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
