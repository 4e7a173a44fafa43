import type { PetType } from "../config/defaults";
import { BOOKING_TUNING } from "../config/tuning";
import type { EventType } from "../events/catalog";
import {
  isAdmin,
  isItsRunner,
  isOwner,
  maySeeBooking,
  type Actor,
  type Parties,
  type Role,
  type User,
} from "./access";
import { accept, reject, type Decision, type EventDraft, withArticle, cap } from "./decider";
import {
  refundOf,
  refundProblem,
  resolvedAs,
  type Dispute,
  type DisputeReport,
  type DisputeResolution,
} from "./disputes";
import type { LatLng } from "./geo";
import {
  noShowFee,
  noShowTooEarly,
  returnCharge,
  type NoShow,
  type NoShowOutcome,
  type NoShowPlace,
  type NoShowRules,
} from "./no-show";
import { needsFields, type BookingPet, type PetNeeds } from "./pets";
import type { PriceEstimate } from "./pricing";
import { acceptDueAt } from "./schedule";

/**
 * The booking aggregate: its statuses, its moves (one table, `MOVES`) and the rules that drive
 * them (`decide`).
 *
 * requested → accepted → picked_up → in_transit → delivered → confirmed → completed,
 * cancelled from requested or accepted, and expired from requested while the escrow is not
 * held by the payment deadline. A delivered booking its owner disputes instead of confirming is
 * `disputed` until an admin resolves it (then confirmed, and completed or `refunded`).
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
  "disputed",
  "refunded",
  "returning",
  "returned",
] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

export type PaymentStatus =
  | "unpaid"
  | "pending"
  | "held"
  | "failed"
  | "released"
  | "refunded"
  /** A scheduled booking's card is saved, to be held before the pickup (domain/schedule.ts). */
  | "card_saved";

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
  /**
   * When a held booking no runner accepted is cancelled and its hold released (set when the hold
   * is recorded; absent on bookings held before it existed).
   */
  accept_due_at?: Date | null;
  /** When the pet is to be picked up (null or absent: as soon as a runner accepts). */
  pickup_at?: Date | null;
  /**
   * A scheduled booking whose off-session hold failed: unless paid by then, it is cancelled
   * (domain/schedule.ts `payBy`).
   */
  pay_by?: Date | null;
  /** The pets, as their profiles were when booked (absent or empty: booked without profiles). */
  pets?: BookingPet[];
  /** What carrying them takes (absent on bookings made before it). */
  needs?: PetNeeds;
  /** The recipient's PIN: the owner sees it, the runner never does (absent: made before PINs). */
  handover_pin?: string | null;
  /** Wrong PINs given since the last right one or unlock. */
  pin_tries?: number;
  /** Set when pin_tries reached HANDOVER_PIN_TRIES: no delivery until an admin unlocks it. */
  handover_locked_at?: Date | null;
  pickup_proof?: HandoverProof | null;
  dropoff_proof?: HandoverProof | null;
  /** The owner's report of a problem at delivery, and its resolution (absent: never disputed). */
  dispute?: Dispute | null;
  /** When its runner reported its arrival at the pickup, and at the drop-off (domain/no-show.ts). */
  arrived_at_pickup?: Date | null;
  arrived_at_dropoff?: Date | null;
  /** The runner's declaration that nobody came (absent: none). */
  no_show?: NoShow | null;
  /** A pet brought back to the pickup after a no-show at the drop-off: when, and the proof. */
  returned_at?: Date | null;
  return_proof?: HandoverProof | null;
  created_at: Date;
  updated_at: Date;
}

/** What shows a handover happened: the photo taken, when, and where the runner's track was. */
export interface HandoverProof {
  photo_id: string;
  at: Date;
  /** The track's last fix at that time; null when it had none. */
  position: LatLng | null;
  /** Drop-off only: the recipient's PIN matched. */
  pin_verified?: boolean;
}

export interface BookingRequest {
  pet_type: PetType;
  pet_name: string;
  pickup: LatLng;
  dropoff: LatLng;
  notes?: string;
  /** When the pet is to be picked up; absent: now. */
  pickup_at?: Date | null;
  /** The owner's pets, resolved from their profiles (empty: booked by type and name alone). */
  pets?: BookingPet[];
  needs?: PetNeeds;
}

/** A move of the table: a command that takes a booking from one status to another. */
interface Move {
  /** The statuses it leaves from. */
  from: readonly BookingStatus[];
  to: BookingStatus;
  /** Who may issue it to this booking at all, whatever its status. */
  may: (actor: Actor, booking: Parties) => boolean;
  /** The roles that may call it through the API (`POST /api/bookings/:id/<move>`); none: Kilat's own. */
  api: readonly Role[];
  /** It takes the caller's free-text reason (`reason` in the body). */
  reason?: true;
  /**
   * It needs proof of the handover (the body's `photo_id`, a photo of this booking its runner
   * took; with `pin`, the recipient's PIN too).
   */
  proof?: "photo" | "photo_and_pin";
  /** How a refusal names it: "A delivered booking cannot be picked up". */
  done: string;
  /** What it sets beside the status, the runner and `updated_at`. */
  stamps?: (command: BookingMove, booking: Booking) => Partial<Booking>;
  /** What it relies on beside the status; the write is guarded on it. */
  relies?: (booking: Booking) => Partial<Booking>;
  /** Refused beside a wrong status or caller: why. */
  refuses?: (booking: Booking, command: BookingMove) => string | null;
  /** It assigns the runner: the runner's one active-booking slot is taken first. */
  assigns?: true;
  /** It takes the owner's report of a problem, or an admin's resolution of one (disputes.ts). */
  dispute?: "report" | "resolution";
  /**
   * Whether the booking shows this very command took effect already (a retry), for a move whose
   * status reached says too little: the same resolution again, not just any.
   */
  repeats?: (booking: Booking, command: BookingMove) => boolean;
  /** Its event, from the booking before (`was`) and after (`is`) it. */
  event: (was: Booking, is: Booking, at: string) => EventDraft<BookingEventType>;
}

type BookingEventType = Extract<EventType, `booking.${string}`>;

export const PHOTO_NEEDED = "A photo of the pet is needed (photo_id)";
export const WRONG_PIN = "The PIN does not match";
export const HANDOVER_LOCKED =
  "The handover is locked after too many wrong PINs: operations will contact you";

/** Bookings made before PINs have none: their handover asks for a photo alone. */
const hasPin = (booking: Booking) => typeof booking.handover_pin === "string";
export const isLocked = (booking: Booking) => Boolean(booking.handover_locked_at);

/** The PIN given matches the booking's, compared in constant time (no timing hint per digit). */
export function pinMatches(booking: Booking, pin: string | undefined): boolean {
  if (!hasPin(booking)) return true;
  const expected = booking.handover_pin ?? "";
  const given = pin ?? "";
  let differs = expected.length ^ given.length;
  for (let i = 0; i < expected.length; i++) {
    differs |= expected.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  }
  return differs === 0;
}

const proofOf = (command: BookingMove): HandoverProof => ({
  photo_id: command.proof?.photo_id ?? "",
  at: command.at,
  position: command.proof?.position ?? null,
});

/** A handover's proof as its event carries it. */
const proofFields = (proof: HandoverProof | null | undefined) =>
  proof
    ? {
        photo_id: proof.photo_id,
        ...(proof.position ? { proof_lat: proof.position.lat, proof_lng: proof.position.lng } : {}),
      }
    : {};

const anyRunner = (actor: Actor) => actor.role === "runner";
const isSystem = (actor: Actor) => actor.role === "system";

export const REPORT_NEEDED = "What went wrong is needed (reason, text)";
export const RESOLUTION_NEEDED = "The outcome is needed (outcome)";

/** The dispute the owner's report opens. */
const opened = (command: BookingMove): Dispute => ({
  reason: command.report?.reason ?? "",
  text: command.report?.text ?? "",
  photo_ids: command.report?.photo_ids ?? [],
  opened_by: command.actor.sub,
  opened_at: command.at,
  outcome: null,
  refund_cents: null,
  note: null,
  resolved_by: null,
  resolved_at: null,
});

/** The dispute with an admin's decision: what goes back to the owner follows from the outcome. */
const resolved = (booking: Booking, command: BookingMove): Dispute => {
  const resolution = command.resolution ?? { outcome: "release" };
  return {
    ...(booking.dispute ?? opened(command)),
    outcome: resolution.outcome,
    refund_cents: refundOf(resolution, booking.estimated_price_cents),
    note: resolution.note ?? null,
    resolved_by: command.actor.sub,
    resolved_at: command.at,
  };
};

/** Every booking event names the booking; once it has them, its owner and runner. */
const about = (is: Booking, at: string) => ({
  booking_id: is._id,
  booking_number: is.booking_number,
  owner_id: is.owner_id,
  occurred_at: at,
});
const withRunner = (is: Booking, at: string) => ({
  ...about(is, at),
  runner_id: is.runner_id ?? "",
});

export const NO_SHOW_AT_PICKUP = "no-show at pickup";

/** booking.runner_arrived: the runner is at the pickup or the drop-off. */
const arrived = (is: Booking, at: string, where: "pickup" | "dropoff") =>
  ({
    type: "booking.runner_arrived",
    data: { ...withRunner(is, at), pet_name: is.pet_name, where, arrived_at: at },
  }) as const;

/** The no-show a declaration records: where, what it led to, the fee captured now. */
function declared(command: BookingMove, booking: Booking, outcome: NoShowOutcome): NoShow {
  const atPickup = outcome === "cancelled";
  return {
    where: atPickup ? "pickup" : "dropoff",
    outcome,
    declared_at: command.at,
    reason: command.reason ?? null,
    photo_id: command.proof?.photo_id ?? null,
    fee_cents: atPickup
      ? noShowFee(command.noShow?.feeCents ?? 0, booking.estimated_price_cents)
      : 0,
  };
}

/**
 * When the wait before a no-show starts at `where`: the runner's arrival, or at the pickup the
 * booking's `pickup_at` when that is later (a runner early for a trip booked ahead waits for the
 * time the owner chose first). Null: the runner has not reported its arrival there.
 */
export function noShowWaitFrom(booking: Booking, where: NoShowPlace): Date | null {
  const arrived = where === "pickup" ? booking.arrived_at_pickup : booking.arrived_at_dropoff;
  if (!arrived) return null;
  const due = where === "pickup" ? booking.pickup_at : null;
  return due && due > arrived ? due : arrived;
}

/**
 * The earliest a photo may have been taken to prove `move` (null: any of the booking's): a
 * handover's photo is taken at that handover, after the step before it — the pickup's once the
 * runner accepted, the drop-off's once the pet was aboard, the hand-back's once nobody came to the
 * drop-off, a no-show's once the runner arrived — so an older photo (the pickup's, offered again
 * at the drop-off or the hand-back) proves nothing.
 */
export function proofTakenFrom(booking: Booking, move: MoveName): Date | null {
  switch (move) {
    case "pickup":
      return booking.accepted_at;
    case "deliver":
      return booking.picked_up_at;
    case "hand_back":
      return booking.no_show?.declared_at ?? null;
    case "no_show_at_pickup":
      return booking.arrived_at_pickup ?? null;
    case "no_show_at_dropoff":
    case "no_show_to_ops":
      return booking.arrived_at_dropoff ?? null;
    default:
      return null;
  }
}

/**
 * How far a photo's time may lie before the step it proves: the upload and the step may be stamped
 * by two instances whose clocks differ a little. A photo offered again from an earlier step is
 * minutes older.
 */
export const PROOF_CLOCK_SLACK_MS = 30_000;

/** Whether a photo taken at `takenAt` may prove `move` (proofTakenFrom, give or take the slack). */
export function takenForThisStep(booking: Booking, move: MoveName, takenAt: Date): boolean {
  const from = proofTakenFrom(booking, move);
  return !from || takenAt.getTime() >= from.getTime() - PROOF_CLOCK_SLACK_MS;
}

/** booking.no_show, from the no-show the booking recorded. */
function noShowEvent(is: Booking, at: string): EventDraft<"booking.no_show"> {
  const noShow = is.no_show;
  const where = noShow?.where ?? "pickup";
  const arrivedAt = where === "pickup" ? is.arrived_at_pickup : is.arrived_at_dropoff;
  return {
    type: "booking.no_show",
    data: {
      ...withRunner(is, at),
      pet_name: is.pet_name,
      where,
      outcome: noShow?.outcome ?? "cancelled",
      fee_cents: noShow?.fee_cents ?? 0,
      currency: is.currency,
      arrived_at: arrivedAt?.toISOString() ?? at,
      ...(noShow?.reason ? { reason: noShow.reason } : {}),
      ...(noShow?.photo_id ? { photo_id: noShow.photo_id } : {}),
    },
  };
}

/** Its runner is at `where` (its tracked position checked by the caller): the wait starts. */
function arrival(where: NoShowPlace, status: "accepted" | "in_transit") {
  const field = where === "pickup" ? "arrived_at_pickup" : "arrived_at_dropoff";
  return {
    from: [status],
    to: status,
    may: isItsRunner,
    api: [],
    done: "marked arrived",
    repeats: (booking: Booking) => Boolean(booking[field]),
    // Reported twice at once, the first stands: the write is guarded on no arrival yet.
    relies: (booking: Booking): Partial<Booking> => ({ [field]: booking[field] ?? null }),
    stamps: (command: BookingMove): Partial<Booking> => ({ [field]: command.at }),
    event: (_was: Booking, is: Booking, at: string) => arrived(is, at, where),
  } satisfies Move;
}

/** What a runner's declaration that nobody came to `where` is, whatever follows from it. */
function declaration(where: NoShowPlace) {
  return {
    may: isItsRunner,
    api: [],
    done: "declared a no-show",
    repeats: (booking: Booking) => booking.no_show?.where === where,
    refuses: (booking: Booking, command: BookingMove) =>
      noShowTooEarly(
        noShowWaitFrom(booking, where),
        command.at,
        command.noShow?.waitMs ?? 0,
        where,
      ),
    event: (_was: Booking, is: Booking, at: string) => noShowEvent(is, at),
  } satisfies Partial<Move>;
}

/** What a cancellation stamps and publishes, whoever calls it off. */
const CANCELLED = {
  stamps: (command) => ({
    cancelled_at: command.at,
    cancelled_by: command.actor.sub,
    cancel_reason: command.reason ?? null,
  }),
  event: (_was, is, at) => ({
    type: "booking.cancelled",
    data: {
      ...about(is, at),
      ...(is.runner_id ? { runner_id: is.runner_id } : {}),
      cancelled_by: is.cancelled_by ?? "",
      reason: is.cancel_reason ?? "",
    },
  }),
} as const satisfies Pick<Move, "stamps" | "event">;

/** The booking's moves: each row is everything one move is. */
export const MOVES = {
  /** A runner takes the booking; 409 if another was faster or the escrow is not held yet. */
  accept: {
    from: ["requested"],
    to: "accepted",
    may: anyRunner,
    api: ["runner"],
    done: "accepted",
    assigns: true,
    stamps: (command) => ({ runner_id: command.actor.sub, accepted_at: command.at }),
    relies: () => ({ runner_id: null, payment_status: "held" }),
    refuses: (booking) =>
      booking.payment_status === "held" ? null : "The escrow for this booking is not held yet",
    event: (_was, is, at) => ({
      type: "booking.accepted",
      data: { ...withRunner(is, at), pet_name: is.pet_name },
    }),
  },
  /** Its runner has the pet, and a photo of it. */
  pickup: {
    from: ["accepted"],
    to: "picked_up",
    may: isItsRunner,
    api: ["runner"],
    proof: "photo",
    done: "picked up",
    refuses: (_booking, command) => (command.proof ? null : PHOTO_NEEDED),
    stamps: (command) => ({
      picked_up_at: command.at,
      pickup_proof: proofOf(command),
    }),
    event: (_was, is, at) => ({
      type: "booking.pet_picked_up",
      data: {
        ...withRunner(is, at),
        pet_name: is.pet_name,
        picked_up_at: at,
        ...proofFields(is.pickup_proof),
      },
    }),
  },
  /** Its runner is on the way. */
  depart: {
    from: ["picked_up"],
    to: "in_transit",
    may: isItsRunner,
    api: ["runner"],
    done: "departed",
    event: (was, is, at) => ({
      type: "booking.delivery_in_progress",
      data: {
        ...withRunner(is, at),
        pet_name: is.pet_name,
        picked_up_at: was.picked_up_at?.toISOString() ?? at,
      },
    }),
  },
  /**
   * Its runner handed the pet over, with a photo and the recipient's PIN; the owner is asked to
   * confirm. A wrong PIN is a command of its own (`wrong_pin`): it counts, and may lock.
   */
  deliver: {
    from: ["in_transit"],
    to: "delivered",
    may: isItsRunner,
    api: ["runner"],
    proof: "photo_and_pin",
    done: "delivered",
    refuses: (booking, command) =>
      isLocked(booking)
        ? HANDOVER_LOCKED
        : !command.proof
          ? PHOTO_NEEDED
          : !pinMatches(booking, command.pin)
            ? WRONG_PIN
            : null,
    stamps: (command, booking) => ({
      delivered_at: command.at,
      auto_confirm_at: new Date(command.at.getTime() + command.autoConfirmAfterMs),
      dropoff_proof: { ...proofOf(command), pin_verified: hasPin(booking) },
      ...(hasPin(booking) ? { pin_tries: 0 } : {}),
    }),
    // Not delivered past a lock made meanwhile (documents from before PINs have no lock field).
    relies: (booking) => (hasPin(booking) ? { handover_locked_at: null } : {}),
    event: (_was, is, at) => ({
      type: "booking.delivered",
      data: {
        ...withRunner(is, at),
        pet_name: is.pet_name,
        delivered_at: at,
        ...proofFields(is.dropoff_proof),
        pin_verified: is.dropoff_proof?.pin_verified ?? false,
      },
    }),
  },
  /** The owner confirms delivery (or Kilat, once the auto-confirm delay passed): the escrow is captured. */
  confirm: {
    from: ["delivered"],
    to: "confirmed",
    may: (actor, booking) => isOwner(actor, booking) || isSystem(actor) || isAdmin(actor),
    api: ["owner", "admin"],
    done: "confirmed",
    stamps: (command) => ({ confirmed_at: command.at, auto_confirm_at: null }),
    event: (was, is, at) => ({
      type: "booking.delivery_confirmed",
      data: { ...withRunner(is, at), delivered_at: was.delivered_at?.toISOString() ?? at },
    }),
  },
  /**
   * Instead of confirming, the owner reports a problem (a reason, what happened, photos) before
   * the auto-confirm: the auto-confirm stops, the escrow stays held, operations are alerted.
   */
  dispute: {
    from: ["delivered"],
    to: "disputed",
    may: isOwner,
    api: ["owner"],
    dispute: "report",
    done: "disputed",
    refuses: (_booking, command) => (command.report ? null : REPORT_NEEDED),
    stamps: (command) => ({ auto_confirm_at: null, dispute: opened(command) }),
    event: (_was, is, at) => ({
      type: "booking.disputed",
      data: {
        ...withRunner(is, at),
        pet_name: is.pet_name,
        reason: is.dispute?.reason ?? "",
        text: is.dispute?.text ?? "",
        photo_ids: is.dispute?.photo_ids ?? [],
      },
    }),
  },
  /**
   * An admin resolves the dispute: the escrow released to the runner, part of it refunded, or all
   * of it. The payment service settles it; the booking then completes, or ends refunded. The same
   * resolution asked again is a repeat; another one is too late.
   */
  resolve: {
    from: ["disputed"],
    to: "confirmed",
    may: isAdmin,
    api: ["admin"],
    dispute: "resolution",
    done: "resolved",
    repeats: (booking, command) =>
      resolvedAs(booking.dispute, command.resolution, booking.estimated_price_cents),
    refuses: (booking, command) => {
      if (!command.resolution) return RESOLUTION_NEEDED;
      const problem = refundProblem(command.resolution, booking.estimated_price_cents);
      return problem && `refund_cents: ${problem}`;
    },
    stamps: (command, booking) => ({ dispute: resolved(booking, command) }),
    event: (_was, is, at) => ({
      type: "booking.dispute_resolved",
      data: {
        ...withRunner(is, at),
        outcome: is.dispute?.outcome ?? "release",
        refund_cents: is.dispute?.refund_cents ?? 0,
        currency: is.currency,
        resolved_by: is.dispute?.resolved_by ?? "",
        ...(is.dispute?.note ? { note: is.dispute.note } : {}),
      },
    }),
  },
  /** The escrow was captured and split: the booking completes with its final price. */
  complete: {
    from: ["confirmed"],
    to: "completed",
    may: isSystem,
    api: [],
    done: "completed",
    stamps: (command, booking) => ({
      completed_at: command.at,
      final_price_cents: command.final_price_cents ?? booking.estimated_price_cents,
      payment_status: "released",
    }),
    event: (_was, is, at) => ({
      type: "booking.completed",
      data: {
        ...withRunner(is, at),
        final_price_cents: is.final_price_cents ?? is.estimated_price_cents,
        currency: is.currency,
      },
    }),
  },
  /** A dispute resolved with a full refund: once its hold is released, the booking ends refunded. */
  refund: {
    from: ["confirmed"],
    to: "refunded",
    may: isSystem,
    api: [],
    done: "refunded",
    refuses: (booking) =>
      booking.dispute?.outcome === "full_refund"
        ? null
        : "Only a dispute resolved with a full refund ends refunded",
    stamps: () => ({ final_price_cents: 0, payment_status: "refunded" }),
    event: (_was, is, at) => ({
      type: "booking.refunded",
      data: {
        ...withRunner(is, at),
        refunded_cents: is.dispute?.refund_cents ?? is.estimated_price_cents,
        currency: is.currency,
      },
    }),
  },
  /** Called off before pickup by the owner, its runner or an admin; the escrow is released. */
  cancel: {
    from: ["requested", "accepted"],
    to: "cancelled",
    may: (actor, booking) =>
      isOwner(actor, booking) || isItsRunner(actor, booking) || isAdmin(actor) || isSystem(actor),
    api: ["owner", "runner", "admin"],
    reason: true,
    done: "cancelled",
    // Cancelled again, it answers as the first; a booking a no-show cancelled was not the caller's.
    repeats: (booking) => booking.status === "cancelled" && !booking.no_show,
    ...CANCELLED,
  },
  /**
   * A scheduled booking whose card could not be charged is not paid by its `pay_by`: Kilat calls
   * it off. A payment recorded meanwhile wins over the deadline, as for `expire`.
   */
  cancel_uncharged: {
    from: ["requested"],
    to: "cancelled",
    may: isSystem,
    api: [],
    reason: true,
    done: "cancelled",
    relies: (booking) => ({ payment_status: booking.payment_status }),
    refuses: (booking) =>
      booking.payment_status === "held"
        ? "The escrow for this booking is held: it waits for a runner"
        : null,
    ...CANCELLED,
  },
  /** The escrow is not held by the payment deadline: the booking ends unpaid. */
  expire: {
    from: ["requested"],
    to: "expired",
    may: isSystem,
    api: [],
    done: "expired",
    // A hold recorded meanwhile wins over the deadline.
    relies: (booking) => ({ payment_status: booking.payment_status }),
    refuses: (booking) =>
      booking.payment_status === "held"
        ? "The escrow for this booking is held: it waits for a runner"
        : null,
    event: (_was, is, at) => ({
      type: "booking.expired",
      data: {
        ...about(is, at),
        pet_name: is.pet_name,
        payment_due_at: (is.payment_due_at ?? new Date(at)).toISOString(),
      },
    }),
  },
  arrive_at_pickup: arrival("pickup", "accepted"),
  arrive_at_dropoff: arrival("dropoff", "in_transit"),
  /**
   * NO_SHOW_WAIT after its arrival nobody came to the pickup: the booking is cancelled, the fee
   * (never more than the hold) captured for the runner, the rest refunded.
   */
  no_show_at_pickup: {
    from: ["accepted"],
    to: "cancelled",
    ...declaration("pickup"),
    stamps: (command, booking) => {
      const no_show = declared(command, booking, "cancelled");
      return {
        cancelled_at: command.at,
        cancelled_by: command.actor.sub,
        cancel_reason: NO_SHOW_AT_PICKUP,
        final_price_cents: no_show.fee_cents,
        no_show,
      };
    },
  },
  /** Nobody came to the drop-off (NO_SHOW_DROPOFF=return): the pet goes back to the pickup. */
  no_show_at_dropoff: {
    from: ["in_transit"],
    to: "returning",
    ...declaration("dropoff"),
    stamps: (command, booking) => ({ no_show: declared(command, booking, "returning") }),
  },
  /**
   * Nobody came to the drop-off (NO_SHOW_DROPOFF=ops): the booking is held as a dispute the
   * runner opened, the escrow stays held, and an admin resolves it as any dispute (`resolve`).
   */
  no_show_to_ops: {
    from: ["in_transit"],
    to: "disputed",
    ...declaration("dropoff"),
    stamps: (command, booking) => ({
      auto_confirm_at: null,
      no_show: declared(command, booking, "ops"),
      dispute: {
        reason: "no_show",
        text: command.reason ?? "Nobody came to the drop-off",
        photo_ids: command.proof ? [command.proof.photo_id] : [],
        opened_by: command.actor.sub,
        opened_at: command.at,
        outcome: null,
        refund_cents: null,
        note: null,
        resolved_by: null,
        resolved_at: null,
      },
    }),
  },
  /**
   * Its runner hands the pet back at the pickup, with a photo (its position checked by the
   * caller): NO_SHOW_RETURN_CHARGE decides what is captured, the fee or the trip's price.
   */
  hand_back: {
    from: ["returning"],
    to: "returned",
    may: isItsRunner,
    api: [],
    proof: "photo",
    done: "handed back",
    refuses: (_booking, command) => (command.proof ? null : PHOTO_NEEDED),
    stamps: (command, booking) => ({
      returned_at: command.at,
      return_proof: proofOf(command),
      final_price_cents: returnCharge(command.noShow, booking.estimated_price_cents),
    }),
    event: (_was, is, at) => ({
      type: "booking.returned",
      data: {
        ...withRunner(is, at),
        pet_name: is.pet_name,
        returned_at: at,
        charge_cents: is.final_price_cents ?? is.estimated_price_cents,
        currency: is.currency,
        ...proofFields(is.return_proof),
      },
    }),
  },
} as const satisfies Record<string, Move>;

export type MoveName = keyof typeof MOVES;
export const MOVE_NAMES = Object.keys(MOVES) as MoveName[];

/** A move as a command: who, when, and what some moves take. */
export interface BookingMove {
  type: MoveName;
  actor: Actor;
  at: Date;
  /** How long a delivered booking waits for its owner before it is confirmed for them. */
  autoConfirmAfterMs: number;
  reason?: string;
  final_price_cents?: number;
  /** The handover's photo (checked to be this booking's, by its runner) and the track's position. */
  proof?: { photo_id: string; position: LatLng | null };
  /** The recipient's PIN, as the runner typed it. */
  pin?: string;
  /** The owner's report of a problem (dispute). */
  report?: DisputeReport;
  /** An admin's resolution of a dispute (resolve). */
  resolution?: DisputeResolution;
  /** A no-show's wait and fee (NO_SHOW_WAIT, NO_SHOW_FEE_CENTS), as configured now. */
  noShow?: NoShowRules;
}

export type BookingCommand =
  | BookingMove
  | {
      type: "request";
      id: string;
      booking_number: string;
      owner: User;
      request: BookingRequest;
      price: PriceEstimate;
      at: Date;
      paymentTimeoutMs: number;
      /** The recipient's PIN, drawn by the caller (a decider draws no randomness). */
      handover_pin: string;
    }
  /** What the escrow saga reports (payment events), kept on the booking for accept to check. */
  | {
      type: "record_payment";
      payment_status: "held" | "failed" | "refunded" | "card_saved" | "released";
      at: Date;
      /** How long a held booking waits for a runner's accept (ACCEPT_TIMEOUT). */
      acceptTimeoutMs?: number;
      /** A scheduled one waits until this long after its pickup (ACCEPT_GRACE_MINUTES). */
      acceptGraceMs?: number;
      /** A failed off-session hold: the owner's deadline to pay. */
      pay_by?: Date;
    }
  /** Its runner gave a PIN that does not match: counted; the `maxTries`th locks the handover. */
  | { type: "wrong_pin"; actor: Actor; at: Date; maxTries: number }
  /** An admin, having checked with the owner and the runner, lets the handover be tried again. */
  | { type: "unlock_handover"; actor: Actor; at: Date };

/** The payment statuses each report may overwrite (a late report never undoes a later one). */
const PAYMENT_FROM: Record<
  Extract<BookingCommand, { type: "record_payment" }>["payment_status"],
  readonly PaymentStatus[]
> = {
  held: ["unpaid", "pending", "failed", "card_saved"],
  failed: ["unpaid", "pending", "held", "card_saved"],
  refunded: ["unpaid", "pending", "held", "failed", "released", "refunded", "card_saved"],
  card_saved: ["unpaid", "pending"],
  // Captured for a booking that does not complete: a no-show's fee, a returned pet's trip.
  released: ["held"],
};

export function decide(booking: Booking | null, command: BookingCommand): Decision<Booking> {
  switch (command.type) {
    case "request":
      return booking ? reject("conflict", "The booking exists already") : requested(command);
    case "record_payment":
      return recordPayment(booking, command);
    case "wrong_pin":
      return wrongPin(booking, command);
    case "unlock_handover":
      return unlockHandover(booking, command);
    default:
      return move(booking, command);
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
    ...(request.pickup_at ? { pickup_at: request.pickup_at } : {}),
    pets: request.pets ?? [],
    ...(request.needs ? { needs: request.needs } : {}),
    handover_pin: command.handover_pin,
    pin_tries: 0,
    handover_locked_at: null,
    pickup_proof: null,
    dropoff_proof: null,
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
        ...needsFields(request.needs),
        ...(request.pickup_at ? { pickup_at: request.pickup_at.toISOString() } : {}),
        occurred_at: at.toISOString(),
      },
    },
  ]);
}

function wrongPin(
  booking: Booking | null,
  command: Extract<BookingCommand, { type: "wrong_pin" }>,
): Decision<Booking> {
  const { actor, at, maxTries } = command;
  if (!booking || !maySeeBooking(actor, booking)) return reject("not_found", "Booking not found");
  if (!isItsRunner(actor, booking)) return reject("forbidden", "Not allowed for this booking");
  if (booking.status !== "in_transit") {
    return reject("conflict", `${cap(withArticle(booking.status))} booking cannot be delivered`, {
      status: booking.status,
    });
  }
  if (isLocked(booking)) return reject("conflict", HANDOVER_LOCKED);
  const was = booking.pin_tries ?? 0;
  const tries = was + 1;
  const locks = tries >= maxTries;
  return accept<Booking>(
    { status: booking.status, pin_tries: was, handover_locked_at: null },
    { pin_tries: tries, updated_at: at, ...(locks ? { handover_locked_at: at } : {}) },
    locks
      ? [
          {
            type: "booking.handover_locked",
            data: { ...withRunner(booking, at.toISOString()), tries },
          },
        ]
      : [],
  );
}

function unlockHandover(
  booking: Booking | null,
  command: Extract<BookingCommand, { type: "unlock_handover" }>,
): Decision<Booking> {
  if (!booking) return reject("not_found", "Booking not found");
  if (!isAdmin(command.actor)) return reject("forbidden", "Only an admin may unlock a handover");
  if (!isLocked(booking)) return reject("conflict", "The handover of this booking is not locked");
  return accept<Booking>(
    { status: booking.status, handover_locked_at: booking.handover_locked_at },
    { pin_tries: 0, handover_locked_at: null, updated_at: command.at },
  );
}

function recordPayment(
  booking: Booking | null,
  command: Extract<BookingCommand, { type: "record_payment" }>,
): Decision<Booking> {
  if (!booking) return reject("not_found", "Booking not found");
  const { payment_status, at } = command;
  const stale =
    !PAYMENT_FROM[payment_status].includes(booking.payment_status) ||
    (payment_status === "held" && holdReleasedBecause(booking) !== null);
  if (stale) {
    return reject(
      "conflict",
      `${cap(withArticle(booking.payment_status))} payment is not ${payment_status} now`,
    );
  }
  const { acceptTimeoutMs, pay_by } = command;
  // Held while no runner has it: the wait for an accept starts now (a scheduled one's, at its
  // pickup), and a deadline to pay is met.
  const waits = payment_status === "held" && booking.status === "requested";
  const pickupAt = booking.pickup_at ?? null;
  return accept<Booking>(
    { status: booking.status, payment_status: booking.payment_status },
    {
      payment_status,
      updated_at: at,
      ...(waits && acceptTimeoutMs !== undefined
        ? {
            accept_due_at: acceptDueAt(at, pickupAt, acceptTimeoutMs, {
              acceptGraceMs: command.acceptGraceMs ?? 0,
            }),
          }
        : {}),
      ...(payment_status === "held" && booking.pay_by ? { pay_by: null } : {}),
      // A saved card is held by Kilat before the pickup: the payment deadline no longer applies.
      ...(payment_status === "card_saved" ? { payment_due_at: null } : {}),
      ...(payment_status === "failed" && pay_by ? { pay_by } : {}),
    },
  );
}

/** The road a booking takes when all goes well, in order: the statuses up to `completed`. */
const ROAD: readonly BookingStatus[] = BOOKING_STATUSES.slice(
  0,
  BOOKING_STATUSES.indexOf("completed") + 1,
);

/**
 * Whether the booking is where this move would take it, or further down the road (an owner
 * confirming a booking that completed meanwhile): a retry of a move that took effect. A move
 * that assigns the runner is a repeat only for the runner it assigned.
 */
function tookEffect(booking: Booking, command: BookingMove): boolean {
  const row: Move = MOVES[command.type];
  if (row.repeats) return row.repeats(booking, command);
  const { to } = row;
  if ("assigns" in MOVES[command.type] && booking.runner_id !== command.actor.sub) return false;
  const reached = ROAD.indexOf(booking.status);
  return reached >= 0 && ROAD.includes(to) ? reached >= ROAD.indexOf(to) : booking.status === to;
}

/**
 * Who learns that a booking exists when they try to move it: the system, any runner trying to
 * accept (and hearing 409 when another was faster), and otherwise those who may see it.
 */
function mayTry(command: BookingMove, booking: Booking | null): booking is Booking {
  const { actor } = command;
  const learns = isSystem(actor) || ("assigns" in MOVES[command.type] && anyRunner(actor));
  return booking !== null && (learns || maySeeBooking(actor, booking));
}

function move(booking: Booking | null, command: BookingMove): Decision<Booking> {
  if (!mayTry(command, booking)) return reject("not_found", "Booking not found");
  const row: Move = MOVES[command.type];
  const from = booking.status;
  if (!row.may(command.actor, booking)) return reject("forbidden", "Not allowed for this booking");
  // A retried move that took effect already answers with the booking as it is.
  if (tookEffect(booking, command)) return accept<Booking>({ status: from }, {});
  if (!row.from.includes(from)) {
    return reject("conflict", `${cap(withArticle(from))} booking cannot be ${row.done}`, {
      status: from,
    });
  }
  const refusal = row.refuses?.(booking, command);
  if (refusal) return reject("conflict", refusal, { payment_status: booking.payment_status });
  const changes: Partial<Booking> = {
    status: row.to,
    runner_id: booking.runner_id,
    updated_at: command.at,
    ...row.stamps?.(command, booking),
  };
  const is = { ...booking, ...changes };
  return accept<Booking>({ status: from, ...row.relies?.(booking) }, changes, [
    row.event(booking, is, command.at.toISOString()),
  ]);
}

/**
 * Why money held for a booking is released, or null while it may be held: a booking called off,
 * or expired unpaid, releases whatever the escrow holds for it or comes to hold later (a payment
 * that succeeded at the moment it ended). Not one a no-show cancelled: its fee was captured for
 * the runner, and a hold's report delivered again must not give it back.
 */
export function holdReleasedBecause(booking: Pick<Booking, "status" | "no_show">): string | null {
  if (booking.no_show) return null;
  switch (booking.status) {
    case "cancelled":
      return "booking cancelled";
    case "expired":
      return "booking expired unpaid";
    default:
      return null;
  }
}

/** A runner on one of these has its hands full: it may not accept another booking. */
const ACTIVE: readonly BookingStatus[] = ["accepted", "picked_up", "in_transit", "returning"];

/** The runner's hands are free again once the pet is handed over or the trip is off. */
export const freesRunner = (status: BookingStatus) =>
  status === "delivered" || status === "cancelled" || status === "returned";

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
