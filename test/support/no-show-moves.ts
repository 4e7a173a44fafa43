import type { Actor } from "../../domain/access";
import type { Booking, BookingMove, BookingStatus, MoveName } from "../../domain/booking";
import type { EventDraft } from "../../domain/decider";
import type { NoShow } from "../../domain/no-show";
import { AT, moveOf } from "./booking-fixtures";

/**
 * The no-show moves' rows of the booking decider's table of legal moves
 * (test/unit/booking.test.ts): runner-1's booking of Rex, 5,000,000 IDR held.
 */

export const NO_SHOW_MOVES: readonly MoveName[] = [
  "arrive_at_pickup",
  "arrive_at_dropoff",
  "no_show_at_pickup",
  "no_show_at_dropoff",
  "no_show_to_ops",
  "hand_back",
];

const runner: Actor = { role: "runner", sub: "runner-1" };
const withRunner = {
  booking_id: "b1",
  booking_number: "KLT-20261201-ABCDEF",
  owner_id: "owner-1",
  occurred_at: AT.toISOString(),
  runner_id: "runner-1",
};

/** NO_SHOW_WAIT's default, and the runner's arrival exactly that long before AT. */
export const WAIT_MS = 600_000;
export const ARRIVED = new Date(AT.getTime() - WAIT_MS);
export const RULES = { waitMs: WAIT_MS, feeCents: 500 };
const PICKUP = { lat: -6.2, lng: 106.8 };

/** A no-show declared at AT. */
export const noShowAt = (
  where: NoShow["where"],
  outcome: NoShow["outcome"],
  extra: Partial<NoShow> = {},
): NoShow => ({
  where,
  outcome,
  declared_at: AT,
  reason: null,
  photo_id: null,
  fee_cents: 0,
  ...extra,
});

interface LegalRow {
  from: BookingStatus;
  extra?: Partial<Booking>;
  command: BookingMove;
  relies?: Partial<Booking>;
  changes: Partial<Booking>;
  event: EventDraft;
}

export const NO_SHOW_LEGAL: LegalRow[] = [
  ...(
    [
      ["accepted", "arrive_at_pickup", "pickup"],
      ["in_transit", "arrive_at_dropoff", "dropoff"],
    ] as const
  ).map(([from, type, where]): LegalRow => ({
    from,
    command: moveOf(type, runner),
    relies: { [where === "pickup" ? "arrived_at_pickup" : "arrived_at_dropoff"]: null },
    changes: {
      status: from,
      runner_id: "runner-1",
      [where === "pickup" ? "arrived_at_pickup" : "arrived_at_dropoff"]: AT,
    },
    event: {
      type: "booking.runner_arrived",
      data: { ...withRunner, pet_name: "Rex", where, arrived_at: AT.toISOString() },
    },
  })),
  {
    from: "accepted",
    extra: { arrived_at_pickup: ARRIVED },
    command: moveOf("no_show_at_pickup", runner, { noShow: RULES, reason: "Nobody answered" }),
    changes: {
      status: "cancelled",
      runner_id: "runner-1",
      cancelled_at: AT,
      cancelled_by: "runner-1",
      cancel_reason: "no-show at pickup",
      final_price_cents: 500,
      no_show: noShowAt("pickup", "cancelled", { reason: "Nobody answered", fee_cents: 500 }),
    },
    event: {
      type: "booking.no_show",
      data: {
        ...withRunner,
        pet_name: "Rex",
        where: "pickup",
        outcome: "cancelled",
        fee_cents: 500,
        currency: "IDR",
        arrived_at: ARRIVED.toISOString(),
        reason: "Nobody answered",
      },
    },
  },
  {
    from: "in_transit",
    extra: { arrived_at_dropoff: ARRIVED },
    command: moveOf("no_show_at_dropoff", runner, {
      noShow: RULES,
      proof: { photo_id: "p-3", position: null },
    }),
    changes: {
      status: "returning",
      runner_id: "runner-1",
      no_show: noShowAt("dropoff", "returning", { photo_id: "p-3" }),
    },
    event: {
      type: "booking.no_show",
      data: {
        ...withRunner,
        pet_name: "Rex",
        where: "dropoff",
        outcome: "returning",
        fee_cents: 0,
        currency: "IDR",
        arrived_at: ARRIVED.toISOString(),
        photo_id: "p-3",
      },
    },
  },
  {
    from: "in_transit",
    extra: { arrived_at_dropoff: ARRIVED },
    command: moveOf("no_show_to_ops", runner, { noShow: RULES }),
    changes: {
      status: "disputed",
      runner_id: "runner-1",
      auto_confirm_at: null,
      no_show: noShowAt("dropoff", "ops"),
      dispute: {
        reason: "no_show",
        text: "Nobody came to the drop-off",
        photo_ids: [],
        opened_by: "runner-1",
        opened_at: AT,
        outcome: null,
        refund_cents: null,
        note: null,
        resolved_by: null,
        resolved_at: null,
      },
    },
    event: {
      type: "booking.no_show",
      data: {
        ...withRunner,
        pet_name: "Rex",
        where: "dropoff",
        outcome: "ops",
        fee_cents: 0,
        currency: "IDR",
        arrived_at: ARRIVED.toISOString(),
      },
    },
  },
  {
    from: "returning",
    command: moveOf("hand_back", runner, {
      noShow: RULES,
      proof: { photo_id: "p-4", position: PICKUP },
    }),
    changes: {
      status: "returned",
      runner_id: "runner-1",
      returned_at: AT,
      return_proof: { photo_id: "p-4", at: AT, position: PICKUP },
      final_price_cents: 500,
    },
    event: {
      type: "booking.returned",
      data: {
        ...withRunner,
        pet_name: "Rex",
        returned_at: AT.toISOString(),
        charge_cents: 500,
        currency: "IDR",
        photo_id: "p-4",
        proof_lat: -6.2,
        proof_lng: 106.8,
      },
    },
  },
];
