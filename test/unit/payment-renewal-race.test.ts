import { decide, type Payment } from "../../domain/payment";
import { givenWhenThen } from "../support/decider";
import { paymentIn } from "../support/payment-fixtures";

const AT = new Date("2026-12-01T10:00:00.000Z");
const BEFORE = new Date("2026-12-01T09:00:00.000Z");
const LATER = new Date("2026-12-08T10:00:00.000Z");

const given = givenWhenThen(decide);

/** Hold A, placed at BEFORE, lapsing at AT: the one a renewal replaces. */
const held = (extra: Partial<Payment> = {}): Payment =>
  paymentIn("held", { provider_ref: "pi_A", hold_expires_at: AT, ...extra });

const renewed = {
  type: "renewed",
  provider_ref: "pi_B",
  replaces: "pi_A",
  hold_expires_at: LATER,
  at: AT,
} as const;
const capturedA = {
  type: "captured",
  provider_ref: "pi_A",
  runner_id: "r1",
  captured_cents: 10_000,
  fee_bps: 2000,
  at: AT,
} as const;
const releasedA = {
  type: "hold_released",
  provider_ref: "pi_A",
  reason: "booking cancelled",
  at: AT,
} as const;

/**
 * A renewal racing a capture or release: whichever of the two guarded writes comes second finds
 * the payment changed, so the hold captured or released is always the one the payment names.
 */
describe("a hold renewal racing a capture or a release", () => {
  it("given a held payment, when a capture or release begins, then the hold is claimed, guarded on its reference", () => {
    given(held())
      .when({ type: "settling", provider_ref: "pi_A", at: AT })
      .thenAccepted({
        expect: { status: "held", provider_ref: "pi_A" },
        changes: { settling_at: AT, updated_at: AT },
      });
  });

  it("given a renewal replaced the hold read, when the old hold is claimed, then it is refused (the new one is claimed instead)", () => {
    given(held({ provider_ref: "pi_B", releasing_ref: "pi_A", renewals: 1 }))
      .when({ type: "settling", provider_ref: "pi_A", at: AT })
      .thenRefused();
    given(held({ provider_ref: "pi_B", releasing_ref: "pi_A", renewals: 1 }))
      .when({ type: "settling", provider_ref: "pi_B", at: AT })
      .thenChanges({ settling_at: AT, updated_at: AT });
  });

  it("given a hold claimed already, when claimed again, then nothing changes", () => {
    const decision = given(held({ settling_at: BEFORE }))
      .when({ type: "settling", provider_ref: "pi_A", at: AT })
      .thenAccepted();
    expect([decision.changes, decision.events]).toEqual([{}, []]);
  });

  it("given a hold being settled, when a renewal is recorded, then it is refused (the renewal releases its new hold)", () => {
    given(held({ settling_at: BEFORE }))
      .when(renewed)
      .thenRefused();
  });

  it("given a hold not being settled, when renewed, then it is guarded on the hold it replaces, no renewal under way, no settling", () => {
    given(held())
      .when(renewed)
      .thenAccepted({
        expect: { status: "held", provider_ref: "pi_A", releasing_ref: null, settling_at: null },
        changes: {
          provider_ref: "pi_B",
          hold_expires_at: LATER,
          releasing_ref: "pi_A",
          renewals: 1,
          updated_at: AT,
        },
      });
  });

  it("given the payment names another hold than the renewal read, when renewed, then it is refused: the live hold is never released", () => {
    given(held({ provider_ref: "pi_B", renewals: 1 }))
      .when(renewed)
      .thenRefused();
  });

  it("given a renewal replaced hold A, when A's capture is recorded, then it is refused: never recorded against B", () => {
    given(held({ provider_ref: "pi_B", releasing_ref: "pi_A", renewals: 1 }))
      .when(capturedA)
      .thenRefused();
  });

  it("given hold A held, when A's capture is recorded, then it is guarded on A, and payout + fee + refunded = held", () => {
    const decision = given(held()).when(capturedA).thenAccepted();
    expect(decision.expect).toEqual({ status: "held", provider_ref: "pi_A" });
    const after = { ...held(), ...decision.changes };
    expect(after.runner_payout_cents + after.platform_fee_cents + after.refunded_cents).toBe(
      10_000,
    );
  });

  it("given a renewal replaced hold A, when A's release is recorded, then it is refused: B's reference is never overwritten", () => {
    given(held({ provider_ref: "pi_B", releasing_ref: "pi_A", renewals: 1 }))
      .when(releasedA)
      .thenRefused();
    given(held({ status: "pending", provider_ref: "pi_B" }))
      .when(releasedA)
      .thenRefused();
  });

  it("given hold A held, when A's release is recorded, then it is guarded on A, all of it refunded", () => {
    given(held())
      .when(releasedA)
      .thenAccepted({
        expect: { status: "held", refunded_cents: 0, provider_ref: "pi_A" },
        changes: {
          status: "canceled",
          provider_ref: "pi_A",
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

  it("given a hold being settled, when its renewal fails, then nothing is said", () => {
    given(held({ settling_at: BEFORE }))
      .when({ type: "renewal_failed", reason: "card_declined", at: AT })
      .thenRefused();
  });

  it("given a claimed payment that failed, when the owner pays again, then the new hold may be renewed", () => {
    given(held({ status: "failed", settling_at: BEFORE }))
      .when({ type: "retry", payment_method: "pm_card_mastercard", at: AT })
      .thenChanges({
        status: "created",
        payment_method: "pm_card_mastercard",
        attempt: 2,
        provider_ref: null,
        failure_reason: null,
        settling_at: null,
        updated_at: AT,
      });
  });
});
