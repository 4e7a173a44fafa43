import type { Actor } from "../../domain/access";
import { decide, proofTakenFrom, takenForThisStep } from "../../domain/booking";
import { splitHold } from "../../domain/fees";
import {
  arrivalProblem,
  metresBetween,
  noShowFee,
  noShowTooEarly,
  returnCharge,
  spoken,
  waitLeftMs,
} from "../../domain/no-show";
import { TEMPLATES } from "../../domain/notifications";
import { AT, bookingIn, moveOf } from "../support/booking-fixtures";
import { givenWhenThen } from "../support/decider";
import { ARRIVED, RULES, WAIT_MS, noShowAt } from "../support/no-show-moves";

const given = givenWhenThen(decide);
const runner: Actor = { role: "runner", sub: "runner-1" };
const PICKUP = { lat: -6.2, lng: 106.8 };

describe("no-shows: the rules", () => {
  it("given a position within ARRIVAL_RADIUS_M of the place, then it is an arrival; beyond, the refusal names the distance", () => {
    expect(arrivalProblem({ lat: -6.2009, lng: 106.8 }, PICKUP, 150, "pickup")).toBeNull();
    const far = { lat: -6.2025, lng: 106.8 };
    expect(metresBetween(far, PICKUP)).toBe(278);
    expect(arrivalProblem(far, PICKUP, 150, "dropoff")).toBe(
      "You are 278 m from the drop-off: come within 150 m",
    );
  });

  it("given the wait, then the time left is counted from the arrival and said as a person reads it", () => {
    expect(waitLeftMs(ARRIVED, AT, WAIT_MS)).toBe(0);
    const justNow = new Date(AT.getTime() - 167_500);
    expect(waitLeftMs(justNow, AT, WAIT_MS)).toBe(432_500);
    expect(noShowTooEarly(justNow, AT, WAIT_MS, "pickup")).toBe(
      "Wait 7 min 13 s more: a no-show may be declared 10 min after the arrival",
    );
    expect(noShowTooEarly(null, AT, WAIT_MS, "dropoff")).toBe(
      "Report your arrival at the drop-off first (POST /api/bookings/:id/arrive)",
    );
    expect([spoken(45_000), spoken(60_000)]).toEqual(["45 s", "1 min"]);
  });

  it.each([
    [500, 5_000_000, 500],
    [500, 300, 300],
    [0, 5_000_000, 0],
  ])(
    "given a fee of %i and a hold of %i, then the runner's fee is %i: never more than the hold",
    (fee, held, taken) => {
      expect(noShowFee(fee, held)).toBe(taken);
    },
  );

  it("given a pet handed back, then NO_SHOW_RETURN_CHARGE says what it costs: the fee by default, or the whole hold", () => {
    expect(returnCharge(RULES, 5_000_000)).toBe(500);
    expect(returnCharge({ ...RULES, returnCharge: "fee" }, 300)).toBe(300);
    expect(returnCharge({ ...RULES, returnCharge: "price" }, 5_000_000)).toBe(5_000_000);
    expect(returnCharge(undefined, 5_000_000)).toBe(0);
  });

  it("given a pickup no-show's fee, then payout + platform fee + refunded = held", () => {
    const split = splitHold(5_000_000, 5_000_000 - 500, 2000);
    expect(split).toEqual({
      capturedCents: 500,
      platformFeeCents: 100,
      runnerPayoutCents: 400,
      refundedCents: 4_999_500,
    });
    expect(split.runnerPayoutCents + split.platformFeeCents + split.refundedCents).toBe(5_000_000);
  });
});

describe("no-shows: the decider", () => {
  it("given an accepted booking its runner reached a moment ago, when it declares a no-show, then it is refused with the time left", () => {
    const justNow = new Date(AT.getTime() - 60_000);
    given(bookingIn("accepted", { arrived_at_pickup: justNow }))
      .when(moveOf("no_show_at_pickup", runner, { noShow: RULES }))
      .thenRefused(
        "conflict",
        "Wait 9 min more: a no-show may be declared 10 min after the arrival",
        { payment_status: "held" },
      );
  });

  it("given a booking made for a later pickup its runner reached early, when it declares a no-show after the wait, then it is refused until the wait after the booked time", () => {
    const pickupAt = new Date(AT.getTime() + 5 * 60_000);
    given(bookingIn("accepted", { arrived_at_pickup: ARRIVED, pickup_at: pickupAt }))
      .when(moveOf("no_show_at_pickup", runner, { noShow: RULES }))
      .thenRefused(
        "conflict",
        "Wait 15 min more: a no-show may be declared 10 min after the arrival",
        { payment_status: "held" },
      );
    given(bookingIn("accepted", { arrived_at_pickup: ARRIVED, pickup_at: ARRIVED }))
      .when(moveOf("no_show_at_pickup", runner, { noShow: RULES }))
      .thenAccepted();
  });

  it("given an in_transit booking its runner never reported reaching, when it declares a no-show, then it is refused", () => {
    given(bookingIn("in_transit"))
      .when(moveOf("no_show_at_dropoff", runner, { noShow: RULES }))
      .thenRefused(
        "conflict",
        "Report your arrival at the drop-off first (POST /api/bookings/:id/arrive)",
        { payment_status: "held" },
      );
  });

  it("given a hold smaller than the fee, when nobody came to the pickup, then the fee is the hold", () => {
    const decision = given(
      bookingIn("accepted", { arrived_at_pickup: ARRIVED, estimated_price_cents: 300 }),
    )
      .when(moveOf("no_show_at_pickup", runner, { noShow: RULES }))
      .thenAccepted();
    expect(decision.changes.final_price_cents).toBe(300);
    expect(decision.changes.no_show?.fee_cents).toBe(300);
  });

  it.each([
    ["cancelled", "no_show_at_pickup", "pickup", "cancelled"],
    ["returning", "no_show_at_dropoff", "dropoff", "returning"],
    ["disputed", "no_show_to_ops", "dropoff", "ops"],
  ] as const)(
    "given a booking %s by a no-show, when its runner declares it again (%s), then it is a repeat",
    (status, type, where, outcome) => {
      given(bookingIn(status, { no_show: noShowAt(where, outcome) }))
        .when(moveOf(type, runner, { noShow: RULES }))
        .thenAccepted({ expect: { status }, changes: {} });
    },
  );

  it("given a booking its runner reached already, when it reports the arrival again, then the first stands", () => {
    given(bookingIn("accepted", { arrived_at_pickup: ARRIVED }))
      .when(moveOf("arrive_at_pickup", runner))
      .thenAccepted({ expect: { status: "accepted" }, changes: {} });
  });

  it("given a returning booking, when the owner or another runner hands the pet back, then it is refused", () => {
    given(bookingIn("returning"))
      .when(moveOf("hand_back", { role: "owner", sub: "owner-1" }))
      .thenRefused("forbidden", "Not allowed for this booking");
    given(bookingIn("returning"))
      .when(moveOf("hand_back", { role: "runner", sub: "runner-2" }))
      .thenRefused("not_found", "Booking not found");
  });
});

describe("a handover's photo is taken at that handover", () => {
  it("given each proving move, then the photo must be newer than the step before it", () => {
    const accepted_at = new Date(AT.getTime() - 4000);
    const picked_up_at = new Date(AT.getTime() - 3000);
    const arrived_at_dropoff = new Date(AT.getTime() - 2000);
    const declared_at = new Date(AT.getTime() - 1000);
    const booking = bookingIn("returning", {
      accepted_at,
      picked_up_at,
      arrived_at_dropoff,
      no_show: noShowAt("dropoff", "returning", { declared_at }),
    });
    expect(
      (["pickup", "deliver", "no_show_at_dropoff", "hand_back", "confirm"] as const).map((move) =>
        proofTakenFrom(booking, move),
      ),
    ).toEqual([accepted_at, picked_up_at, arrived_at_dropoff, declared_at, null]);
  });

  it("given a photo stamped by an instance whose clock runs a little behind, then it still proves the step; one from the step before does not", () => {
    const declared_at = new Date(AT.getTime() - 1000);
    const booking = bookingIn("returning", {
      picked_up_at: new Date(AT.getTime() - 600_000),
      no_show: noShowAt("dropoff", "returning", { declared_at }),
    });
    const secondsBefore = (s: number) => new Date(declared_at.getTime() - s * 1000);
    expect(takenForThisStep(booking, "hand_back", secondsBefore(30))).toBe(true);
    expect(takenForThisStep(booking, "hand_back", secondsBefore(31))).toBe(false);
    expect(takenForThisStep(booking, "confirm", secondsBefore(3600))).toBe(true);
  });
});

describe("no-shows: what the owner and the runner read", () => {
  const about = {
    booking_id: "b1",
    booking_number: "KLT-20261201-ABCDEF",
    owner_id: "owner-1",
    runner_id: "runner-1",
    pet_name: "Rex",
    occurred_at: AT.toISOString(),
  };

  it("given the runner at the pickup, then the owner is told to meet it", () => {
    const told = TEMPLATES["booking.runner_arrived"]?.({
      ...about,
      where: "pickup",
      arrived_at: AT.toISOString(),
    });
    expect(told?.map((m) => [m.to, m.title])).toEqual([
      [{ owner: "owner-1" }, "Booking KLT-20261201-ABCDEF: your runner is at the pickup"],
    ]);
  });

  it("given a pickup no-show, then both hear of it, the owner of the fee", () => {
    const told = TEMPLATES["booking.no_show"]?.({
      ...about,
      where: "pickup",
      outcome: "cancelled",
      fee_cents: 500,
      currency: "IDR",
      arrived_at: AT.toISOString(),
    });
    expect(told?.map((m) => [m.to, m.title])).toEqual([
      [{ owner: "owner-1" }, "Booking KLT-20261201-ABCDEF: nobody at the pickup"],
      [{ runner: "runner-1" }, "Booking KLT-20261201-ABCDEF: no-show recorded"],
    ]);
    expect(told?.[0].body).toContain("A no-show fee of IDR 5.00 is charged");
  });
});
