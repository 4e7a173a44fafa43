import {
  decide,
  eventOf,
  type Actor,
  type BookingCommand,
  type BookingState,
  type BookingStatus,
} from "../../domain/booking-lifecycle";

const owner: Actor = { role: "owner", sub: "owner-1" };
const otherOwner: Actor = { role: "owner", sub: "owner-2" };
const runner: Actor = { role: "runner", sub: "runner-1" };
const otherRunner: Actor = { role: "runner", sub: "runner-2" };
const admin: Actor = { role: "admin", sub: "admin-1" };
const system: Actor = { role: "system", sub: "system" };

const booking = (status: BookingStatus, extra: Partial<BookingState> = {}): BookingState => ({
  status,
  owner_id: "owner-1",
  runner_id: status === "requested" ? null : "runner-1",
  payment_status: "held",
  ...extra,
});

const ALL: BookingStatus[] = [
  "requested",
  "accepted",
  "picked_up",
  "in_transit",
  "delivered",
  "confirmed",
  "completed",
  "cancelled",
  "expired",
];

/** Every legal move: command, actor, from → to. Everything else is illegal. */
const LEGAL: [BookingCommand["type"], Actor, BookingStatus, BookingStatus][] = [
  ["accept", runner, "requested", "accepted"],
  ["pickup", runner, "accepted", "picked_up"],
  ["depart", runner, "picked_up", "in_transit"],
  ["deliver", runner, "in_transit", "delivered"],
  ["confirm", owner, "delivered", "confirmed"],
  ["confirm", system, "delivered", "confirmed"],
  ["complete", system, "confirmed", "completed"],
  ["cancel", owner, "requested", "cancelled"],
  ["cancel", owner, "accepted", "cancelled"],
  ["cancel", runner, "accepted", "cancelled"],
  ["expire", system, "requested", "expired"],
];

describe("booking state machine", () => {
  it.each(LEGAL)(
    "given %s by %j from %s, then the booking moves to %s",
    (type, actor, from, to) => {
      // An unpaid booking, for the one move that needs it: expiring.
      const state = booking(from, type === "expire" ? { payment_status: "unpaid" } : {});
      const decision = decide(state, { type, actor });
      expect(decision).toEqual({
        ok: true,
        from,
        to,
        runner_id: from === "requested" && type !== "accept" ? null : "runner-1",
      });
    },
  );

  /** The road in order, and where each move goes: a booking at or past it has had the move. */
  const ROAD: BookingStatus[] = ALL.slice(0, 7);
  const TARGET = new Map(LEGAL.map(([type, , , to]) => [type, to]));
  const hadMove = (type: BookingCommand["type"], status: BookingStatus) => {
    const target = TARGET.get(type) as BookingStatus;
    return ROAD.includes(target) && ROAD.includes(status)
      ? ROAD.indexOf(status) >= ROAD.indexOf(target)
      : status === target;
  };

  /** Each (command, actor) in every state it cannot leave from and has not had it in. */
  const pairs = [
    ...new Map(
      LEGAL.map(([type, actor]) => [`${type}/${actor.role}`, [type, actor] as const]),
    ).values(),
  ];
  const illegal = pairs.flatMap(([type, actor]) =>
    ALL.filter(
      (status) => !LEGAL.some(([t, , f]) => t === type && f === status) && !hadMove(type, status),
    ).map((status) => [type, actor.role, status] as const),
  );
  const repeats = pairs.flatMap(([type, actor]) =>
    ALL.filter((status) => hadMove(type, status)).map(
      (status) => [type, actor.role, status] as const,
    ),
  );

  it.each(repeats)(
    "given %s by a %s in %s, which it reached already, then it is a repeat that changes nothing",
    (type, role, status) => {
      const actor = [owner, runner, system].find((a) => a.role === role) as Actor;
      const current = booking(status, { runner_id: "runner-1" });
      expect(decide(current, { type, actor })).toEqual({ ok: true, repeat: true, from: status });
    },
  );

  it.each(illegal)(
    "given %s by a %s in %s, then it is an illegal transition (409)",
    (type, role, status) => {
      const actor = [owner, runner, system].find((a) => a.role === role) as Actor;
      // runner-1 is the booking's runner here, so only the state can be wrong
      const current = booking(status, { runner_id: "runner-1" });
      expect(decide(current, { type, actor })).toEqual({
        ok: false,
        reason: "illegal_transition",
        from: status,
      });
    },
  );

  it("given escrow not held, when a runner accepts, then it is refused as not payable", () => {
    for (const payment_status of ["unpaid", "pending", "failed"] as const) {
      expect(
        decide(booking("requested", { payment_status }), { type: "accept", actor: runner }),
      ).toEqual({
        ok: false,
        reason: "not_payable",
        from: "requested",
      });
    }
  });

  it("given a booking another runner accepted, when a runner retries an accept, then it is no repeat but illegal", () => {
    expect(decide(booking("picked_up"), { type: "accept", actor: otherRunner })).toEqual({
      ok: false,
      reason: "illegal_transition",
      from: "picked_up",
    });
  });

  it("given an accepted booking, when a second runner accepts, then it is illegal (the race's loser)", () => {
    expect(decide(booking("accepted"), { type: "accept", actor: otherRunner })).toEqual({
      ok: false,
      reason: "illegal_transition",
      from: "accepted",
    });
  });

  it.each([
    ["accept", owner, "requested"],
    ["accept", admin, "requested"],
    ["pickup", otherRunner, "accepted"],
    ["pickup", owner, "accepted"],
    ["depart", otherRunner, "picked_up"],
    ["deliver", admin, "in_transit"],
    ["confirm", otherOwner, "delivered"],
    ["confirm", runner, "delivered"],
    ["complete", owner, "confirmed"],
    ["complete", admin, "confirmed"],
    ["cancel", otherOwner, "requested"],
    ["cancel", otherRunner, "accepted"],
    ["expire", owner, "requested"],
    ["expire", admin, "requested"],
    ["expire", runner, "requested"],
  ] as const)("given %s by %j, then it is forbidden whatever the state", (type, actor, from) => {
    expect(decide(booking(from), { type, actor })).toEqual({
      ok: false,
      reason: "forbidden",
      from,
    });
  });

  it.each(["unpaid", "pending", "failed", "refunded"] as const)(
    "given a requested booking whose payment is %s, when the system expires it, then it expires",
    (payment_status) => {
      expect(
        decide(booking("requested", { payment_status }), { type: "expire", actor: system }),
      ).toEqual({ ok: true, from: "requested", to: "expired", runner_id: null });
    },
  );

  it("given a held escrow, when the system expires the booking, then it is refused: it is paid for", () => {
    expect(decide(booking("requested"), { type: "expire", actor: system })).toEqual({
      ok: false,
      reason: "paid",
      from: "requested",
    });
  });

  it("lets an admin cancel before pickup and confirm a delivery", () => {
    expect(decide(booking("accepted"), { type: "cancel", actor: admin }).ok).toEqual(true);
    expect(decide(booking("delivered"), { type: "confirm", actor: admin }).ok).toEqual(true);
    expect(decide(booking("picked_up"), { type: "cancel", actor: admin })).toEqual({
      ok: false,
      reason: "illegal_transition",
      from: "picked_up",
    });
  });

  it("names the event of every transition", () => {
    expect(ALL.map(eventOf)).toEqual([
      "booking.requested",
      "booking.accepted",
      "booking.pet_picked_up",
      "booking.delivery_in_progress",
      "booking.delivered",
      "booking.delivery_confirmed",
      "booking.completed",
      "booking.cancelled",
      "booking.expired",
    ]);
  });
});
