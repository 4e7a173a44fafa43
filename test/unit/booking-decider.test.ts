import { SYSTEM, type Actor } from "../../domain/access";
import {
  BOOKING_STATUSES,
  decide,
  freesRunner,
  holdReleasedBecause,
  slotIsFree,
  type Booking,
  type BookingCommand,
  type BookingStatus,
  type PaymentStatus,
} from "../../domain/booking";

const AT = new Date("2026-12-01T10:00:00.000Z");
const EARLIER = new Date("2026-12-01T09:00:00.000Z");
const owner: Actor = { role: "owner", sub: "owner-1" };
const runner: Actor = { role: "runner", sub: "runner-1" };
const stranger: Actor = { role: "owner", sub: "owner-2" };

const booking = (status: BookingStatus, extra: Partial<Booking> = {}): Booking => ({
  _id: "b1",
  booking_number: "KLT-20261201-ABCDEF",
  owner_id: "owner-1",
  runner_id: status === "requested" ? null : "runner-1",
  status,
  pet_type: "dog",
  pet_name: "Rex",
  notes: null,
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
  distance_km: 7.8,
  estimated_price_cents: 5_000_000,
  currency: "IDR",
  payment_status: "held",
  final_price_cents: null,
  accepted_at: null,
  picked_up_at: EARLIER,
  delivered_at: EARLIER,
  confirmed_at: null,
  completed_at: null,
  cancelled_at: null,
  cancelled_by: null,
  cancel_reason: null,
  auto_confirm_at: null,
  payment_due_at: null,
  created_at: EARLIER,
  updated_at: EARLIER,
  ...extra,
});

const base = {
  booking_id: "b1",
  booking_number: "KLT-20261201-ABCDEF",
  occurred_at: AT.toISOString(),
};
const parties = { runner_id: "runner-1", owner_id: "owner-1" };

/** Every move: the command, the status it leaves, what it sets beside the status, its event. */
const MOVES: [BookingCommand, BookingStatus, Partial<Booking>, unknown][] = [
  [
    { type: "accept", actor: runner, at: AT },
    "requested",
    { status: "accepted", runner_id: "runner-1", accepted_at: AT },
    { type: "booking.accepted", data: { ...base, ...parties } },
  ],
  [
    { type: "pickup", actor: runner, at: AT },
    "accepted",
    { status: "picked_up", runner_id: "runner-1", picked_up_at: AT },
    {
      type: "booking.pet_picked_up",
      data: { ...base, ...parties, picked_up_at: AT.toISOString() },
    },
  ],
  [
    { type: "depart", actor: runner, at: AT },
    "picked_up",
    { status: "in_transit", runner_id: "runner-1" },
    {
      type: "booking.delivery_in_progress",
      data: { ...base, ...parties, picked_up_at: EARLIER.toISOString() },
    },
  ],
  [
    { type: "deliver", actor: runner, at: AT, autoConfirmAfterMs: 60_000 },
    "in_transit",
    {
      status: "delivered",
      runner_id: "runner-1",
      delivered_at: AT,
      auto_confirm_at: new Date(AT.getTime() + 60_000),
    },
    { type: "booking.delivered", data: { ...base, ...parties, delivered_at: AT.toISOString() } },
  ],
  [
    { type: "confirm", actor: owner, at: AT },
    "delivered",
    { status: "confirmed", runner_id: "runner-1", confirmed_at: AT, auto_confirm_at: null },
    {
      type: "booking.delivery_confirmed",
      data: { ...base, ...parties, delivered_at: EARLIER.toISOString() },
    },
  ],
  [
    { type: "complete", actor: SYSTEM, at: AT, final_price_cents: 4_900_000 },
    "confirmed",
    {
      status: "completed",
      runner_id: "runner-1",
      completed_at: AT,
      final_price_cents: 4_900_000,
      payment_status: "released",
    },
    {
      type: "booking.completed",
      data: { ...base, ...parties, final_price_cents: 4_900_000, currency: "IDR" },
    },
  ],
  [
    { type: "cancel", actor: owner, at: AT, reason: "plans changed" },
    "accepted",
    {
      status: "cancelled",
      runner_id: "runner-1",
      cancelled_at: AT,
      cancelled_by: "owner-1",
      cancel_reason: "plans changed",
    },
    {
      type: "booking.cancelled",
      data: { ...base, cancelled_by: "owner-1", reason: "plans changed" },
    },
  ],
];

describe("booking decider", () => {
  it.each(MOVES)(
    "given %j on a %s booking, then it sets its fields and publishes its event",
    (command, from, changes, event) => {
      expect(decide(booking(from), command)).toEqual({
        ok: true,
        expect:
          command.type === "accept"
            ? { status: from, runner_id: null, payment_status: "held" }
            : { status: from },
        changes: { ...changes, updated_at: AT },
        events: [event],
      });
    },
  );

  /** Where each move's booking is once it took effect: a retry there is a repeat. */
  const ROAD = BOOKING_STATUSES.slice(0, 7);
  const reached = (command: BookingCommand, status: BookingStatus) => {
    const to = MOVES.find(([c]) => c.type === command.type)?.[2].status as BookingStatus;
    return ROAD.includes(to) && ROAD.includes(status)
      ? ROAD.indexOf(status) >= ROAD.indexOf(to)
      : status === to;
  };

  it.each(
    MOVES.flatMap(([command, from]) =>
      BOOKING_STATUSES.filter(
        (s) =>
          s !== from && !(command.type === "cancel" && s === "requested") && !reached(command, s),
      ).map((s) => [command, s] as const),
    ),
  )("given %j on a %s booking, then it is a conflict naming the status", (command, status) => {
    const refused = decide(booking(status, { runner_id: "runner-1" }), command);
    expect(refused).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: expect.stringMatching(/^An? \w+ booking cannot be [a-z ]+$/) as string,
        data: { status },
      },
    });
  });

  it.each(
    MOVES.flatMap(([command]) =>
      BOOKING_STATUSES.filter((s) => reached(command, s)).map((s) => [command, s] as const),
    ),
  )(
    "given %j on a %s booking, which it reached already, then it is a repeat: nothing changes, nothing is published",
    (command, status) => {
      expect(decide(booking(status, { runner_id: "runner-1" }), command)).toEqual({
        ok: true,
        expect: { status },
        changes: {},
        events: [],
      });
    },
  );

  it("reads a refusal as a person would: no 'pickuped'", () => {
    expect(decide(booking("cancelled"), { type: "pickup", actor: runner, at: AT })).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "A cancelled booking cannot be picked up",
        data: { status: "cancelled" },
      },
    });
    expect(
      decide(booking("in_transit"), { type: "cancel", actor: owner, at: AT, reason: "x" }),
    ).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "An in_transit booking cannot be cancelled",
        data: { status: "in_transit" },
      },
    });
  });

  it("hides a booking from who may not see it, and refuses who may see it but not move it", () => {
    expect(decide(booking("accepted"), { type: "confirm", actor: stranger, at: AT })).toEqual({
      ok: false,
      rejection: { kind: "not_found", message: "Booking not found" },
    });
    expect(decide(null, { type: "pickup", actor: runner, at: AT })).toEqual({
      ok: false,
      rejection: { kind: "not_found", message: "Booking not found" },
    });
    expect(decide(booking("delivered"), { type: "pickup", actor: owner, at: AT })).toEqual({
      ok: false,
      rejection: { kind: "forbidden", message: "Not allowed for this booking" },
    });
  });

  it("given the escrow not held, when a runner accepts, then it is a conflict naming the payment", () => {
    expect(
      decide(booking("requested", { payment_status: "pending" }), {
        type: "accept",
        actor: runner,
        at: AT,
      }),
    ).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "The escrow for this booking is not held yet",
        data: { payment_status: "pending" },
      },
    });
  });

  it("given no booking, when an owner requests one, then it is created with booking.requested", () => {
    const decision = decide(null, {
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
    });
    expect(decision).toEqual({
      ok: true,
      expect: {},
      changes: booking("requested", {
        payment_status: "unpaid",
        payment_due_at: new Date("2026-12-01T10:30:00.000Z"),
        picked_up_at: null,
        delivered_at: null,
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
      ALL_PAYMENT.map((status) => [report, status, from.includes(status)] as const),
    ),
  )(
    "given a payment %s report on a %s payment, then it is recorded: %s",
    (payment_status, current, recorded) => {
      const decision = decide(booking("requested", { payment_status: current }), {
        type: "record_payment",
        payment_status,
        at: AT,
      });
      expect(decision.ok).toBe(recorded);
      if (decision.ok) {
        expect(decision).toEqual({
          ok: true,
          expect: { status: "requested", payment_status: current },
          changes: { payment_status, updated_at: AT },
          events: [],
        });
      }
    },
  );

  it("given a cancelled booking, when the hold arrives, then it is not recorded as held", () => {
    expect(
      decide(booking("cancelled", { payment_status: "unpaid" }), {
        type: "record_payment",
        payment_status: "held",
        at: AT,
      }).ok,
    ).toBe(false);
  });

  it("given an unpaid booking past its deadline, when the system expires it, then it is expired with booking.expired, guarded on the payment not held", () => {
    const due = new Date("2026-12-01T09:30:00.000Z");
    expect(
      decide(booking("requested", { payment_status: "failed", payment_due_at: due }), {
        type: "expire",
        actor: SYSTEM,
        at: AT,
      }),
    ).toEqual({
      ok: true,
      expect: { status: "requested", payment_status: "failed" },
      changes: { status: "expired", runner_id: null, updated_at: AT },
      events: [
        {
          type: "booking.expired",
          data: { ...base, owner_id: "owner-1", payment_due_at: due.toISOString() },
        },
      ],
    });
  });

  it("given a held escrow, when the system expires the booking, then it is a conflict: it waits for a runner", () => {
    expect(decide(booking("requested"), { type: "expire", actor: SYSTEM, at: AT })).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "The escrow for this booking is held: it waits for a runner",
        data: { payment_status: "held" },
      },
    });
  });

  it("given an accepted booking, when the system expires it, then it is a conflict naming the status", () => {
    expect(decide(booking("accepted"), { type: "expire", actor: SYSTEM, at: AT })).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "An accepted booking cannot be expired",
        data: { status: "accepted" },
      },
    });
  });

  it("given an unpaid booking, when its owner tries to expire it, then it is not allowed", () => {
    expect(
      decide(booking("requested", { payment_status: "unpaid" }), {
        type: "expire",
        actor: owner,
        at: AT,
      }),
    ).toEqual({
      ok: false,
      rejection: { kind: "forbidden", message: "Not allowed for this booking" },
    });
  });

  it("given an expired booking, when the hold arrives, then it is not recorded as held", () => {
    expect(
      decide(booking("expired", { payment_status: "unpaid" }), {
        type: "record_payment",
        payment_status: "held",
        at: AT,
      }).ok,
    ).toBe(false);
  });

  it("releases what is held for a cancelled or expired booking, and for no other", () => {
    expect(BOOKING_STATUSES.map((status) => [status, holdReleasedBecause(status)])).toEqual([
      ["requested", null],
      ["accepted", null],
      ["picked_up", null],
      ["in_transit", null],
      ["delivered", null],
      ["confirmed", null],
      ["completed", null],
      ["cancelled", "booking cancelled"],
      ["expired", "booking expired unpaid"],
    ]);
  });

  it("frees the runner on delivery and on cancellation only", () => {
    expect(BOOKING_STATUSES.filter(freesRunner)).toEqual(["delivered", "cancelled"]);
  });

  it.each([
    ["nothing held", null, 0, true],
    ["a booking over", { status: "completed", runner_id: "runner-1" }, 0, true],
    ["someone else's booking", { status: "accepted", runner_id: "runner-2" }, 0, true],
    ["an accept that never finished", { status: "requested", runner_id: null }, 30_000, true],
    ["an accept in flight", { status: "requested", runner_id: null }, 29_999, false],
    ["its active booking", { status: "in_transit", runner_id: "runner-1" }, 60_000, false],
  ] as const)(
    "given a slot held for %s, then it may be taken over: %s",
    (_what, holder, age, free) => {
      expect(slotIsFree("runner-1", holder, age)).toBe(free);
    },
  );
});
