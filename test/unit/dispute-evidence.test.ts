import { handoverEvidenceText } from "../../domain/disputes";
import { decide, type Payment, type StripeDispute } from "../../domain/payment";
import { givenWhenThen } from "../support/decider";

const EARLIER = new Date("2025-03-01T09:00:00.000Z");
const AT = new Date("2025-03-09T10:00:00.000Z");
const HELD = 50_000;

const pickup = { at: "2025-03-01T09:05:00.000Z", position: { lat: -6.2, lng: 106.8 } };
const dropoff = {
  at: "2025-03-01T09:40:00.000Z",
  position: { lat: -6.251234, lng: 106.854321 },
  pin_verified: true,
};

describe("the text of a card dispute's evidence", () => {
  it("tells both handovers: when, where, and that the recipient gave the PIN", () => {
    expect(
      handoverEvidenceText({
        booking_number: "KL-1",
        pickup_proof: pickup,
        dropoff_proof: dropoff,
      }),
    ).toEqual(
      [
        "Kilat pet transport, booking KL-1.",
        "Picked up 2025-03-01T09:05:00.000Z at -6.20000, 106.80000 (the runner's GPS); the runner photographed the pet.",
        "Handed over 2025-03-01T09:40:00.000Z at -6.25123, 106.85432 (the runner's GPS); the runner photographed the pet, and the recipient gave the PIN that only the cardholder's booking showed.",
      ].join("\n"),
    );
  });

  it("says when there was no GPS fix or no PIN check, and has nothing to tell without a handover", () => {
    const text = handoverEvidenceText({
      booking_number: "KL-2",
      pickup_proof: null,
      dropoff_proof: { at: dropoff.at, position: null },
    });
    expect(text).toEqual(
      "Kilat pet transport, booking KL-2.\nHanded over 2025-03-01T09:40:00.000Z (no GPS fix at that moment); the runner photographed the pet.",
    );
    expect(
      handoverEvidenceText({ booking_number: "KL-3", pickup_proof: null, dropoff_proof: null }),
    ).toBeNull();
  });
});

describe("a card dispute's evidence on the payment", () => {
  const opened: StripeDispute = {
    id: "dp_1",
    status: "needs_response",
    reason: "product_not_received",
    amount_cents: HELD,
    opened_at: EARLIER,
    closed_at: null,
  };
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
    platform_fee_cents: 10_000,
    runner_payout_cents: 40_000,
    refunded_cents: 0,
    failure_reason: null,
    stripe_dispute: opened,
    created_at: EARLIER,
    updated_at: EARLIER,
  };
  const evidence = { text: "Handed over …", photo_id: "photo-1", file_id: "file_1" };
  const given = givenWhenThen(decide);
  const give = (dispute_id = "dp_1") =>
    ({ type: "dispute_evidence", dispute_id, evidence, at: AT }) as const;

  it("given an open dispute, when its evidence is given, then it is recorded once, guarded on none given yet", () => {
    given(captured)
      .when(give())
      .thenAccepted({
        expect: { status: "captured", "stripe_dispute.evidence_submitted_at": null },
        changes: {
          stripe_dispute: { ...opened, evidence_submitted_at: AT, evidence },
          updated_at: AT,
        },
      });
  });

  it("given evidence given already, or another dispute, or none, when evidence comes, then nothing changes", () => {
    const done = { ...captured, stripe_dispute: { ...opened, evidence_submitted_at: EARLIER } };
    given(done).when(give()).thenRefused();
    given(captured).when(give("dp_other")).thenRefused();
    given({ ...captured, stripe_dispute: null })
      .when(give())
      .thenRefused();
    given({ ...captured, status: "held" })
      .when(give())
      .thenRefused();
  });

  it("given evidence given, when the dispute closes, then the evidence stays, and the close is guarded on it", () => {
    const done = {
      ...captured,
      stripe_dispute: { ...opened, evidence_submitted_at: EARLIER, evidence },
    };
    given(done)
      .when({
        type: "charge_disputed",
        dispute: { ...opened, status: "won", closed: true },
        at: AT,
      })
      .thenAccepted({
        expect: { status: "captured", "stripe_dispute.evidence_submitted_at": EARLIER },
        changes: {
          stripe_dispute: {
            ...opened,
            status: "won",
            closed_at: AT,
            evidence_submitted_at: EARLIER,
            evidence,
          },
          updated_at: AT,
        },
      });
  });
});
