import {
  PAYMENT_STATUSES,
  decide,
  mayPayAgain,
  payable,
  paymentOutcome,
  type Payment,
  type PaymentRecordStatus,
  type PaymentStep,
} from "../../domain/payment";
import { stepKey } from "../../adapters/payments/port";

const AT = new Date("2026-12-01T10:00:00.000Z");
const BEFORE = new Date("2026-12-01T09:00:00.000Z");

const payment = (status: PaymentRecordStatus, extra: Partial<Payment> = {}): Payment => ({
  _id: "pay_b1",
  booking_id: "b1",
  owner_id: "owner-1",
  runner_id: null,
  amount_cents: 10_000,
  currency: "IDR",
  status,
  provider: "simulated",
  provider_ref: status === "created" ? null : "pi_1",
  payment_method: "pm_card_visa",
  captured_cents: 0,
  platform_fee_cents: 0,
  runner_payout_cents: 0,
  refunded_cents: 0,
  failure_reason: null,
  attempt: 1,
  created_at: BEFORE,
  updated_at: BEFORE,
  ...extra,
});

/** Every step, the statuses it leaves from, and where it goes. */
const TABLE: [string, PaymentStep, PaymentRecordStatus[], PaymentRecordStatus][] = [
  [
    "held",
    { type: "authorized", authorization: { status: "held", providerRef: "pi_1" } },
    ["created", "pending"],
    "held",
  ],
  [
    "pending",
    { type: "authorized", authorization: { status: "pending", providerRef: "pi_1" } },
    ["created"],
    "pending",
  ],
  [
    "declined",
    {
      type: "authorized",
      authorization: { status: "declined", providerRef: null, reason: "card_declined" },
    },
    ["created", "pending"],
    "failed",
  ],
  [
    "authorization_failed",
    { type: "authorization_failed", reason: "3ds" },
    ["created", "pending"],
    "failed",
  ],
  ["hold_lost", { type: "hold_lost", reason: "automatic" }, ["pending", "held"], "failed"],
  [
    "captured",
    { type: "captured", runner_id: "r1", captured_cents: 10_000, fee_bps: 2000 },
    ["held"],
    "captured",
  ],
  ["cancel_unauthorized", { type: "cancel_unauthorized" }, ["created"], "canceled"],
  [
    "hold_released",
    { type: "hold_released", provider_ref: "pi_1", reason: "plans changed" },
    ["held", "pending", "canceled"],
    "canceled",
  ],
  [
    "refunded",
    { type: "refunded", refunded_cents: 10_000, reason: "refunded in Stripe" },
    ["captured"],
    "refunded",
  ],
  ["retry", { type: "retry", payment_method: "pm_card_mastercard" }, ["failed"], "created"],
];

describe("escrow decider", () => {
  describe.each(TABLE)("%s", (_name, step, from, to) => {
    it.each(PAYMENT_STATUSES.filter((status) => from.includes(status)))(
      `given a %s payment, then it moves to ${to}, guarded on that status`,
      (status) => {
        const decision = decide(payment(status), { ...step, at: AT });
        if (!decision.ok) throw new Error(decision.rejection.message);
        expect([
          decision.expect.status,
          decision.changes.status,
          decision.changes.updated_at,
        ]).toEqual([status, to, AT]);
      },
    );
    it.each(PAYMENT_STATUSES.filter((status) => !from.includes(status)))(
      "given a %s payment, then it is a conflict and nothing changes",
      (status) => {
        expect(decide(payment(status), { ...step, at: AT })).toEqual({
          ok: false,
          rejection: {
            kind: "conflict",
            message: `${/^[aeiou]/.test(status) ? "An" : "A"} ${status} payment cannot take ${step.type}`,
            data: { status },
          },
        });
      },
    );
  });

  it("given no payment, when the owner opens one, then it is created with payment.escrow_created", () => {
    const decision = decide(null, {
      type: "open",
      id: "pay_b1",
      booking: { booking_id: "b1", owner_id: "owner-1", amount_cents: 10_000, currency: "IDR" },
      provider: "simulated",
      payment_method: "pm_card_visa",
      at: AT,
    });
    expect(decision).toEqual({
      ok: true,
      expect: {},
      changes: payment("created", { created_at: AT, updated_at: AT }),
      events: [
        {
          type: "payment.escrow_created",
          data: {
            payment_id: "pay_b1",
            booking_id: "b1",
            owner_id: "owner-1",
            amount_cents: 10_000,
            currency: "IDR",
            occurred_at: AT.toISOString(),
          },
        },
      ],
    });
    const again = decide(payment("created"), {
      type: "open",
      id: "pay_b1",
      booking: { booking_id: "b1", owner_id: "owner-1", amount_cents: 10_000, currency: "IDR" },
      provider: "simulated",
      payment_method: "pm_card_visa",
      at: AT,
    });
    expect(again).toEqual({
      ok: false,
      rejection: { kind: "conflict", message: "The booking is paid for already" },
    });
  });

  it("given no payment, when any step comes, then it is not found", () => {
    expect(decide(null, { type: "cancel_unauthorized", at: AT })).toEqual({
      ok: false,
      rejection: { kind: "not_found", message: "Payment not found" },
    });
  });

  it("given a held payment, when captured, then payout + fee = captured, in payment.escrow_released", () => {
    const decision = decide(payment("held"), {
      type: "captured",
      runner_id: "r1",
      captured_cents: 10_001,
      fee_bps: 2000,
      at: AT,
    });
    expect(decision).toEqual({
      ok: true,
      expect: { status: "held" },
      changes: {
        status: "captured",
        runner_id: "r1",
        captured_cents: 10_001,
        platform_fee_cents: 2000,
        runner_payout_cents: 8001,
        updated_at: AT,
      },
      events: [
        {
          type: "payment.escrow_released",
          data: {
            payment_id: "pay_b1",
            booking_id: "b1",
            runner_id: "r1",
            runner_payout_cents: 8001,
            platform_fee_cents: 2000,
            currency: "IDR",
            occurred_at: AT.toISOString(),
          },
        },
      ],
    });
  });

  it("given a hold that arrived after the cancellation, when released, then all of it is refunded, once", () => {
    const late = payment("canceled", { provider_ref: null });
    const released = decide(late, {
      type: "hold_released",
      provider_ref: "pi_late",
      reason: "booking cancelled",
      at: AT,
    });
    expect(released).toEqual({
      ok: true,
      expect: { status: "canceled", refunded_cents: 0 },
      changes: {
        status: "canceled",
        provider_ref: "pi_late",
        refunded_cents: 10_000,
        updated_at: AT,
      },
      events: [
        {
          type: "payment.escrow_refunded",
          data: {
            payment_id: "pay_b1",
            booking_id: "b1",
            owner_id: "owner-1",
            amount_cents: 10_000,
            currency: "IDR",
            refund_reason: "booking cancelled",
            occurred_at: AT.toISOString(),
          },
        },
      ],
    });
    // Released already (refunded = held): a second release is a conflict.
    expect(
      decide(payment("canceled", { refunded_cents: 10_000 }), {
        type: "hold_released",
        provider_ref: "pi_late",
        reason: "booking cancelled",
        at: AT,
      }).ok,
    ).toBe(false);
  });

  it("names each failure once: declined, failed after all, lost, and a step that failed for good", () => {
    const reasons = (
      [
        [
          {
            type: "authorized",
            authorization: { status: "declined", providerRef: null, reason: "card_declined" },
          },
          "created",
        ],
        [{ type: "authorization_failed", reason: "authentication_required" }, "pending"],
        [{ type: "hold_lost", reason: "automatic" }, "held"],
        [{ type: "hold_lost", reason: "abandoned" }, "held"],
        [{ type: "fail", reason: "nothing to capture: the payment is failed" }, "failed"],
      ] as [PaymentStep, PaymentRecordStatus][]
    ).map(([step, status]) => {
      const decision = decide(payment(status), { ...step, at: AT });
      return decision.ok ? (decision.events[0].data as { reason: string }).reason : decision;
    });
    expect(reasons).toEqual([
      "authorisation declined: card_declined",
      "authorisation failed: authentication_required",
      "authorisation expired",
      "authorisation abandoned",
      "nothing to capture: the payment is failed",
    ]);
  });

  it("keeps the status on a surfaced failure unless told to fail it", () => {
    expect(decide(payment("held"), { type: "fail", reason: "r", at: AT })).toEqual(
      expect.objectContaining({ changes: { failure_reason: "r", updated_at: AT } }),
    );
    expect(
      decide(payment("held"), { type: "fail", reason: "r", status: "failed", at: AT }),
    ).toEqual(
      expect.objectContaining({
        changes: { status: "failed", failure_reason: "r", updated_at: AT },
      }),
    );
  });

  it("surfaces a failure once: the same reason again changes nothing", () => {
    const surfaced = payment("failed", { failure_reason: "nothing to capture" });
    expect(decide(surfaced, { type: "fail", reason: "nothing to capture", at: AT }).ok).toBe(false);
    expect(decide(surfaced, { type: "fail", reason: "capture refused", at: AT }).ok).toBe(true);
  });

  it("says what the owner's request came to: created, queued (pending), or unchanged", () => {
    expect(paymentOutcome(payment("held"), true)).toBe("created");
    expect(paymentOutcome(payment("failed"), true)).toBe("created");
    expect(paymentOutcome(payment("pending"), true)).toBe("queued");
    expect(paymentOutcome(payment("held"), false)).toBe("unchanged");
  });

  describe("paying again after a failure", () => {
    const declined = payment("failed", {
      payment_method: "pm_card_chargeDeclined",
      provider_ref: null,
      failure_reason: "card_declined",
    });

    it("given a declined payment, when the owner pays with another method, then a new attempt starts, as fresh as the first", () => {
      expect(decide(declined, { type: "retry", payment_method: "pm_card_visa", at: AT })).toEqual({
        ok: true,
        expect: { status: "failed" },
        changes: {
          status: "created",
          payment_method: "pm_card_visa",
          attempt: 2,
          provider_ref: null,
          failure_reason: null,
          updated_at: AT,
        },
        events: [],
      });
    });

    it("given a payment stored before retries existed, when paid again, then it is the second attempt", () => {
      const legacy = { ...declined };
      delete legacy.attempt;
      const decision = decide(legacy, { type: "retry", payment_method: "pm_card_visa", at: AT });
      expect(decision.ok && decision.changes.attempt).toBe(2);
    });

    it("given a declined payment, when the same method comes again, then it is the same request: nothing new", () => {
      expect(mayPayAgain(declined, "pm_card_chargeDeclined")).toBe(false);
      expect(
        decide(declined, { type: "retry", payment_method: "pm_card_chargeDeclined", at: AT }),
      ).toEqual({
        ok: false,
        rejection: {
          kind: "conflict",
          message: "This payment method failed already: pay with another one",
          data: { status: "failed" },
        },
      });
    });

    it.each(PAYMENT_STATUSES.filter((status) => status !== "failed"))(
      "given a %s payment, when the owner pays with another method, then it is not paid again",
      (status) => {
        expect(mayPayAgain(payment(status), "pm_card_mastercard")).toBe(false);
      },
    );

    it("given a failed payment and another method, then the owner may pay again", () => {
      expect(mayPayAgain(declined, "pm_card_visa")).toBe(true);
    });

    it("keys each attempt's provider calls apart, the first as before", () => {
      expect([
        stepKey("pay_b1", "authorize"),
        stepKey("pay_b1", "authorize", 1),
        stepKey("pay_b1", "authorize", 2),
        stepKey("pay_b1", "cancel", 3),
      ]).toEqual(["pay_b1:authorize", "pay_b1:authorize", "pay_b1:authorize:2", "pay_b1:cancel:3"]);
    });
  });

  it("takes payment only for a booking waiting for a runner", () => {
    expect(payable({ status: "requested" })).toEqual({ ok: true });
    expect(payable({ status: "accepted" })).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "An accepted booking cannot be paid",
        data: { status: "accepted" },
      },
    });
  });
});
