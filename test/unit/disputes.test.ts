import { PaymentRejected } from "../../adapters/payments/port";
import { SimulatedPaymentProvider } from "../../adapters/payments/simulated";
import { SYSTEM, type Actor } from "../../domain/access";
import {
  REPORT_NEEDED,
  decide,
  type Booking,
  type BookingMove,
  type BookingStatus,
} from "../../domain/booking";
import { refundOf, refundProblem, type DisputeResolution } from "../../domain/disputes";
import { splitHold } from "../../domain/fees";
import { decide as decidePayment, type Payment } from "../../domain/payment";
import { notificationsFor } from "../../domain/notifications";
import { parsePayload, type EventPayload, type EventType } from "../../events/catalog";
import { createEvent } from "../../events/envelope";
import { paymentIn } from "../support/payment-fixtures";
import { AT, EARLIER, bookingIn, moveOf, openedDispute } from "../support/booking-fixtures";
import { givenWhenThen } from "../support/decider";

/** What bookingIn holds. */
const HELD = 5_000_000;

const owner: Actor = { role: "owner", sub: "owner-1" };
const admin: Actor = { role: "admin", sub: "admin-1" };

const given = givenWhenThen(decide);

const OPENED = openedDispute({ reason: "injured", text: "A cut on the paw", photo_ids: [] });

/** owner-1's booking of Rex, carried by runner-1, 5,000,000 held, waiting for its owner. */
const booking = (status: BookingStatus, extra: Partial<Booking> = {}): Booking =>
  bookingIn(status, { runner_id: "runner-1", accepted_at: EARLIER, auto_confirm_at: AT, ...extra });
const move = moveOf;
const report = { reason: "injured", text: "A cut on the paw", photo_ids: [] };
const resolve = (resolution: DisputeResolution) => move("resolve", admin, { resolution });

/** The booking as a decision leaves it. */
function after(state: Booking, command: BookingMove): Booking {
  const decision = decide(state, command);
  if (!decision.ok) throw new Error(decision.rejection.message);
  return { ...state, ...decision.changes };
}

describe("a dispute against the auto-confirm: one winner", () => {
  it("given a delivered booking, when the owner disputes and the sweep confirms at the same moment, then both writes are guarded on `delivered`: the second to land is refused", () => {
    const delivered = booking("delivered");
    const disputed = given(delivered)
      .when(move("dispute", owner, { report }))
      .thenAccepted();
    const confirmed = given(delivered).when(move("confirm", SYSTEM)).thenAccepted();
    expect([disputed.expect, confirmed.expect]).toEqual([
      { status: "delivered" },
      { status: "delivered" },
    ]);
  });

  it("given the dispute landed first, when the sweep's confirm is decided again, then it is a conflict, and the sweep no longer finds the booking (no auto-confirm time)", () => {
    const disputed = after(booking("delivered"), move("dispute", owner, { report }));
    expect([disputed.status, disputed.auto_confirm_at]).toEqual(["disputed", null]);
    given(disputed)
      .when(move("confirm", SYSTEM))
      .thenRefused("conflict", "A disputed booking cannot be confirmed", { status: "disputed" });
  });

  it("given the sweep's confirm landed first, when the owner's dispute is decided again, then it is a conflict: too late", () => {
    const confirmed = after(booking("delivered"), move("confirm", SYSTEM));
    given(confirmed)
      .when(move("dispute", owner, { report }))
      .thenRefused("conflict", "A confirmed booking cannot be disputed", { status: "confirmed" });
  });

  it("given a disputed booking, when the owner disputes again (a double tap), then it is a repeat: the first report stands", () => {
    given(booking("disputed", { dispute: OPENED, auto_confirm_at: null }))
      .when(move("dispute", owner, { report: { ...report, reason: "late" } }))
      .thenAccepted({ expect: { status: "disputed" }, changes: {} });
  });

  it("given a delivered booking, when a dispute comes without a report, then it is refused", () => {
    given(booking("delivered"))
      .when(move("dispute", owner))
      .thenRefused("conflict", REPORT_NEEDED, { payment_status: "held" });
  });
});

describe("resolving a dispute", () => {
  const disputed = booking("disputed", { dispute: OPENED, auto_confirm_at: null });

  it.each([
    [{ outcome: "partial_refund" }, "required with outcome partial_refund"],
    [
      { outcome: "partial_refund", refund_cents: 0 },
      "a partial refund is 1 to 4999999 (the hold is 5000000)",
    ],
    [
      { outcome: "partial_refund", refund_cents: HELD },
      "a partial refund is 1 to 4999999 (the hold is 5000000)",
    ],
    [
      { outcome: "partial_refund", refund_cents: 1.5 },
      "a partial refund is 1 to 4999999 (the hold is 5000000)",
    ],
    [{ outcome: "release", refund_cents: 10 }, "only with outcome partial_refund"],
  ] as const)(
    "given a disputed booking, when an admin resolves it with %j, then it is refused: %s",
    (resolution, problem) => {
      expect(refundProblem(resolution, HELD)).toBe(problem);
      given(disputed)
        .when(resolve(resolution))
        .thenRefused("conflict", `refund_cents: ${problem}`, { payment_status: "held" });
    },
  );

  it.each([
    [{ outcome: "partial_refund", refund_cents: 1 }, 1],
    [{ outcome: "partial_refund", refund_cents: HELD - 1 }, HELD - 1],
    [{ outcome: "release" }, 0],
    [{ outcome: "full_refund" }, HELD],
  ] as const)(
    "given a hold of 5,000,000, when resolved with %j, then %d goes back",
    (resolution, back) => {
      expect([refundProblem(resolution, HELD), refundOf(resolution, HELD)]).toEqual([null, back]);
    },
  );

  it("given a resolved dispute, when the same resolution comes again, then it is a repeat; another one is a conflict", () => {
    const partial = { outcome: "partial_refund", refund_cents: 1_000 } as const;
    const resolved = after(disputed, resolve(partial));
    given(resolved)
      .when(resolve(partial))
      .thenAccepted({ expect: { status: "confirmed" }, changes: {} });
    given(resolved)
      .when(resolve({ outcome: "full_refund" }))
      .thenRefused("conflict", "A confirmed booking cannot be resolved", { status: "confirmed" });
    given(resolved)
      .when(resolve({ ...partial, refund_cents: 2_000 }))
      .thenRefused("conflict", "A confirmed booking cannot be resolved", { status: "confirmed" });
  });

  it("given a booking the owner confirmed (never disputed), when an admin resolves it, then it is a conflict, not a repeat", () => {
    given(booking("completed"))
      .when(resolve({ outcome: "release" }))
      .thenRefused("conflict", "A completed booking cannot be resolved", { status: "completed" });
  });

  it("given a dispute resolved by release, when the escrow is refunded anyway (a refund in Stripe), then the booking does not end refunded", () => {
    const released = after(disputed, resolve({ outcome: "release" }));
    given(released)
      .when(move("refund", SYSTEM))
      .thenRefused("conflict", "Only a dispute resolved with a full refund ends refunded", {
        payment_status: "held",
      });
  });

  it("given a dispute resolved with a full refund, when its refund is reported twice, then the second changes nothing", () => {
    const refunded = after(
      after(disputed, resolve({ outcome: "full_refund" })),
      move("refund", SYSTEM),
    );
    expect([refunded.status, refunded.payment_status, refunded.final_price_cents]).toEqual([
      "refunded",
      "refunded",
      0,
    ]);
    given(refunded)
      .when(move("refund", SYSTEM))
      .thenAccepted({ expect: { status: "refunded" }, changes: {} });
  });
});

describe("the money of a dispute: payout + fee + refunded = held", () => {
  const amounts = [1, 2, 3, 99, 101, 333, 1_001, 49_999, 56_358, 5_000_000, 12_345_677];
  const fees = [0, 1, 333, 1_999, 2_000, 2_500, 9_999, 10_000];

  it.each(fees)(
    "given a fee of %d bps, when any hold is settled with any refund, then the parts add up to the hold",
    (bps) => {
      for (const held of amounts) {
        const refunds = [0, 1, Math.floor(held / 3), Math.floor(held / 2), held - 1, held];
        for (const refund of refunds.filter((cents) => cents >= 0 && cents <= held)) {
          const split = splitHold(held, refund, bps);
          expect(split.runnerPayoutCents + split.platformFeeCents + split.refundedCents).toBe(held);
          expect(split.capturedCents).toBe(held - refund);
          expect(split.runnerPayoutCents + split.platformFeeCents).toBe(split.capturedCents);
          expect(Math.min(split.runnerPayoutCents, split.platformFeeCents)).toBeGreaterThanOrEqual(
            0,
          );
        }
      }
    },
  );

  it("given 20 %, when 5,000,000 is held and 1,250,001 refunded, then the fee is taken on the captured part, rounded", () => {
    expect(splitHold(HELD, 1_250_001, 2_000)).toEqual({
      capturedCents: 3_749_999,
      platformFeeCents: 750_000,
      runnerPayoutCents: 2_999_999,
      refundedCents: 1_250_001,
    });
  });

  const payment = paymentIn("held", { amount_cents: HELD });
  const ref = { booking_id: "b1", booking_number: "KLT-20261201-ABCDEF", owner_id: "owner-1" };

  it("given a held payment, when less than the hold is captured, then payment.partially_refunded comes before payment.escrow_released, and the parts add up", () => {
    const decision = givenWhenThen(decidePayment)(payment)
      .when({
        type: "captured",
        provider_ref: "pi_1",
        runner_id: "runner-1",
        captured_cents: 3_749_999,
        fee_bps: 2_000,
        reason: "dispute resolved: partial refund",
        at: AT,
      })
      .thenAccepted({
        expect: { status: "held", provider_ref: "pi_1" },
        changes: {
          status: "captured",
          runner_id: "runner-1",
          captured_cents: 3_749_999,
          platform_fee_cents: 750_000,
          runner_payout_cents: 2_999_999,
          refunded_cents: 1_250_001,
          updated_at: AT,
        },
        events: [
          {
            type: "payment.partially_refunded",
            data: {
              payment_id: "pay_b1",
              ...ref,
              runner_id: "runner-1",
              amount_cents: HELD,
              captured_cents: 3_749_999,
              refunded_cents: 1_250_001,
              currency: "IDR",
              refund_reason: "dispute resolved: partial refund",
              occurred_at: AT.toISOString(),
            },
          },
          {
            type: "payment.escrow_released",
            data: {
              payment_id: "pay_b1",
              ...ref,
              runner_id: "runner-1",
              runner_payout_cents: 2_999_999,
              platform_fee_cents: 750_000,
              currency: "IDR",
              occurred_at: AT.toISOString(),
            },
          },
        ],
      });
    for (const event of decision.events) {
      expect(() => parsePayload(event.type, event.data)).not.toThrow();
    }
    const after = { ...payment, ...decision.changes };
    expect(after.runner_payout_cents + after.platform_fee_cents + after.refunded_cents).toBe(HELD);
  });
});

describe("a card dispute Stripe reports", () => {
  const captured: Payment = {
    _id: "pay_b1",
    booking_id: "b1",
    owner_id: "owner-1",
    runner_id: "runner-1",
    amount_cents: HELD,
    currency: "IDR",
    status: "captured",
    provider: "stripe",
    provider_ref: "pi_1",
    payment_method: "pm_card_visa",
    captured_cents: HELD,
    platform_fee_cents: 1_000_000,
    runner_payout_cents: 4_000_000,
    refunded_cents: 0,
    failure_reason: null,
    created_at: EARLIER,
    updated_at: EARLIER,
  };
  const card = { id: "dp_1", reason: "fraudulent", amount_cents: HELD };
  const disputed = (status: string, closed: boolean) =>
    ({ type: "charge_disputed", dispute: { ...card, status, closed }, at: AT }) as const;
  const givenPayment = givenWhenThen(decidePayment);

  it("given a captured payment, when a dispute opens, then it is recorded, the payment's money untouched", () => {
    givenPayment(captured)
      .when(disputed("needs_response", false))
      .thenAccepted({
        expect: { status: "captured" },
        changes: {
          stripe_dispute: { ...card, status: "needs_response", opened_at: AT, closed_at: null },
          updated_at: AT,
        },
      });
  });

  it("given a closed dispute, when news of its opening comes late, then nothing changes; a held payment has no charge to dispute", () => {
    const closed = {
      ...captured,
      stripe_dispute: { ...card, status: "won", opened_at: EARLIER, closed_at: EARLIER },
    };
    givenPayment(closed).when(disputed("needs_response", false)).thenRefused();
    givenPayment({ ...captured, status: "held" })
      .when(disputed("needs_response", false))
      .thenRefused();
  });
});

describe("the simulated provider captures less than the hold, as Stripe's amount_to_capture does", () => {
  const hold = {
    paymentId: "pay-1",
    bookingId: "b-1",
    amountCents: 50_000,
    currency: "IDR",
    paymentMethod: "pm_card_visa",
  };
  const capture = (providerRef: string, amountCents: number) => ({
    paymentId: "pay-1",
    providerRef,
    amountCents,
    currency: "IDR",
    payoutCents: 0,
  });

  it("given a hold of 50,000, when 30,000 is captured, then 30,000 is taken and at most that can be refunded later", async () => {
    const provider = new SimulatedPaymentProvider();
    const held = await provider.authorize(hold, "pay-1:authorize");
    if (held.status !== "held") throw new Error("not held");
    expect(await provider.capture(capture(held.providerRef, 30_000), "pay-1:capture")).toEqual({
      capturedCents: 30_000,
    });
    // Asked again under its key: the same answer.
    expect(await provider.capture(capture(held.providerRef, 30_000), "pay-1:capture")).toEqual({
      capturedCents: 30_000,
    });
    await expect(provider.refund(held.providerRef, 30_001, "pay-1:refund")).rejects.toEqual(
      new PaymentRejected("refund exceeds the captured amount"),
    );
  });

  it("given a hold, when nothing or more than it is to be captured, then the provider refuses", async () => {
    const provider = new SimulatedPaymentProvider();
    const held = await provider.authorize(hold, "pay-2:authorize");
    if (held.status !== "held") throw new Error("not held");
    await expect(provider.capture(capture(held.providerRef, 0), "pay-2:capture")).rejects.toEqual(
      new PaymentRejected("amount_too_small"),
    );
    await expect(
      provider.capture(capture(held.providerRef, 50_001), "pay-2:capture"),
    ).rejects.toEqual(new PaymentRejected("amount_too_large"));
  });
});

describe("who hears of a dispute", () => {
  const envelope = <T extends EventType>(type: T, data: EventPayload<T>) =>
    createEvent(type, parsePayload(type, data), { service: "test" });
  const about = {
    booking_id: "b1",
    booking_number: "KLT-20261201-ABCDEF",
    owner_id: "owner-1",
    runner_id: "runner-1",
    occurred_at: AT.toISOString(),
  };

  it("given a dispute, when it is reported and resolved, then the owner and the runner each hear of it", () => {
    const reported = notificationsFor(
      envelope("booking.disputed", { ...about, pet_name: "Rex", ...report }),
    );
    const resolved = notificationsFor(
      envelope("booking.dispute_resolved", {
        ...about,
        outcome: "partial_refund",
        refund_cents: 1_250_000,
        currency: "IDR",
        resolved_by: "admin-1",
      }),
    );
    expect(reported.map((n) => [n.recipient_role, n.title])).toEqual([
      ["owner", "Booking KLT-20261201-ABCDEF: problem reported"],
      ["runner", "Booking KLT-20261201-ABCDEF: the owner reported a problem"],
    ]);
    expect(resolved.map((n) => [n.recipient_role, n.body])).toEqual([
      [
        "owner",
        "We looked into it: IDR 12,500.00 is returned to you, the rest is paid to the runner.",
      ],
      [
        "runner",
        "We looked into it: IDR 12,500.00 is returned to the owner, and you are paid for the rest.",
      ],
    ]);
  });
});
