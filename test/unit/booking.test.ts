import { SYSTEM, type Actor } from "../../domain/access";
import {
  BOOKING_STATUSES,
  MOVES,
  MOVE_NAMES,
  decide,
  freesRunner,
  holdReleasedBecause,
  pinMatches,
  slotIsFree,
  type Booking,
  type BookingMove,
  type BookingStatus,
  type MoveName,
  type PaymentStatus,
} from "../../domain/booking";
import type { EventDraft } from "../../domain/decider";
import { CARD_NOT_CHARGED } from "../../domain/schedule";
import { ACTION_CONTRACTS } from "../../contracts";
import { MOVE_ACTIONS, PUBLIC_MOVES } from "../../contracts/booking";
import { TOPICS, eventDefinition, isEventType, parsePayload } from "../../events/catalog";
import { ROUTES } from "../../services/api/routes";
import { AT, EARLIER, bookingIn, moveOf, openedDispute } from "../support/booking-fixtures";
import { givenWhenThen } from "../support/decider";
import { NO_SHOW_LEGAL, NO_SHOW_MOVES, noShowAt } from "../support/no-show-moves";

const DUE = new Date("2026-12-01T09:30:00.000Z");

const owner: Actor = { role: "owner", sub: "owner-1" };
const otherOwner: Actor = { role: "owner", sub: "owner-2" };
const runner: Actor = { role: "runner", sub: "runner-1" };
const otherRunner: Actor = { role: "runner", sub: "runner-2" };
const admin: Actor = { role: "admin", sub: "admin-1" };

const given = givenWhenThen(decide);

const booking = bookingIn;
const move = moveOf;

/** What every booking event names, and what it names once a runner took the booking. */
const about = {
  booking_id: "b1",
  booking_number: "KLT-20261201-ABCDEF",
  owner_id: "owner-1",
  occurred_at: AT.toISOString(),
};
const withRunner = { ...about, runner_id: "runner-1" };

const PIN = "048213";
const PICKUP_PHOTO = { photo_id: "p-1", position: { lat: -6.2, lng: 106.8 } };
/** The track had no fix yet at the drop-off. */
const DROPOFF_PHOTO = { photo_id: "p-2", position: null };

const NOT_FOUND = "Booking not found";
const FORBIDDEN = "Not allowed for this booking";

/** How a refusal names each move: "A cancelled booking cannot be picked up". */
const DONE: Record<MoveName, string> = {
  accept: "accepted",
  pickup: "picked up",
  depart: "departed",
  deliver: "delivered",
  confirm: "confirmed",
  dispute: "disputed",
  resolve: "resolved",
  complete: "completed",
  refund: "refunded",
  cancel: "cancelled",
  cancel_uncharged: "cancelled",
  expire: "expired",
  arrive_at_pickup: "marked arrived",
  arrive_at_dropoff: "marked arrived",
  no_show_at_pickup: "declared a no-show",
  no_show_at_dropoff: "declared a no-show",
  no_show_to_ops: "declared a no-show",
  hand_back: "handed back",
};

/** The owner's report of a problem, as the dispute move takes it and the booking keeps it. */
const REPORT = { reason: "injured", text: "A cut on the paw", photo_ids: ["p-9"] };
const OPENED = openedDispute(REPORT);
/** Each resolution, and what goes back to the owner of the 5,000,000 held. */
const RESOLUTIONS = [
  [{ outcome: "release" }, 0],
  [{ outcome: "partial_refund", refund_cents: 1_250_000, note: "a vet visit" }, 1_250_000],
  [{ outcome: "full_refund" }, 5_000_000],
] as const;
const cannotBe = (status: BookingStatus, type: MoveName) =>
  `${/^[aeiou]/.test(status) ? "An" : "A"} ${status} booking cannot be ${DONE[type]}`;

interface LegalMove {
  from: BookingStatus;
  /** What the booking needs beside its status for this move. */
  extra?: Partial<Booking>;
  command: BookingMove;
  /** What the decision relies on beside the status. */
  relies?: Partial<Booking>;
  /** What it sets beside `updated_at`. */
  changes: Partial<Booking>;
  event: EventDraft;
}

/** Every legal move: from which status, by whom, what it sets, what it publishes. Everything else is illegal. */
const LEGAL: LegalMove[] = [
  {
    from: "requested",
    command: move("accept", runner),
    relies: { runner_id: null, payment_status: "held" },
    changes: { status: "accepted", runner_id: "runner-1", accepted_at: AT },
    event: { type: "booking.accepted", data: { ...withRunner, pet_name: "Rex" } },
  },
  {
    from: "accepted",
    command: move("pickup", runner, { proof: PICKUP_PHOTO }),
    changes: {
      status: "picked_up",
      runner_id: "runner-1",
      picked_up_at: AT,
      pickup_proof: { photo_id: "p-1", at: AT, position: { lat: -6.2, lng: 106.8 } },
    },
    event: {
      type: "booking.pet_picked_up",
      data: {
        ...withRunner,
        pet_name: "Rex",
        picked_up_at: AT.toISOString(),
        photo_id: "p-1",
        proof_lat: -6.2,
        proof_lng: 106.8,
      },
    },
  },
  {
    from: "picked_up",
    command: move("depart", runner),
    changes: { status: "in_transit", runner_id: "runner-1" },
    event: {
      type: "booking.delivery_in_progress",
      data: { ...withRunner, pet_name: "Rex", picked_up_at: EARLIER.toISOString() },
    },
  },
  {
    from: "in_transit",
    // One wrong PIN before: the right one starts the count again.
    extra: { handover_pin: PIN, pin_tries: 1, handover_locked_at: null },
    command: move("deliver", runner, { proof: DROPOFF_PHOTO, pin: PIN }),
    relies: { handover_locked_at: null },
    changes: {
      status: "delivered",
      runner_id: "runner-1",
      delivered_at: AT,
      auto_confirm_at: new Date(AT.getTime() + 60_000),
      dropoff_proof: { photo_id: "p-2", at: AT, position: null, pin_verified: true },
      pin_tries: 0,
    },
    event: {
      type: "booking.delivered",
      data: {
        ...withRunner,
        pet_name: "Rex",
        delivered_at: AT.toISOString(),
        photo_id: "p-2",
        pin_verified: true,
      },
    },
  },
  ...[owner, SYSTEM].map((actor): LegalMove => ({
    from: "delivered",
    command: move("confirm", actor),
    changes: {
      status: "confirmed",
      runner_id: "runner-1",
      confirmed_at: AT,
      auto_confirm_at: null,
    },
    event: {
      type: "booking.delivery_confirmed",
      data: { ...withRunner, delivered_at: EARLIER.toISOString() },
    },
  })),
  {
    from: "delivered",
    extra: { auto_confirm_at: DUE },
    command: move("dispute", owner, { report: REPORT }),
    changes: {
      status: "disputed",
      runner_id: "runner-1",
      auto_confirm_at: null,
      dispute: { ...OPENED, opened_at: AT },
    },
    event: {
      type: "booking.disputed",
      data: { ...withRunner, pet_name: "Rex", ...REPORT },
    },
  },
  ...RESOLUTIONS.map(([resolution, refund]): LegalMove => ({
    from: "disputed",
    extra: { dispute: OPENED },
    command: move("resolve", admin, { resolution }),
    changes: {
      status: "confirmed",
      runner_id: "runner-1",
      dispute: {
        ...OPENED,
        outcome: resolution.outcome,
        refund_cents: refund,
        note: "note" in resolution ? resolution.note : null,
        resolved_by: "admin-1",
        resolved_at: AT,
      },
    },
    event: {
      type: "booking.dispute_resolved",
      data: {
        ...withRunner,
        outcome: resolution.outcome,
        refund_cents: refund,
        currency: "IDR",
        resolved_by: "admin-1",
        ...("note" in resolution ? { note: resolution.note } : {}),
      },
    },
  })),
  {
    from: "confirmed",
    extra: {
      dispute: { ...OPENED, outcome: "full_refund", refund_cents: 5_000_000, resolved_at: DUE },
    },
    command: move("refund", SYSTEM),
    changes: {
      status: "refunded",
      runner_id: "runner-1",
      final_price_cents: 0,
      payment_status: "refunded",
    },
    event: {
      type: "booking.refunded",
      data: { ...withRunner, refunded_cents: 5_000_000, currency: "IDR" },
    },
  },
  {
    from: "confirmed",
    command: move("complete", SYSTEM, { final_price_cents: 4_900_000 }),
    changes: {
      status: "completed",
      runner_id: "runner-1",
      completed_at: AT,
      final_price_cents: 4_900_000,
      payment_status: "released",
    },
    event: {
      type: "booking.completed",
      data: { ...withRunner, final_price_cents: 4_900_000, currency: "IDR" },
    },
  },
  {
    from: "requested",
    command: move("cancel", owner, { reason: "plans changed" }),
    changes: {
      status: "cancelled",
      runner_id: null,
      cancelled_at: AT,
      cancelled_by: "owner-1",
      cancel_reason: "plans changed",
    },
    // No runner took it: the event names none.
    event: {
      type: "booking.cancelled",
      data: { ...about, cancelled_by: "owner-1", reason: "plans changed" },
    },
  },
  ...[owner, runner].map((actor): LegalMove => ({
    from: "accepted",
    command: move("cancel", actor, { reason: "plans changed" }),
    changes: {
      status: "cancelled",
      runner_id: "runner-1",
      cancelled_at: AT,
      cancelled_by: actor.sub,
      cancel_reason: "plans changed",
    },
    event: {
      type: "booking.cancelled",
      data: { ...withRunner, cancelled_by: actor.sub, reason: "plans changed" },
    },
  })),
  {
    from: "requested",
    // A scheduled booking whose card could not be charged, not paid by its deadline.
    extra: { payment_status: "failed" },
    command: move("cancel_uncharged", SYSTEM, { reason: CARD_NOT_CHARGED }),
    relies: { payment_status: "failed" },
    changes: {
      status: "cancelled",
      runner_id: null,
      cancelled_at: AT,
      cancelled_by: "system",
      cancel_reason: CARD_NOT_CHARGED,
    },
    event: {
      type: "booking.cancelled",
      data: { ...about, cancelled_by: "system", reason: CARD_NOT_CHARGED },
    },
  },
  {
    from: "requested",
    // Only an unpaid booking expires.
    extra: { payment_status: "unpaid", payment_due_at: DUE },
    command: move("expire", SYSTEM),
    relies: { payment_status: "unpaid" },
    changes: { status: "expired", runner_id: null },
    event: {
      type: "booking.expired",
      data: { ...about, pet_name: "Rex", payment_due_at: DUE.toISOString() },
    },
  },
];

LEGAL.push(...NO_SHOW_LEGAL);

/** A legal move of this name, for what every row must do. */
function legalMove(type: MoveName): LegalMove {
  const found = LEGAL.find((legal) => legal.command.type === type);
  if (!found) throw new Error(`no legal ${type} in the table`);
  return found;
}

/**
 * The road in order: a booking at or past where a move takes it has had the move. A resolution
 * is a repeat only of the same resolution, which these bookings never had (see disputes.test.ts).
 */
const ROAD = BOOKING_STATUSES.slice(0, 7);
const reached = (type: MoveName, status: BookingStatus) => {
  if (type === "resolve") return false;
  // A no-show's moves are repeats only of themselves (no-show.test.ts), not of a status reached.
  if (NO_SHOW_MOVES.includes(type) && "repeats" in MOVES[type]) return false;
  const to = legalMove(type).changes.status;
  return to && ROAD.includes(to) && ROAD.includes(status)
    ? ROAD.indexOf(status) >= ROAD.indexOf(to)
    : status === to;
};

/** Each (move, actor) of the legal table, once. */
const PAIRS = [
  ...new Map(
    LEGAL.map(({ command }) => [`${command.type}/${command.actor.role}`, command]),
  ).values(),
];
/** Each pair in every status it cannot leave from and has not reached. */
const ILLEGAL = PAIRS.flatMap((command) =>
  BOOKING_STATUSES.filter(
    (status) =>
      !LEGAL.some((legal) => legal.command.type === command.type && legal.from === status) &&
      !reached(command.type, status),
  ).map((status) => [status, command.actor.role, command.type, command] as const),
);
/** Each pair in every status where it took effect already. */
const REPEATS = PAIRS.flatMap((command) =>
  BOOKING_STATUSES.filter((status) => reached(command.type, status)).map(
    (status) => [status, command.actor.role, command.type, command] as const,
  ),
);

describe("booking decider", () => {
  describe("the moves", () => {
    it.each(LEGAL)(
      "given the booking $from, when the $command.actor.role makes $command.type, then it moves, guarded on what it read, and publishes its event",
      ({ from, extra, command, relies, changes, event }) => {
        given(booking(from, extra))
          .when(command)
          .thenAccepted({
            expect: { status: from, ...relies },
            changes: { ...changes, updated_at: AT },
            events: [event],
          });
      },
    );

    it.each(ILLEGAL)(
      "given runner-1's booking %s, when the %s makes %s, then it is a conflict naming the status",
      (status, _role, type, command) => {
        given(booking(status, { runner_id: "runner-1" }))
          .when(command)
          .thenRefused("conflict", cannotBe(status, type), { status });
      },
    );

    it.each(REPEATS)(
      "given runner-1's booking %s, when the %s retries %s, which it reached already, then it is a repeat: nothing changes, nothing is published",
      (status, _role, _type, command) => {
        given(booking(status, { runner_id: "runner-1" }))
          .when(command)
          .thenAccepted({ expect: { status }, changes: {} });
      },
    );

    it("given a cancelled booking, when its runner picks it up, then the refusal reads as a person would: no 'pickuped'", () => {
      given(booking("cancelled"))
        .when(move("pickup", runner))
        .thenRefused("conflict", "A cancelled booking cannot be picked up", {
          status: "cancelled",
        });
    });

    it("given an in_transit booking, when its owner cancels, then the refusal reads as a person would", () => {
      given(booking("in_transit"))
        .when(move("cancel", owner, { reason: "x" }))
        .thenRefused("conflict", "An in_transit booking cannot be cancelled", {
          status: "in_transit",
        });
    });

    it("given each move, when made, then its event names the status it reaches", () => {
      const events = MOVE_NAMES.map((type) => {
        const { from, extra, command } = legalMove(type);
        const [event] = given(booking(from, extra)).when(command).thenAccepted().events;
        return [type, [MOVES[type].to, event.type]];
      });
      expect(Object.fromEntries(events)).toEqual({
        accept: ["accepted", "booking.accepted"],
        pickup: ["picked_up", "booking.pet_picked_up"],
        depart: ["in_transit", "booking.delivery_in_progress"],
        deliver: ["delivered", "booking.delivered"],
        confirm: ["confirmed", "booking.delivery_confirmed"],
        dispute: ["disputed", "booking.disputed"],
        // An admin's resolution confirms the booking in the owner's stead, whatever the outcome.
        resolve: ["confirmed", "booking.dispute_resolved"],
        complete: ["completed", "booking.completed"],
        refund: ["refunded", "booking.refunded"],
        cancel: ["cancelled", "booking.cancelled"],
        cancel_uncharged: ["cancelled", "booking.cancelled"],
        expire: ["expired", "booking.expired"],
        arrive_at_pickup: ["accepted", "booking.runner_arrived"],
        arrive_at_dropoff: ["in_transit", "booking.runner_arrived"],
        no_show_at_pickup: ["cancelled", "booking.no_show"],
        no_show_at_dropoff: ["returning", "booking.no_show"],
        no_show_to_ops: ["disputed", "booking.no_show"],
        hand_back: ["returned", "booking.returned"],
      });
    });
  });

  describe("who may make a move, and who learns the booking exists", () => {
    it.each([
      { type: "accept", actor: owner, from: "requested", kind: "forbidden", message: FORBIDDEN },
      { type: "accept", actor: admin, from: "requested", kind: "forbidden", message: FORBIDDEN },
      {
        type: "pickup",
        actor: otherRunner,
        from: "accepted",
        kind: "not_found",
        message: NOT_FOUND,
      },
      { type: "pickup", actor: owner, from: "accepted", kind: "forbidden", message: FORBIDDEN },
      {
        type: "depart",
        actor: otherRunner,
        from: "picked_up",
        kind: "not_found",
        message: NOT_FOUND,
      },
      { type: "deliver", actor: admin, from: "in_transit", kind: "forbidden", message: FORBIDDEN },
      {
        type: "confirm",
        actor: otherOwner,
        from: "delivered",
        kind: "not_found",
        message: NOT_FOUND,
      },
      { type: "confirm", actor: runner, from: "delivered", kind: "forbidden", message: FORBIDDEN },
      { type: "complete", actor: owner, from: "confirmed", kind: "forbidden", message: FORBIDDEN },
      { type: "complete", actor: admin, from: "confirmed", kind: "forbidden", message: FORBIDDEN },
      {
        type: "cancel",
        actor: otherOwner,
        from: "requested",
        kind: "not_found",
        message: NOT_FOUND,
      },
      {
        type: "cancel",
        actor: otherRunner,
        from: "accepted",
        kind: "not_found",
        message: NOT_FOUND,
      },
      { type: "expire", actor: owner, from: "requested", kind: "forbidden", message: FORBIDDEN },
      { type: "expire", actor: admin, from: "requested", kind: "forbidden", message: FORBIDDEN },
      { type: "expire", actor: runner, from: "requested", kind: "forbidden", message: FORBIDDEN },
      { type: "dispute", actor: runner, from: "delivered", kind: "forbidden", message: FORBIDDEN },
      { type: "dispute", actor: admin, from: "delivered", kind: "forbidden", message: FORBIDDEN },
      {
        type: "dispute",
        actor: otherOwner,
        from: "delivered",
        kind: "not_found",
        message: NOT_FOUND,
      },
      { type: "resolve", actor: owner, from: "disputed", kind: "forbidden", message: FORBIDDEN },
      { type: "resolve", actor: runner, from: "disputed", kind: "forbidden", message: FORBIDDEN },
      { type: "refund", actor: admin, from: "confirmed", kind: "forbidden", message: FORBIDDEN },
    ] as const)(
      "given the booking $from, when $actor.sub ($actor.role) makes $type, then its row refuses them whatever the state, and the refusal is $kind",
      ({ type, actor, from, kind, message }) => {
        const current = booking(from);
        expect(MOVES[type].may(actor, current)).toBe(false);
        given(current).when(move(type, actor)).thenRefused(kind, message);
      },
    );

    it("given an accepted booking, when a stranger confirms it, then it is hidden from them", () => {
      given(booking("accepted"))
        .when(move("confirm", otherOwner))
        .thenRefused("not_found", NOT_FOUND);
    });

    it("given a delivered booking, when its owner picks it up, then it is forbidden: they see it, but it is not their move", () => {
      given(booking("delivered")).when(move("pickup", owner)).thenRefused("forbidden", FORBIDDEN);
    });

    it.each([
      ["its runner", move("pickup", runner)],
      ["any runner accepting", move("accept", otherRunner)],
      ["the system", move("confirm", SYSTEM)],
    ])("given no booking, when %s moves it, then it is not found", (_who, command) => {
      given(null).when(command).thenRefused("not_found", NOT_FOUND);
    });

    it("given a booking no one made the system a party to, when the system moves it, then it learns the booking exists: a conflict, not a hidden booking", () => {
      given(booking("accepted"))
        .when(move("confirm", SYSTEM))
        .thenRefused("conflict", "An accepted booking cannot be confirmed", { status: "accepted" });
    });

    it.each([
      ["a runner not its own picks it up", move("pickup", otherRunner)],
      ["another owner cancels it", move("cancel", otherOwner, { reason: "x" })],
    ])("given a taken booking, when %s, then it is hidden from them", (_what, command) => {
      given(booking("accepted")).when(command).thenRefused("not_found", NOT_FOUND);
    });

    it("given a taken booking, when its owner cancels it, then it is cancelled", () => {
      expect(
        given(booking("accepted"))
          .when(move("cancel", owner, { reason: "x" }))
          .thenAccepted().changes.status,
      ).toBe("cancelled");
    });

    it("given a booking whose owner's id is a runner's sub, when that runner cancels it, then it is hidden from them", () => {
      const runnerNamedLikeOwner: Actor = { role: "runner", sub: "same" };
      given(booking("accepted", { owner_id: "same" }))
        .when(move("cancel", runnerNamedLikeOwner, { reason: "x" }))
        .thenRefused("not_found", NOT_FOUND);
    });

    it("given a booking another runner accepted (now picked up), when a runner retries an accept, then it is no repeat but a conflict", () => {
      given(booking("picked_up"))
        .when(move("accept", otherRunner))
        .thenRefused("conflict", "A picked_up booking cannot be accepted", {
          status: "picked_up",
        });
    });

    it("given an accepted booking, when a second runner accepts, then it is a conflict (the race's loser): any runner accepting learns the booking exists", () => {
      given(booking("accepted"))
        .when(move("accept", otherRunner))
        .thenRefused("conflict", "An accepted booking cannot be accepted", { status: "accepted" });
    });

    it("given an accepted booking, when an admin cancels it, then it is cancelled", () => {
      given(booking("accepted"))
        .when(move("cancel", admin, { reason: "x" }))
        .thenChanges({
          status: "cancelled",
          runner_id: "runner-1",
          cancelled_at: AT,
          cancelled_by: "admin-1",
          cancel_reason: "x",
          updated_at: AT,
        });
    });

    it("given a delivered booking, when an admin confirms it, then it is confirmed", () => {
      given(booking("delivered")).when(move("confirm", admin)).thenChanges({
        status: "confirmed",
        runner_id: "runner-1",
        confirmed_at: AT,
        auto_confirm_at: null,
        updated_at: AT,
      });
    });

    it("given a picked_up booking, when an admin cancels it, then it is a conflict: too late to call off", () => {
      given(booking("picked_up"))
        .when(move("cancel", admin, { reason: "x" }))
        .thenRefused("conflict", "A picked_up booking cannot be cancelled", {
          status: "picked_up",
        });
    });
  });

  describe("the escrow and the booking", () => {
    it.each(["unpaid", "pending", "failed"] as const)(
      "given an escrow %s, when a runner accepts, then it is a conflict naming the payment",
      (payment_status) => {
        given(booking("requested", { payment_status }))
          .when(move("accept", runner))
          .thenRefused("conflict", "The escrow for this booking is not held yet", {
            payment_status,
          });
      },
    );

    it.each(["unpaid", "pending", "failed", "refunded"] as const)(
      "given a requested booking whose payment is %s past its deadline, when the system expires it, then it is expired with booking.expired, guarded on the payment",
      (payment_status) => {
        given(booking("requested", { payment_status, payment_due_at: DUE }))
          .when(move("expire", SYSTEM))
          .thenAccepted({
            expect: { status: "requested", payment_status },
            changes: { status: "expired", runner_id: null, updated_at: AT },
            events: [
              {
                type: "booking.expired",
                data: { ...about, pet_name: "Rex", payment_due_at: DUE.toISOString() },
              },
            ],
          });
      },
    );

    it("given a scheduled booking paid for just before its deadline's sweep wrote, when the system cancels it as uncharged, then it is a conflict: the payment wins", () => {
      given(booking("requested", { payment_status: "held" }))
        .when(move("cancel_uncharged", SYSTEM, { reason: CARD_NOT_CHARGED }))
        .thenRefused("conflict", "The escrow for this booking is held: it waits for a runner", {
          payment_status: "held",
        });
    });

    it("given a held escrow, when the system expires the booking, then it is a conflict: it waits for a runner", () => {
      given(booking("requested"))
        .when(move("expire", SYSTEM))
        .thenRefused("conflict", "The escrow for this booking is held: it waits for a runner", {
          payment_status: "held",
        });
    });

    it("given an accepted booking, when the system expires it, then it is a conflict naming the status", () => {
      given(booking("accepted"))
        .when(move("expire", SYSTEM))
        .thenRefused("conflict", "An accepted booking cannot be expired", { status: "accepted" });
    });

    it("given an unpaid booking, when its owner tries to expire it, then it is not allowed", () => {
      given(booking("requested", { payment_status: "unpaid" }))
        .when(move("expire", owner))
        .thenRefused("forbidden", FORBIDDEN);
    });

    /** Which payment statuses each report may overwrite; a late report never undoes a later one. */
    const REPORTS: ["held" | "failed" | "refunded", PaymentStatus[]][] = [
      ["held", ["unpaid", "pending", "failed"]],
      ["failed", ["unpaid", "pending", "held"]],
      ["refunded", ["unpaid", "pending", "held", "failed", "released", "refunded"]],
    ];
    const ALL_PAYMENT: PaymentStatus[] = [
      "unpaid",
      "pending",
      "held",
      "failed",
      "released",
      "refunded",
    ];

    it.each(
      REPORTS.flatMap(([report, from]) =>
        ALL_PAYMENT.map((status) => [status, report, from.includes(status)] as const),
      ),
    )(
      "given the payment %s, when a %s report comes, then it is recorded: %s",
      (current, payment_status, recorded) => {
        const outcome = given(booking("requested", { payment_status: current })).when({
          type: "record_payment",
          payment_status,
          at: AT,
        });
        if (recorded) {
          outcome.thenAccepted({
            expect: { status: "requested", payment_status: current },
            changes: { payment_status, updated_at: AT },
          });
        } else {
          outcome.thenRefused();
        }
      },
    );

    it("given a requested booking, when its hold arrives, then the wait for a runner's accept starts", () => {
      given(booking("requested", { payment_status: "pending" }))
        .when({
          type: "record_payment",
          payment_status: "held",
          at: AT,
          acceptTimeoutMs: 45 * 60_000,
        })
        .thenAccepted({
          expect: { status: "requested", payment_status: "pending" },
          changes: {
            payment_status: "held",
            updated_at: AT,
            accept_due_at: new Date(AT.getTime() + 45 * 60_000),
          },
          events: [],
        });
    });

    it("given an accepted booking, when a late hold report comes, then no accept deadline is set", () => {
      given(booking("accepted", { payment_status: "failed" }))
        .when({ type: "record_payment", payment_status: "held", at: AT, acceptTimeoutMs: 1000 })
        .thenChanges({ payment_status: "held", updated_at: AT });
    });

    it.each(["cancelled", "expired"] as const)(
      "given the booking %s, when the hold arrives, then it is not recorded as held",
      (status) => {
        given(booking(status, { payment_status: "unpaid" }))
          .when({ type: "record_payment", payment_status: "held", at: AT })
          .thenRefused();
      },
    );

    it("given each status, then what is held is released for a cancelled or expired booking, and for no other", () => {
      expect(BOOKING_STATUSES.map((status) => [status, holdReleasedBecause({ status })])).toEqual([
        ["requested", null],
        ["accepted", null],
        ["picked_up", null],
        ["in_transit", null],
        ["delivered", null],
        ["confirmed", null],
        ["completed", null],
        ["cancelled", "booking cancelled"],
        ["expired", "booking expired unpaid"],
        ["disputed", null],
        ["refunded", null],
        ["returning", null],
        ["returned", null],
      ]);
    });

    it("given a booking a pickup no-show cancelled, then its hold is not released: the fee was captured for the runner", () => {
      const noShow = noShowAt("pickup", "cancelled", { fee_cents: 500 });
      expect(holdReleasedBecause({ status: "cancelled", no_show: noShow })).toBeNull();
      given(booking("cancelled", { payment_status: "released", no_show: noShow }))
        .when({ type: "record_payment", payment_status: "held", at: AT })
        .thenRefused();
    });
  });

  describe("a new booking", () => {
    const request = {
      type: "request",
      id: "b1",
      booking_number: "KLT-20261201-ABCDEF",
      owner: { role: "owner", sub: "owner-1" },
      request: {
        pet_type: "dog",
        pet_name: "Rex",
        pickup: { lat: -6.2, lng: 106.8 },
        dropoff: { lat: -6.25, lng: 106.85 },
      },
      price: { distanceKm: 7.8, amountCents: 5_000_000, currency: "IDR" },
      at: AT,
      paymentTimeoutMs: 1_800_000,
      handover_pin: "048213",
    } as const;

    it("given no booking, when an owner requests one, then it is created with booking.requested", () => {
      given(null)
        .when(request)
        .thenAccepted({
          expect: {},
          changes: booking("requested", {
            payment_status: "unpaid",
            payment_due_at: new Date("2026-12-01T10:30:00.000Z"),
            picked_up_at: null,
            delivered_at: null,
            pets: [],
            handover_pin: "048213",
            pin_tries: 0,
            handover_locked_at: null,
            pickup_proof: null,
            dropoff_proof: null,
            created_at: AT,
            updated_at: AT,
          }),
          events: [
            {
              type: "booking.requested",
              data: {
                booking_id: "b1",
                booking_number: "KLT-20261201-ABCDEF",
                owner_id: "owner-1",
                pet_type: "dog",
                pet_name: "Rex",
                pickup_lat: -6.2,
                pickup_lng: 106.8,
                dropoff_lat: -6.25,
                dropoff_lng: 106.85,
                estimated_price_cents: 5_000_000,
                currency: "IDR",
                occurred_at: AT.toISOString(),
              },
            },
          ],
        });
    });

    it("given a booking, when it is requested again, then it is a conflict", () => {
      given(booking("requested"))
        .when(request)
        .thenRefused("conflict", "The booking exists already");
    });
  });

  describe("the runner's one active-booking slot", () => {
    it("given each status, then the runner is freed on delivery and on cancellation only", () => {
      expect(BOOKING_STATUSES.filter(freesRunner)).toEqual(["delivered", "cancelled", "returned"]);
    });

    it.each([
      ["nothing held", true, null, 0],
      ["a booking over", true, { status: "completed", runner_id: "runner-1" }, 0],
      ["someone else's booking", true, { status: "accepted", runner_id: "runner-2" }, 0],
      ["an accept that never finished", true, { status: "requested", runner_id: null }, 30_000],
      ["an accept in flight", false, { status: "requested", runner_id: null }, 29_999],
      ["its active booking", false, { status: "in_transit", runner_id: "runner-1" }, 60_000],
    ] as const)(
      "given runner-1's slot held for %s, when another accept wants it, then it may be taken over: %s",
      (_what, free, holder, age) => {
        expect(slotIsFree("runner-1", holder, age)).toBe(free);
      },
    );
  });
});

/** Every gateway route that names an action: "POST /api/bookings/:id/accept" → "booking.accept". */
const ROUTED = new Map(
  ROUTES.flatMap((route) =>
    Object.entries(route.aliases ?? {}).flatMap(([alias, target]) => {
      if (typeof target !== "string") return [];
      const [method, path] = alias.split(/\s+/);
      return [[`${method} ${`${route.path ?? ""}/${path}`.replace(/\/+/g, "/")}`, target] as const];
    }),
  ),
);

describe("proof at both ends", () => {
  const inTransit = (extra: Partial<Booking> = {}) =>
    booking("in_transit", { handover_pin: PIN, pin_tries: 0, handover_locked_at: null, ...extra });
  const wrongPin = (actor: Actor = runner) =>
    ({ type: "wrong_pin", actor, at: AT, maxTries: 3 }) as const;

  it("given an accepted booking, when its runner picks up without a photo, then it is refused", () => {
    given(booking("accepted"))
      .when(move("pickup", runner))
      .thenRefused("conflict", "A photo of the pet is needed (photo_id)", {
        payment_status: "held",
      });
  });

  it("given a booking in transit, when its runner delivers with another PIN, then it is refused and nothing changes", () => {
    given(inTransit())
      .when(move("deliver", runner, { proof: DROPOFF_PHOTO, pin: "048214" }))
      .thenRefused("conflict", "The PIN does not match", { payment_status: "held" });
    given(inTransit())
      .when(move("deliver", runner, { proof: DROPOFF_PHOTO, pin: "04821" }))
      .thenRefused("conflict", "The PIN does not match", { payment_status: "held" });
  });

  it("given a locked handover, when its runner delivers with the right PIN, then it is refused", () => {
    given(inTransit({ handover_locked_at: EARLIER, pin_tries: 3 }))
      .when(move("deliver", runner, { proof: DROPOFF_PHOTO, pin: PIN }))
      .thenRefused(
        "conflict",
        "The handover is locked after too many wrong PINs: operations will contact you",
        { payment_status: "held" },
      );
  });

  it("given a booking made before PINs, when its runner delivers with a photo, then the PIN is not asked", () => {
    given(booking("in_transit"))
      .when(move("deliver", runner, { proof: DROPOFF_PHOTO, pin: "1234" }))
      .thenChanges({
        status: "delivered",
        runner_id: "runner-1",
        updated_at: AT,
        delivered_at: AT,
        auto_confirm_at: new Date(AT.getTime() + 60_000),
        dropoff_proof: { photo_id: "p-2", at: AT, position: null, pin_verified: false },
      });
  });

  it("given no wrong PIN yet, when its runner gives one, then it is counted, guarded on the count", () => {
    given(inTransit())
      .when(wrongPin())
      .thenAccepted({
        expect: { status: "in_transit", pin_tries: 0, handover_locked_at: null },
        changes: { pin_tries: 1, updated_at: AT },
        events: [],
      });
  });

  it("given two wrong PINs of three, when the third comes, then the handover locks and operations hear of it", () => {
    given(inTransit({ pin_tries: 2 }))
      .when(wrongPin())
      .thenAccepted({
        expect: { status: "in_transit", pin_tries: 2, handover_locked_at: null },
        changes: { pin_tries: 3, handover_locked_at: AT, updated_at: AT },
        events: [{ type: "booking.handover_locked", data: { ...withRunner, tries: 3 } }],
      });
  });

  it("given a wrong PIN, when it comes from another runner, the owner or a booking not in transit, then it is refused", () => {
    given(inTransit()).when(wrongPin(otherRunner)).thenRefused("not_found", NOT_FOUND);
    given(inTransit()).when(wrongPin(owner)).thenRefused("forbidden", FORBIDDEN);
    given(booking("picked_up"))
      .when(wrongPin())
      .thenRefused("conflict", "A picked_up booking cannot be delivered", { status: "picked_up" });
    given(inTransit({ handover_locked_at: EARLIER }))
      .when(wrongPin())
      .thenRefused(
        "conflict",
        "The handover is locked after too many wrong PINs: operations will contact you",
      );
  });

  it("given a locked handover, when an admin unlocks it, then the tries start again; anyone else, or no lock, is refused", () => {
    const unlock = (actor: Actor) => ({ type: "unlock_handover", actor, at: AT }) as const;
    given(inTransit({ handover_locked_at: EARLIER, pin_tries: 3 }))
      .when(unlock(admin))
      .thenAccepted({
        expect: { status: "in_transit", handover_locked_at: EARLIER },
        changes: { pin_tries: 0, handover_locked_at: null, updated_at: AT },
        events: [],
      });
    given(inTransit({ handover_locked_at: EARLIER }))
      .when(unlock(owner))
      .thenRefused("forbidden", "Only an admin may unlock a handover");
    given(inTransit())
      .when(unlock(admin))
      .thenRefused("conflict", "The handover of this booking is not locked");
  });

  it("given PINs of every kind, then only the same digits match", () => {
    const withPin = booking("in_transit", { handover_pin: PIN });
    expect(
      [PIN, "048214", "04821", "0482130", "", undefined].map((pin) => pinMatches(withPin, pin)),
    ).toEqual([true, false, false, false, false, false]);
  });
});

describe("the move table is the single source", () => {
  it.each(MOVE_NAMES)(
    "given the %s row, when the move is made, then it publishes a booking event of the catalog whose payload fits its schema",
    (type) => {
      const { from, extra, command } = legalMove(type);
      const [event] = given(booking(from, extra)).when(command).thenAccepted().events;
      expect([event.type.startsWith("booking."), isEventType(event.type)]).toEqual([true, true]);
      expect(eventDefinition(event.type).topic).toBe(TOPICS.booking);
      expect(() => parsePayload(event.type, event.data)).not.toThrow();
    },
  );

  it("given the table, then the public moves are those whose row names API roles", () => {
    expect(PUBLIC_MOVES).toEqual([
      "accept",
      "pickup",
      "depart",
      "deliver",
      "confirm",
      "dispute",
      "resolve",
      "cancel",
    ]);
    expect(PUBLIC_MOVES).toEqual(MOVE_NAMES.filter((type) => MOVES[type].api.length > 0));
  });

  it.each(MOVE_NAMES)(
    "given the %s row, then its action takes exactly the roles the row names",
    (type) => {
      expect(MOVE_ACTIONS[type].roles).toEqual(MOVES[type].api);
    },
  );

  it.each(PUBLIC_MOVES)(
    "given the public %s move, then the gateway documents it (OpenAPI) with the row's roles",
    (type) => {
      const documented = ACTION_CONTRACTS.booking as Record<string, { roles?: readonly string[] }>;
      expect(documented[type]?.roles).toEqual(MOVES[type].api);
    },
  );

  it.each(PUBLIC_MOVES)(
    "given the public %s move, then its route POST /api/bookings/:id/<move> calls its action",
    (type) => {
      expect(ROUTED.get(`POST /api/bookings/:id/${type}`)).toBe(`booking.${type}`);
    },
  );

  it.each(MOVE_NAMES.filter((type) => !PUBLIC_MOVES.includes(type)))(
    "given the %s move, Kilat's own, then no route reaches it",
    (type) => {
      expect(ROUTED.get(`POST /api/bookings/:id/${type}`)).toBeUndefined();
      expect([...ROUTED.values()]).not.toContain(`booking.${type}`);
    },
  );
});
