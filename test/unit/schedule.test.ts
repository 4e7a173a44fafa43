import { decide, type Booking } from "../../domain/booking";
import { decide as decideDispatch, type Dispatch } from "../../domain/dispatch";
import { decide as decidePayment, mayPayAgain, type Payment } from "../../domain/payment";
import {
  CARD_NOT_CHARGED,
  acceptDueAt,
  dispatchStartsAt,
  holdAt,
  holdExpiresAt,
  payBy,
  paymentMode,
  pickupProblem,
  renewalDue,
  renewalMayRace,
  schedulePolicy,
} from "../../domain/schedule";
import { notificationsFor } from "../../domain/notifications";
import { parsePayload } from "../../events/catalog";
import { createEvent } from "../../events/envelope";
import { AT, EARLIER, bookingIn } from "../support/booking-fixtures";
import { givenWhenThen } from "../support/decider";
import { paymentIn } from "../support/payment-fixtures";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy = schedulePolicy({
  maxLeadDays: 30,
  authWindowHours: 144,
  holdLeadHours: 24,
  holdRetryHours: 12,
  authHoldDays: 7,
  renewMarginHours: 24,
  dispatchLeadMinutes: 30,
  acceptGraceMinutes: 30,
});
const later = (ms: number) => new Date(AT.getTime() + ms);

describe("a pickup time", () => {
  it.each([
    ["now", 0, null],
    ["a minute ago (a clock behind)", -60_000, null],
    ["10 days ahead", 10 * DAY, null],
    ["30 days ahead", 30 * DAY, null],
    ["3 minutes ago", -3 * 60_000, "must not be in the past"],
    ["31 days ahead", 31 * DAY, "at most 30 days ahead"],
  ])("given %s, then its problem is as expected", (_what, ahead, problem) => {
    expect(pickupProblem(later(ahead), AT, policy)).toBe(problem);
  });
});

describe("the payment follows the lead time", () => {
  it("given no pickup time, when paid, then the card is held now", () => {
    expect(paymentMode(null, AT, policy)).toBe("hold");
  });
  it("given a pickup within the authorisation window (6 days), then the card is held now", () => {
    expect(paymentMode(later(6 * DAY), AT, policy)).toBe("hold");
  });
  it("given a pickup beyond it, then the card is saved, and held a day before the pickup", () => {
    const pickup = later(10 * DAY);
    expect(paymentMode(pickup, AT, policy)).toBe("save_card");
    expect(holdAt(pickup, policy)).toEqual(later(9 * DAY));
  });
  it("given an off-session hold failed, then the owner has 12 hours to pay, never past the pickup", () => {
    expect(payBy(AT, later(DAY), policy)).toEqual(later(12 * HOUR));
    expect(payBy(AT, later(2 * HOUR), policy)).toEqual(later(2 * HOUR));
  });
  it("given a hold placed now, then it lapses in 7 days, and is renewed from a day before", () => {
    const expires = holdExpiresAt(AT, policy);
    expect(expires).toEqual(later(7 * DAY));
    expect(renewalDue(expires, later(5 * DAY), policy)).toBe(false);
    expect(renewalDue(expires, later(6 * DAY), policy)).toBe(true);
  });
  it("given a hold settled days before it lapses, then no renewal can race it and it is settled without a claim; near its renewal, it is claimed first", () => {
    const expires = holdExpiresAt(AT, policy);
    expect(renewalMayRace(expires, later(HOUR), policy)).toBe(false);
    expect(renewalMayRace(expires, later(7 * DAY - 25 * HOUR - 1), policy)).toBe(false);
    expect(renewalMayRace(expires, later(7 * DAY - 25 * HOUR), policy)).toBe(true);
    expect(renewalMayRace(null, later(7 * DAY), policy)).toBe(false);
  });
});

describe("the deadlines that follow the pickup", () => {
  it("given a pickup time, then dispatch starts 30 minutes before it; without one, at once", () => {
    expect(dispatchStartsAt(later(DAY), policy)).toEqual(later(DAY - 30 * 60_000));
    expect(dispatchStartsAt(null, policy)).toBeNull();
  });
  it("given a held scheduled booking, then nobody accepting cancels it 30 minutes after its pickup", () => {
    expect(acceptDueAt(AT, later(DAY), 45 * 60_000, policy)).toEqual(later(DAY + 30 * 60_000));
    expect(acceptDueAt(AT, null, 45 * 60_000, policy)).toEqual(later(45 * 60_000));
  });
});

describe("a scheduled booking records its payment", () => {
  const given = givenWhenThen(decide);
  const pickup = later(10 * DAY);
  const booking = (extra: Partial<Booking>): Booking =>
    bookingIn("requested", { pickup_at: pickup, payment_due_at: later(30 * 60_000), ...extra });
  const record = (
    payment_status: "held" | "failed" | "card_saved",
    extra: { pay_by?: Date } = {},
  ) => ({
    type: "record_payment" as const,
    payment_status,
    at: AT,
    acceptTimeoutMs: 45 * 60_000,
    acceptGraceMs: policy.acceptGraceMs,
    ...extra,
  });

  it("given an unpaid one, when its card is saved, then the payment deadline no longer applies", () => {
    given(booking({ payment_status: "unpaid" }))
      .when(record("card_saved"))
      .thenAccepted({
        expect: { status: "requested", payment_status: "unpaid" },
        changes: { payment_status: "card_saved", updated_at: AT, payment_due_at: null },
      });
  });
  it("given a saved card, when the off-session hold fails, then the owner's deadline is kept", () => {
    given(booking({ payment_status: "card_saved", payment_due_at: null }))
      .when(record("failed", { pay_by: later(12 * HOUR) }))
      .thenChanges({ payment_status: "failed", updated_at: AT, pay_by: later(12 * HOUR) });
  });
  it("given a saved card, when it is held, then a runner has until 30 minutes after the pickup", () => {
    given(booking({ payment_status: "card_saved", payment_due_at: null }))
      .when(record("held"))
      .thenChanges({
        payment_status: "held",
        updated_at: AT,
        accept_due_at: new Date(pickup.getTime() + 30 * 60_000),
      });
  });
  it("given a failed hold with a deadline, when the owner pays, then the deadline is met", () => {
    given(booking({ payment_status: "failed", pay_by: later(HOUR) }))
      .when(record("held"))
      .thenChanges({
        payment_status: "held",
        updated_at: AT,
        accept_due_at: new Date(pickup.getTime() + 30 * 60_000),
        pay_by: null,
      });
  });
  it("given a held one, when a late card_saved arrives, then it is refused", () => {
    given(booking({ payment_status: "held" }))
      .when(record("card_saved"))
      .thenRefused();
  });
});

describe("a scheduled booking's payment", () => {
  const given = givenWhenThen(decidePayment);
  const pickup = later(10 * DAY);
  const payment = (status: Payment["status"], extra: Partial<Payment> = {}): Payment =>
    paymentIn(status, { provider_ref: null, ...extra });
  const saved = payment("card_saved", { pickup_at: pickup, hold_at: holdAt(pickup, policy) });

  it("given a new payment, when the card is saved, then payment.card_saved says when it is held", () => {
    given(payment("created"))
      .when({
        type: "card_saved",
        setup_ref: "seti_1",
        customer_ref: "cus_1",
        payment_method: "pm_saved",
        pickup_at: pickup,
        hold_at: holdAt(pickup, policy),
        at: AT,
      })
      .thenAccepted({
        expect: { status: "created" },
        changes: {
          status: "card_saved",
          setup_ref: "seti_1",
          customer_ref: "cus_1",
          payment_method: "pm_saved",
          pickup_at: pickup,
          hold_at: holdAt(pickup, policy),
          updated_at: AT,
        },
        events: [
          {
            type: "payment.card_saved",
            data: {
              payment_id: "pay_b1",
              booking_id: "b1",
              booking_number: "KLT-20261201-ABCDEF",
              owner_id: "owner-1",
              amount_cents: 10_000,
              currency: "IDR",
              pickup_at: pickup.toISOString(),
              hold_at: later(9 * DAY).toISOString(),
              occurred_at: AT.toISOString(),
            },
          },
        ],
      });
  });
  it("given a saved card, when the off-session hold is placed, then it is held until it lapses", () => {
    const decision = given(saved)
      .when({
        type: "authorized",
        authorization: { status: "held", providerRef: "pi_2" },
        hold_expires_at: later(7 * DAY),
        at: AT,
      })
      .thenChanges({
        status: "held",
        provider_ref: "pi_2",
        hold_at: null,
        hold_expires_at: later(7 * DAY),
        updated_at: AT,
      });
    expect(decision.events.map((event) => event.type)).toEqual(["payment.escrow_held"]);
  });
  it("given a saved card, when the off-session hold is declined, then payment.failed carries pay_by", () => {
    const decision = given(saved)
      .when({
        type: "authorized",
        authorization: { status: "declined", providerRef: null, reason: "card_declined" },
        pay_by: later(12 * HOUR),
        at: AT,
      })
      .thenAccepted();
    expect(decision.changes).toMatchObject({ status: "failed", pay_by: later(12 * HOUR) });
    expect(decision.events).toEqual([
      {
        type: "payment.failed",
        data: {
          payment_id: "pay_b1",
          booking_id: "b1",
          booking_number: "KLT-20261201-ABCDEF",
          owner_id: "owner-1",
          reason: "authorisation declined: card_declined",
          pay_by: later(12 * HOUR).toISOString(),
          occurred_at: AT.toISOString(),
        },
      },
    ]);
    const failed = { ...saved, ...decision.changes };
    // The owner, back on-session, may pay with the same card again.
    expect(mayPayAgain(failed, "pm_card_visa")).toBe(true);
    expect(mayPayAgain({ ...failed, pay_by: null }, "pm_card_visa")).toBe(false);
  });
  it("given a saved card, when the booking is cancelled, then nothing is held and nothing refunded", () => {
    given(saved)
      .when({ type: "cancel_unauthorized", at: AT })
      .thenAccepted({
        expect: { status: "card_saved" },
        changes: { status: "canceled", updated_at: AT },
      });
  });

  describe("a hold renewed before it lapses", () => {
    const held = payment("held", { provider_ref: "pi_1", hold_expires_at: later(HOUR) });
    it("given a held payment, when a new hold is placed, then the old one is to be released", () => {
      given(held)
        .when({
          type: "renewed",
          provider_ref: "pi_2",
          replaces: "pi_1",
          hold_expires_at: later(7 * DAY),
          at: AT,
        })
        .thenAccepted({
          expect: { status: "held", provider_ref: "pi_1", releasing_ref: null, settling_at: null },
          changes: {
            provider_ref: "pi_2",
            hold_expires_at: later(7 * DAY),
            releasing_ref: "pi_1",
            renewals: 1,
            updated_at: AT,
          },
        });
    });
    it("given a renewal not released yet, when renewed again, then it is refused: one at a time", () => {
      given({ ...held, releasing_ref: "pi_0" })
        .when({
          type: "renewed",
          provider_ref: "pi_2",
          replaces: "pi_1",
          hold_expires_at: later(7 * DAY),
          at: AT,
        })
        .thenRefused();
    });
    it("given the old hold released, then no hold but the new one is left, and the money is unchanged", () => {
      const renewing = { ...held, provider_ref: "pi_2", releasing_ref: "pi_1", renewals: 1 };
      const decision = given(renewing)
        .when({ type: "renewal_released", at: AT })
        .thenChanges({ releasing_ref: null, updated_at: AT });
      const after = { ...renewing, ...decision.changes };
      expect(after.releasing_ref).toBeNull();
      expect(after.runner_payout_cents + after.platform_fee_cents + after.refunded_cents).toBe(0);
      given(after).when({ type: "renewal_released", at: AT }).thenRefused();
    });
    it("given a held payment, when the renewal fails, then ops and the owner hear, once", () => {
      const decision = given(held)
        .when({ type: "renewal_failed", reason: "card_declined", at: AT })
        .thenAccepted();
      expect(decision.changes).toEqual({ renewal_failed_at: AT, updated_at: AT });
      expect(decision.events.map((event) => event.type)).toEqual(["payment.hold_renewal_failed"]);
      const escalated = { ...held, ...decision.changes };
      given(escalated)
        .when({ type: "renewal_failed", reason: "card_declined", at: AT })
        .thenRefused();
      const [note] = notificationsFor(
        createEvent(
          "payment.hold_renewal_failed",
          parsePayload("payment.hold_renewal_failed", decision.events[0].data),
          { service: "payment" },
        ),
      );
      expect(note.body).toContain(later(HOUR).toISOString().slice(0, 16).replace("T", " "));
    });
  });
});

describe("a scheduled booking's dispatch", () => {
  const given = givenWhenThen(decideDispatch);
  const startsAt = later(HOUR);
  const waiting: Dispatch = {
    _id: "b1",
    booking_number: "KLT-20261201-ABCDEF",
    owner_id: "owner-1",
    pickup: { lat: -6.2, lng: 106.8 },
    escrow_held: false,
    starts_at: startsAt,
    status: "waiting",
    runner_id: null,
    offer_expires_at: null,
    tried: [],
    created_at: EARLIER,
    updated_at: EARLIER,
  };
  it("given its lead has not come, when the escrow is held, then it keeps waiting", () => {
    given(waiting)
      .when({ type: "escrow_held", booking_id: "b1", at: AT })
      .thenChanges({ escrow_held: true, updated_at: AT });
  });
  it("given held and its lead not come, when the sweep finds it, then it is refused", () => {
    given({ ...waiting, escrow_held: true })
      .when({ type: "due", booking_id: "b1", at: AT })
      .thenRefused();
  });
  it("given held and its lead come, when the sweep finds it, then it searches", () => {
    given({ ...waiting, escrow_held: true })
      .when({ type: "due", booking_id: "b1", at: startsAt })
      .thenChanges({ status: "searching", updated_at: startsAt });
  });
  it("given no pickup time, when the escrow is held, then it searches at once, as before", () => {
    given({ ...waiting, starts_at: null })
      .when({ type: "escrow_held", booking_id: "b1", at: AT })
      .thenChanges({ escrow_held: true, status: "searching", updated_at: AT });
  });
});

it("the owner reads why a scheduled booking was cancelled for want of payment", () => {
  expect(CARD_NOT_CHARGED).toBe("the card could not be charged for the scheduled trip");
});
