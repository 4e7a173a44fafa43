import {
  accept,
  reject,
  unreachable,
  type Decision,
  type EventDraft,
  withArticle,
  cap,
} from "./decider";
import { splitFee } from "./fees";

/**
 * The escrow of one booking: an authorisation held on the owner's card, captured when the owner
 * confirms delivery, released (or refunded) when the booking is cancelled.
 *
 *   created → held | pending | failed      (the provider's answer to the authorisation)
 *   pending → held | failed                 (Stripe's webhooks settle it)
 *   held    → captured | canceled | failed  (confirmed; cancelled; the hold expired)
 *   captured → refunded
 *   created → canceled                      (cancelled while the card was being authorised)
 *   failed  → created                       (the owner pays again with another payment method)
 *
 * The provider call of each step happens in the payment service; `decide` says what its answer
 * changes and publishes.
 */
export const PAYMENT_STATUSES = [
  "created",
  "pending",
  "held",
  "failed",
  "captured",
  "canceled",
  "refunded",
] as const;
export type PaymentRecordStatus = (typeof PAYMENT_STATUSES)[number];

export interface Payment {
  _id: string;
  booking_id: string;
  owner_id: string;
  runner_id: string | null;
  amount_cents: number;
  currency: string;
  status: PaymentRecordStatus;
  provider: "stripe" | "simulated";
  provider_ref: string | null;
  payment_method: string;
  captured_cents: number;
  platform_fee_cents: number;
  runner_payout_cents: number;
  refunded_cents: number;
  failure_reason: string | null;
  /**
   * Which authorisation this is: 1, then one more each time the owner pays again after a
   * failure. Absent on payments stored before retries existed (their first).
   */
  attempt?: number;
  created_at: Date;
  updated_at: Date;
}

export const attemptOf = (payment: Pick<Payment, "attempt">): number => payment.attempt ?? 1;

/** The provider's answer to an authorisation (lib/payments/port.ts). */
export type Authorization =
  | { status: "held" | "pending"; providerRef: string }
  | { status: "declined"; providerRef: string | null; reason: string };

/** A saga step's outcome; stamped with the time it is decided at (`PaymentCommand`). */
export type PaymentStep =
  | {
      type: "open";
      id: string;
      booking: { booking_id: string; owner_id: string; amount_cents: number; currency: string };
      provider: Payment["provider"];
      payment_method: string;
    }
  /** The owner pays again after a failure, with another payment method: a new authorisation. */
  | { type: "retry"; payment_method: string }
  /** The authorisation's answer, from the provider's reply or Stripe's webhook. */
  | { type: "authorized"; authorization: Authorization }
  /** Stripe says the authorisation failed after all (3-D Secure refused, say). */
  | { type: "authorization_failed"; reason: string }
  /** The hold expired, or was voided outside Kilat: it can no longer be captured. */
  | { type: "hold_lost"; reason: string }
  | { type: "captured"; runner_id: string; captured_cents: number; fee_bps: number }
  /** The booking was cancelled before the card was authorised: nothing is held yet. */
  | { type: "cancel_unauthorized" }
  /** The hold is released at the provider; also a hold that arrived after the cancellation. */
  | { type: "hold_released"; provider_ref: string; reason: string }
  | { type: "refunded"; refunded_cents: number; reason: string }
  /** A step failed for good: said out loud, with the reason kept on the payment. */
  | { type: "fail"; reason: string; status?: "failed" };

export type PaymentCommand = PaymentStep & { at: Date };

export function decide(payment: Payment | null, command: PaymentCommand): Decision<Payment> {
  if (command.type === "open") {
    return payment ? reject("conflict", "The booking is paid for already") : opened(command);
  }
  if (!payment) return reject("not_found", "Payment not found");
  const at = command.at;
  const from = (...statuses: PaymentRecordStatus[]) => statuses.includes(payment.status);
  const refuse = () =>
    reject("conflict", `${cap(withArticle(payment.status))} payment cannot take ${command.type}`, {
      status: payment.status,
    });
  const move = (
    changes: Partial<Payment>,
    events: EventDraft[] = [],
    also: Partial<Payment> = {},
  ) => accept<Payment>({ status: payment.status, ...also }, { ...changes, updated_at: at }, events);

  switch (command.type) {
    case "authorized": {
      const { authorization } = command;
      switch (authorization.status) {
        case "held":
          if (!from("created", "pending")) return refuse();
          return move({ status: "held", provider_ref: authorization.providerRef }, [
            held(payment, authorization.providerRef, at),
          ]);
        case "pending":
          if (!from("created")) return refuse();
          return move({ status: "pending", provider_ref: authorization.providerRef });
        case "declined":
          if (!from("created", "pending")) return refuse();
          return move(
            {
              status: "failed",
              provider_ref: authorization.providerRef,
              failure_reason: authorization.reason,
            },
            [failed(payment, `authorisation declined: ${authorization.reason}`, at)],
          );
        default:
          return unreachable(authorization);
      }
    }
    case "retry":
      if (!from("failed")) return refuse();
      if (!mayPayAgain(payment, command.payment_method)) {
        return reject("conflict", "This payment method failed already: pay with another one", {
          status: payment.status,
        });
      }
      return move({
        status: "created",
        payment_method: command.payment_method,
        attempt: attemptOf(payment) + 1,
        provider_ref: null,
        failure_reason: null,
      });
    case "authorization_failed":
      if (!from("created", "pending")) return refuse();
      return move({ status: "failed", failure_reason: command.reason }, [
        failed(payment, `authorisation failed: ${command.reason}`, at),
      ]);
    case "hold_lost":
      if (!from("pending", "held")) return refuse();
      return move({ status: "failed", failure_reason: `authorisation ${command.reason}` }, [
        failed(
          payment,
          `authorisation ${command.reason === "automatic" ? "expired" : command.reason}`,
          at,
        ),
      ]);
    case "captured": {
      if (!from("held")) return refuse();
      const split = splitFee(command.captured_cents, command.fee_bps);
      return move(
        {
          status: "captured",
          runner_id: command.runner_id,
          captured_cents: command.captured_cents,
          platform_fee_cents: split.platformFeeCents,
          runner_payout_cents: split.runnerPayoutCents,
        },
        [
          {
            type: "payment.escrow_released",
            data: {
              payment_id: payment._id,
              booking_id: payment.booking_id,
              runner_id: command.runner_id,
              runner_payout_cents: split.runnerPayoutCents,
              platform_fee_cents: split.platformFeeCents,
              currency: payment.currency,
              occurred_at: at.toISOString(),
            },
          },
        ],
      );
    }
    case "cancel_unauthorized":
      if (!from("created")) return refuse();
      return move({ status: "canceled" });
    case "hold_released": {
      // A hold that arrived after the booking was cancelled is released too: nothing stays held.
      const late = from("canceled") && payment.refunded_cents === 0;
      if (!from("held", "pending") && !late) return refuse();
      return move(
        {
          status: "canceled",
          provider_ref: command.provider_ref,
          refunded_cents: payment.amount_cents,
        },
        [refunded(payment, payment.amount_cents, command.reason, at)],
        { refunded_cents: payment.refunded_cents },
      );
    }
    case "refunded":
      if (!from("captured")) return refuse();
      return move({ status: "refunded", refunded_cents: command.refunded_cents }, [
        refunded(payment, command.refunded_cents, command.reason, at),
      ]);
    case "fail":
      // Said once: the same failure reported again (a redelivered event) changes nothing.
      if (payment.failure_reason === command.reason) return refuse();
      return move(
        { ...(command.status ? { status: command.status } : {}), failure_reason: command.reason },
        [failed(payment, command.reason.slice(0, 500), at)],
      );
    default:
      return unreachable(command);
  }
}

function opened(command: Extract<PaymentCommand, { type: "open" }>): Decision<Payment> {
  const { id, booking, provider, payment_method, at } = command;
  return accept<Payment>(
    {},
    {
      _id: id,
      ...booking,
      runner_id: null,
      status: "created",
      provider,
      provider_ref: null,
      payment_method,
      captured_cents: 0,
      platform_fee_cents: 0,
      runner_payout_cents: 0,
      refunded_cents: 0,
      failure_reason: null,
      attempt: 1,
      created_at: at,
      updated_at: at,
    },
    [
      {
        type: "payment.escrow_created",
        data: {
          payment_id: id,
          booking_id: booking.booking_id,
          owner_id: booking.owner_id,
          amount_cents: booking.amount_cents,
          currency: booking.currency,
          occurred_at: at.toISOString(),
        },
      },
    ],
  );
}

const held = (payment: Payment, providerRef: string, at: Date): EventDraft => ({
  type: "payment.escrow_held",
  data: {
    payment_id: payment._id,
    booking_id: payment.booking_id,
    owner_id: payment.owner_id,
    stripe_payment_id: providerRef,
    amount_cents: payment.amount_cents,
    currency: payment.currency,
    occurred_at: at.toISOString(),
  },
});

const failed = (payment: Payment, reason: string, at: Date): EventDraft => ({
  type: "payment.failed",
  data: {
    payment_id: payment._id,
    booking_id: payment.booking_id,
    owner_id: payment.owner_id,
    reason,
    occurred_at: at.toISOString(),
  },
});

const refunded = (payment: Payment, cents: number, reason: string, at: Date): EventDraft => ({
  type: "payment.escrow_refunded",
  data: {
    payment_id: payment._id,
    booking_id: payment.booking_id,
    owner_id: payment.owner_id,
    amount_cents: cents,
    currency: payment.currency,
    refund_reason: reason,
    occurred_at: at.toISOString(),
  },
});

/**
 * What the owner's request for the escrow came to, for the answer: a new hold (or a declined
 * card), one still settling, or the payment as it already was.
 */
export function paymentOutcome(
  payment: Payment,
  fresh: boolean,
): "created" | "queued" | "unchanged" {
  if (payment.status === "pending") return "queued";
  return fresh ? "created" : "unchanged";
}

/**
 * Whether the owner's request to pay is a new authorisation: the payment failed (a declined
 * card, a hold that was lost) and another payment method is offered. The same method again is
 * the same request replayed: it gets the answer it got.
 */
export const mayPayAgain = (
  payment: Pick<Payment, "status" | "payment_method">,
  paymentMethod: string,
): boolean => payment.status === "failed" && paymentMethod !== payment.payment_method;

/** A booking can be paid for while it waits for a runner; later it is too late. */
export function payable(booking: { status: string }): { ok: true } | ReturnType<typeof reject> {
  return booking.status === "requested"
    ? { ok: true }
    : reject("conflict", `${cap(withArticle(booking.status))} booking cannot be paid`, {
        status: booking.status,
      });
}
