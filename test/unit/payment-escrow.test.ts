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
import { givenWhenThen } from "../support/decider";
import { paymentIn as payment } from "../support/payment-fixtures";

const AT = new Date("2026-12-01T10:00:00.000Z");

const given = givenWhenThen(decide);

/** Every step, the statuses it leaves from, and where it goes. */
const TABLE: [string, PaymentStep, PaymentRecordStatus[], PaymentRecordStatus][] = [
  [
    "held",
    { type: "authorized", authorization: { status: "held", providerRef: "pi_1" } },
    ["created", "pending", "card_saved"],
    "held",
  ],
  [
    "pending",
    { type: "authorized", authorization: { status: "pending", providerRef: "pi_1" } },
    ["created", "card_saved"],
    "pending",
  ],
  [
    "declined",
    {
      type: "authorized",
      authorization: { status: "declined", providerRef: null, reason: "card_declined" },
    },
    ["created", "pending", "card_saved"],
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
    {
      type: "captured",
      provider_ref: "pi_1",
      runner_id: "r1",
      captured_cents: 10_000,
      fee_bps: 2000,
    },
    ["held"],
    "captured",
  ],
  ["cancel_unauthorized", { type: "cancel_unauthorized" }, ["created", "card_saved"], "canceled"],
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
      `given a %s payment, when ${step.type}, then it moves to ${to}, guarded on that status`,
      (status) => {
        const moved = given(payment(status))
          .when({ ...step, at: AT })
          .thenAccepted();
        expect([moved.expect.status, moved.changes.status, moved.changes.updated_at]).toEqual([
          status,
          to,
          AT,
        ]);
      },
    );
    it.each(PAYMENT_STATUSES.filter((status) => !from.includes(status)))(
      `given a %s payment, when ${step.type}, then it is a conflict and nothing changes`,
      (status) => {
        given(payment(status))
          .when({ ...step, at: AT })
          .thenRefused(
            "conflict",
            `${/^[aeiou]/.test(status) ? "An" : "A"} ${status} payment cannot take ${step.type}`,
            { status },
          );
      },
    );
  });

  const open = {
    type: "open",
    id: "pay_b1",
    booking: {
      booking_id: "b1",
      booking_number: "KLT-20261201-ABCDEF",
      owner_id: "owner-1",
      amount_cents: 10_000,
      currency: "IDR",
    },
    provider: "simulated",
    payment_method: "pm_card_visa",
    at: AT,
  } as const;

  it("given no payment, when the owner opens one, then it is created with payment.escrow_created", () => {
    given(null)
      .when(open)
      .thenAccepted({
        expect: {},
        changes: payment("created", { created_at: AT, updated_at: AT }),
        events: [
          {
            type: "payment.escrow_created",
            data: {
              payment_id: "pay_b1",
              booking_id: "b1",
              booking_number: "KLT-20261201-ABCDEF",
              owner_id: "owner-1",
              amount_cents: 10_000,
              currency: "IDR",
              occurred_at: AT.toISOString(),
            },
          },
        ],
      });
  });

  it("given a payment, when the owner opens one again, then it is a conflict", () => {
    given(payment("created")).when(open).thenRefused("conflict", "The booking is paid for already");
  });

  it("given no payment, when any step comes, then it is not found", () => {
    given(null)
      .when({ type: "cancel_unauthorized", at: AT })
      .thenRefused("not_found", "Payment not found");
  });

  it("given a held payment, when captured, then payout + fee = captured, in payment.escrow_released", () => {
    given(payment("held"))
      .when({
        type: "captured",
        provider_ref: "pi_1",
        runner_id: "r1",
        captured_cents: 10_001,
        fee_bps: 2000,
        at: AT,
      })
      .thenAccepted({
        expect: { status: "held", provider_ref: "pi_1" },
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
              booking_number: "KLT-20261201-ABCDEF",
              owner_id: "owner-1",
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

  describe("a hold that arrived after the cancellation", () => {
    const release = {
      type: "hold_released",
      provider_ref: "pi_late",
      reason: "booking cancelled",
      at: AT,
    } as const;

    it("given a cancelled payment, when its late hold is released, then all of it is refunded", () => {
      given(payment("canceled", { provider_ref: null }))
        .when(release)
        .thenAccepted({
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
                booking_number: "KLT-20261201-ABCDEF",
                owner_id: "owner-1",
                amount_cents: 10_000,
                currency: "IDR",
                refund_reason: "booking cancelled",
                occurred_at: AT.toISOString(),
              },
            },
          ],
        });
    });

    it("given it released already (refunded = held), when released again, then it is a conflict", () => {
      given(payment("canceled", { refunded_cents: 10_000 }))
        .when(release)
        .thenRefused();
    });
  });

  it.each<[string, PaymentStep, PaymentRecordStatus, string]>([
    [
      "a declined card",
      {
        type: "authorized",
        authorization: { status: "declined", providerRef: null, reason: "card_declined" },
      },
      "created",
      "authorisation declined: card_declined",
    ],
    [
      "an authorisation failed after all",
      { type: "authorization_failed", reason: "authentication_required" },
      "pending",
      "authorisation failed: authentication_required",
    ],
    [
      "a hold that expired",
      { type: "hold_lost", reason: "automatic" },
      "held",
      "authorisation expired",
    ],
    [
      "a hold abandoned",
      { type: "hold_lost", reason: "abandoned" },
      "held",
      "authorisation abandoned",
    ],
    [
      "a step that failed for good",
      { type: "fail", reason: "nothing to capture: the payment is failed" },
      "failed",
      "nothing to capture: the payment is failed",
    ],
  ])(
    "given %s, then payment.failed names it: one event, with why",
    (_name, step, status, reason) => {
      const { events } = given(payment(status))
        .when({ ...step, at: AT })
        .thenAccepted();
      expect(
        events.map((event) => (event.type === "payment.failed" ? event.data.reason : event.type)),
      ).toEqual([reason]);
    },
  );

  it("given a held payment, when a failure is surfaced, then it keeps its status unless told to fail it", () => {
    given(payment("held"))
      .when({ type: "fail", reason: "r", at: AT })
      .thenChanges({ failure_reason: "r", updated_at: AT });
    given(payment("held"))
      .when({ type: "fail", reason: "r", status: "failed", at: AT })
      .thenChanges({ status: "failed", failure_reason: "r", updated_at: AT });
  });

  it("given a surfaced failure, when the same reason comes again, then nothing changes; another is surfaced", () => {
    const surfaced = payment("failed", { failure_reason: "nothing to capture" });
    given(surfaced).when({ type: "fail", reason: "nothing to capture", at: AT }).thenRefused();
    given(surfaced).when({ type: "fail", reason: "capture refused", at: AT }).thenAccepted();
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
      given(declined)
        .when({ type: "retry", payment_method: "pm_card_visa", at: AT })
        .thenAccepted({
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
      const { changes } = given(legacy)
        .when({ type: "retry", payment_method: "pm_card_visa", at: AT })
        .thenAccepted();
      expect(changes.attempt).toBe(2);
    });

    it("given a payment stored before booking numbers, when it fails, then its event names the booking by its id", () => {
      const legacy: Payment = { ...payment("held") };
      delete legacy.booking_number;
      const { events } = given(legacy)
        .when({ type: "hold_lost", reason: "automatic", at: AT })
        .thenAccepted();
      expect(events.map((event) => event.data)).toEqual([
        expect.objectContaining({ booking_id: "b1", booking_number: "b1" }),
      ]);
    });

    it("given a declined payment, when the same method comes again, then it is the same request: nothing new", () => {
      expect(mayPayAgain(declined, "pm_card_chargeDeclined")).toBe(false);
      given(declined)
        .when({ type: "retry", payment_method: "pm_card_chargeDeclined", at: AT })
        .thenRefused("conflict", "This payment method failed already: pay with another one", {
          status: "failed",
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
