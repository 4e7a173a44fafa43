import type { EventPayload } from "../events/catalog";
import {
  accept,
  reject,
  unreachable,
  type Decision,
  type EventDraft,
  type Expect,
  withArticle,
  cap,
} from "./decider";
import { splitFee } from "./fees";

/**
 * The escrow of one booking: an authorisation held on the owner's card, captured when the owner
 * confirms delivery, released (or refunded) when the booking is cancelled. Which status each
 * step moves from and to, and what it publishes, is the table MOVES below.
 *
 * The provider call of each step happens in the payment service; `decide` says what its answer
 * changes and publishes.
 */
export const PAYMENT_STATUSES = [
  "created",
  "pending",
  "held",
  /** A scheduled booking's card is saved, to be held off-session at `hold_at`. */
  "card_saved",
  "failed",
  "captured",
  "canceled",
  "refunded",
] as const;
export type PaymentRecordStatus = (typeof PAYMENT_STATUSES)[number];

export interface Payment {
  _id: string;
  booking_id: string;
  /**
   * How the payment's events name the booking to people. Absent on payments stored before it
   * existed: theirs name it by its id.
   */
  booking_number?: string;
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
  /** The cardholder disputed the charge with their bank (Stripe's charge.dispute.*). */
  stripe_dispute?: StripeDispute | null;
  /** A scheduled booking's pickup, and when its saved card is held (domain/schedule.ts). */
  pickup_at?: Date | null;
  hold_at?: Date | null;
  /** The saved card: the provider's customer and setup (absent: paid on-session). */
  customer_ref?: string | null;
  setup_ref?: string | null;
  /** The off-session hold failed: the owner may pay until then. */
  pay_by?: Date | null;
  /** When the hold lapses at the provider (absent: held before it was kept). */
  hold_expires_at?: Date | null;
  /** Holds placed to replace one about to lapse. */
  renewals?: number;
  /** The hold a renewal replaced, until it is released at the provider. */
  releasing_ref?: string | null;
  /** A renewal failed: operations decide, and no renewal is tried again. */
  renewal_failed_at?: Date | null;
  /**
   * A capture or release of the hold began: from then on no renewal replaces the hold, so the
   * one captured or released is the one the payment names.
   */
  settling_at?: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const attemptOf = (payment: Pick<Payment, "attempt">): number => payment.attempt ?? 1;

/** A card dispute as Stripe reports it: its id, status and reason, the amount it claims. */
export interface StripeDispute {
  id: string;
  status: string;
  reason: string;
  amount_cents: number;
  opened_at: Date;
  /** When Stripe said it closed (won, lost); null while it is open. */
  closed_at: Date | null;
  /** When the handover proof went to Stripe as the dispute's evidence (once); null before. */
  evidence_submitted_at?: Date | null;
  evidence?: CardDisputeEvidence | null;
}

/**
 * The handover proof given as a card dispute's evidence: the text of the handovers (times,
 * positions, the PIN), the drop-off photo's id, and the file Stripe keeps of it (null with the
 * simulated provider, which records the evidence here only).
 */
export interface CardDisputeEvidence {
  text: string;
  photo_id: string | null;
  file_id: string | null;
}

/** Every payment event names the booking as the booking's own events do. */
const bookingOf = (payment: Payment) => ({
  booking_id: payment.booking_id,
  booking_number: payment.booking_number ?? payment.booking_id,
});

/** The provider's answer to an authorisation (adapters/payments/port.ts). */
export type Authorization =
  | { status: "held" | "pending"; providerRef: string }
  | { status: "declined"; providerRef: string | null; reason: string };

/** A saga step's outcome; stamped with the time it is decided at (`PaymentCommand`). */
export type PaymentStep =
  | {
      type: "open";
      id: string;
      booking: {
        booking_id: string;
        booking_number: string;
        owner_id: string;
        amount_cents: number;
        currency: string;
      };
      provider: Payment["provider"];
      payment_method: string;
    }
  /** The owner pays again after a failure, with another payment method: a new authorisation. */
  | { type: "retry"; payment_method: string }
  /**
   * The authorisation's answer, from the provider's reply or Stripe's webhook; with when the
   * hold lapses, and for an off-session hold that failed, the owner's deadline to pay.
   */
  | { type: "authorized"; authorization: Authorization; hold_expires_at?: Date; pay_by?: Date }
  /** A scheduled booking's card is saved, to be held at `hold_at`. */
  | {
      type: "card_saved";
      setup_ref: string;
      customer_ref: string | null;
      payment_method: string;
      pickup_at: Date;
      hold_at: Date;
    }
  /**
   * A new hold replaces the one about to lapse (`replaces`, as the renewal read it); the old one
   * is released next.
   */
  | { type: "renewed"; provider_ref: string; replaces: string; hold_expires_at: Date }
  /** The hold a renewal replaced is released at the provider. */
  | { type: "renewal_released" }
  /** No new hold could be placed: the old one stays until it lapses, and operations decide. */
  | { type: "renewal_failed"; reason: string }
  /**
   * A capture or release of this hold begins: no renewal replaces it from now on. Refused when
   * the payment names another hold (a renewal replaced it): that one is settled instead.
   */
  | { type: "settling"; provider_ref: string }
  /** Stripe says the authorisation failed after all (3-D Secure refused, say). */
  | { type: "authorization_failed"; reason: string }
  /** The hold expired, or was voided outside Kilat: it can no longer be captured. */
  | { type: "hold_lost"; reason: string }
  /**
   * Captured: all of the hold, or (a dispute's partial refund) less, the rest released to the
   * owner; `reason` says why less.
   */
  | {
      type: "captured";
      /** The hold captured: the payment must still name it. */
      provider_ref: string;
      runner_id: string;
      captured_cents: number;
      fee_bps: number;
      reason?: string;
    }
  /** The booking was cancelled before the card was authorised: nothing is held yet. */
  | { type: "cancel_unauthorized" }
  /** The hold is released at the provider; also a hold that arrived after the cancellation. */
  | { type: "hold_released"; provider_ref: string; reason: string }
  | { type: "refunded"; refunded_cents: number; reason: string }
  /** The cardholder disputed the captured charge (`closed`: Stripe's decision came). */
  | {
      type: "charge_disputed";
      dispute: {
        id: string;
        status: string;
        reason: string;
        amount_cents: number;
        closed: boolean;
      };
    }
  /** The handover proof went to the provider as a card dispute's evidence. */
  | { type: "dispute_evidence"; dispute_id: string; evidence: CardDisputeEvidence }
  /** A step failed for good: said out loud, with the reason kept on the payment. */
  | { type: "fail"; reason: string; status?: "failed" };

export type PaymentCommand = PaymentStep & { at: Date };

type PaymentEvent =
  | "payment.escrow_held"
  | "payment.failed"
  | "payment.escrow_released"
  | "payment.escrow_refunded"
  | "payment.card_saved"
  | "payment.hold_renewal_failed";

/** A move's rules: the statuses it leaves from, the one it goes to (null: it stays), its event. */
interface Move {
  from: readonly PaymentRecordStatus[];
  to: PaymentRecordStatus | null;
  event: PaymentEvent | null;
}

/** The authorisation's answer is three moves, one for each answer; every other step is one. */
type MoveName =
  Exclude<PaymentStep["type"], "open" | "authorized"> | `authorized.${Authorization["status"]}`;

/** Every move of a payment; `decide` refuses a step from any other status. */
const MOVES = {
  // The provider's answer to the authorisation; Stripe's webhooks settle a pending one.
  // A saved card is held off-session when its time comes.
  "authorized.held": {
    from: ["created", "pending", "card_saved"],
    to: "held",
    event: "payment.escrow_held",
  },
  "authorized.pending": { from: ["created", "card_saved"], to: "pending", event: null },
  "authorized.declined": {
    from: ["created", "pending", "card_saved"],
    to: "failed",
    event: "payment.failed",
  },
  card_saved: { from: ["created"], to: "card_saved", event: "payment.card_saved" },
  // A hold about to lapse is replaced, then released; or, failing that, said out loud.
  renewed: { from: ["held"], to: null, event: null },
  renewal_released: { from: PAYMENT_STATUSES, to: null, event: null },
  renewal_failed: { from: ["held"], to: null, event: "payment.hold_renewal_failed" },
  // A capture or release begins: the hold is the payment's until it is settled.
  settling: { from: ["held", "pending"], to: null, event: null },
  authorization_failed: { from: ["created", "pending"], to: "failed", event: "payment.failed" },
  // The hold expired, or was voided outside Kilat.
  hold_lost: { from: ["pending", "held"], to: "failed", event: "payment.failed" },
  // The owner confirmed delivery, or an admin resolved a dispute (less captured: a partial
  // refund, published before the release).
  captured: { from: ["held"], to: "captured", event: "payment.escrow_released" },
  // The booking was cancelled: before the card was authorised, or while (or after) it is held.
  cancel_unauthorized: { from: ["created", "card_saved"], to: "canceled", event: null },
  hold_released: {
    from: ["held", "pending", "canceled"],
    to: "canceled",
    event: "payment.escrow_refunded",
  },
  refunded: { from: ["captured"], to: "refunded", event: "payment.escrow_refunded" },
  // A card dispute is recorded against the payment; its money moves at Stripe.
  charge_disputed: { from: ["captured", "refunded"], to: null, event: null },
  // Its evidence (the handover proof) is given once.
  dispute_evidence: { from: ["captured", "refunded"], to: null, event: null },
  // The owner pays again with another payment method.
  retry: { from: ["failed"], to: "created", event: null },
  // A step that failed for good, in any status; it fails the payment only when told to.
  fail: { from: PAYMENT_STATUSES, to: null, event: "payment.failed" },
} as const satisfies Record<MoveName, Move>;

const moveOf = (command: Exclude<PaymentCommand, { type: "open" }>): MoveName =>
  command.type === "authorized" ? `authorized.${command.authorization.status}` : command.type;

export function decide(payment: Payment | null, command: PaymentCommand): Decision<Payment> {
  if (command.type === "open") {
    return payment ? reject("conflict", "The booking is paid for already") : opened(command);
  }
  if (!payment) return reject("not_found", "Payment not found");
  const at = command.at;
  const refuse = () =>
    reject("conflict", `${cap(withArticle(payment.status))} payment cannot take ${command.type}`, {
      status: payment.status,
    });
  const move: Move = MOVES[moveOf(command)];
  if (!move.from.includes(payment.status)) return refuse();
  // The move's status and time, with what else it changes; guarded on the status it left from
  // and on anything else it read (`also`).
  const moved = (
    changes: Partial<Payment>,
    events: EventDraft[] = [],
    also: Expect<Payment> = {},
  ) =>
    accept<Payment>(
      { status: payment.status, ...also },
      { ...(move.to ? { status: move.to } : {}), ...changes, updated_at: at },
      events,
    );

  switch (command.type) {
    case "authorized": {
      const { authorization } = command;
      switch (authorization.status) {
        case "held":
          return moved(
            {
              provider_ref: authorization.providerRef,
              ...(payment.hold_at ? { hold_at: null } : {}),
              ...(payment.pay_by ? { pay_by: null } : {}),
              ...(command.hold_expires_at ? { hold_expires_at: command.hold_expires_at } : {}),
            },
            [
              {
                type: MOVES["authorized.held"].event,
                data: held(payment, authorization.providerRef, at),
              },
            ],
          );
        case "pending":
          return moved({ provider_ref: authorization.providerRef });
        case "declined":
          return moved(
            {
              provider_ref: authorization.providerRef,
              failure_reason: authorization.reason,
              ...(payment.hold_at ? { hold_at: null } : {}),
              ...(command.pay_by ? { pay_by: command.pay_by } : {}),
            },
            [
              {
                type: MOVES["authorized.declined"].event,
                data: {
                  ...failed(payment, `authorisation declined: ${authorization.reason}`, at),
                  ...(command.pay_by ? { pay_by: command.pay_by.toISOString() } : {}),
                },
              },
            ],
          );
        default:
          return unreachable(authorization);
      }
    }
    case "retry":
      if (!mayPayAgain(payment, command.payment_method)) {
        return reject("conflict", "This payment method failed already: pay with another one", {
          status: payment.status,
        });
      }
      return moved({
        payment_method: command.payment_method,
        attempt: attemptOf(payment) + 1,
        provider_ref: null,
        failure_reason: null,
        ...(payment.pay_by ? { pay_by: null } : {}),
        // The new authorisation is not being settled: it may be renewed.
        ...(payment.settling_at ? { settling_at: null } : {}),
      });
    case "card_saved":
      return moved(
        {
          setup_ref: command.setup_ref,
          customer_ref: command.customer_ref,
          payment_method: command.payment_method,
          pickup_at: command.pickup_at,
          hold_at: command.hold_at,
        },
        [
          {
            type: MOVES[command.type].event,
            data: {
              payment_id: payment._id,
              ...bookingOf(payment),
              owner_id: payment.owner_id,
              amount_cents: payment.amount_cents,
              currency: payment.currency,
              pickup_at: command.pickup_at.toISOString(),
              hold_at: command.hold_at.toISOString(),
              occurred_at: at.toISOString(),
            },
          },
        ],
      );
    case "renewed":
      // Decided on the hold it replaces: a renewal is placed once per hold, and never on a hold
      // being captured or released (that one is the payment's, and the new hold goes back).
      if (
        payment.releasing_ref ||
        payment.settling_at ||
        payment.provider_ref !== command.replaces
      ) {
        return refuse();
      }
      return moved(
        {
          provider_ref: command.provider_ref,
          hold_expires_at: command.hold_expires_at,
          releasing_ref: payment.provider_ref,
          renewals: (payment.renewals ?? 0) + 1,
        },
        [],
        { provider_ref: command.replaces, releasing_ref: null, settling_at: null },
      );
    case "settling":
      if (payment.provider_ref !== command.provider_ref) return refuse();
      // Claimed already (a redelivered event, or a capture and a release at once): nothing new.
      if (payment.settling_at) return accept({}, {});
      return moved({ settling_at: at }, [], { provider_ref: command.provider_ref });
    case "renewal_released":
      if (!payment.releasing_ref) return refuse();
      return moved({ releasing_ref: null }, [], { releasing_ref: payment.releasing_ref });
    case "renewal_failed":
      // A hold being captured or released is no news to the owner: nothing is said.
      if (payment.renewal_failed_at || payment.settling_at) return refuse();
      return moved({ renewal_failed_at: at }, [
        {
          type: MOVES[command.type].event,
          data: {
            payment_id: payment._id,
            ...bookingOf(payment),
            owner_id: payment.owner_id,
            reason: command.reason.slice(0, 500),
            hold_expires_at: (payment.hold_expires_at ?? at).toISOString(),
            occurred_at: at.toISOString(),
          },
        },
      ]);
    case "authorization_failed":
      return moved({ failure_reason: command.reason }, [
        {
          type: MOVES[command.type].event,
          data: failed(payment, `authorisation failed: ${command.reason}`, at),
        },
      ]);
    case "hold_lost": {
      const lost = command.reason === "automatic" ? "expired" : command.reason;
      return moved({ failure_reason: `authorisation ${command.reason}` }, [
        { type: MOVES[command.type].event, data: failed(payment, `authorisation ${lost}`, at) },
      ]);
    }
    case "captured": {
      // Recorded against the hold that was captured, never one a renewal put in its place.
      if (payment.provider_ref !== command.provider_ref) return refuse();
      const split = splitFee(command.captured_cents, command.fee_bps);
      // What the hold had beyond the capture went back to the owner: payout + fee + refunded = held.
      const refundedCents = Math.max(0, payment.amount_cents - command.captured_cents);
      return moved(
        {
          runner_id: command.runner_id,
          captured_cents: command.captured_cents,
          platform_fee_cents: split.platformFeeCents,
          runner_payout_cents: split.runnerPayoutCents,
          ...(refundedCents > 0 ? { refunded_cents: refundedCents } : {}),
        },
        [
          ...(refundedCents > 0 ? [partlyRefunded(payment, command, refundedCents, at)] : []),
          {
            type: MOVES[command.type].event,
            data: {
              payment_id: payment._id,
              ...bookingOf(payment),
              owner_id: payment.owner_id,
              runner_id: command.runner_id,
              runner_payout_cents: split.runnerPayoutCents,
              platform_fee_cents: split.platformFeeCents,
              currency: payment.currency,
              occurred_at: at.toISOString(),
            },
          },
        ],
        { provider_ref: command.provider_ref },
      );
    }
    case "cancel_unauthorized":
      return moved({});
    case "hold_released": {
      // From canceled only a hold that arrived after the cancellation, not released yet:
      // nothing stays held, and nothing is refunded twice.
      if (payment.status === "canceled" && payment.refunded_cents !== 0) return refuse();
      // A held (or pending) one is recorded against the hold released, never one a renewal put
      // in its place.
      const named = payment.status !== "canceled";
      if (named && payment.provider_ref !== command.provider_ref) return refuse();
      return moved(
        { provider_ref: command.provider_ref, refunded_cents: payment.amount_cents },
        [
          {
            type: MOVES[command.type].event,
            data: refunded(payment, payment.amount_cents, command.reason, at),
          },
        ],
        {
          refunded_cents: payment.refunded_cents,
          ...(named ? { provider_ref: command.provider_ref } : {}),
        },
      );
    }
    case "refunded":
      return moved({ refunded_cents: command.refunded_cents }, [
        {
          type: MOVES[command.type].event,
          data: refunded(payment, command.refunded_cents, command.reason, at),
        },
      ]);
    case "charge_disputed": {
      const { id, status, reason, amount_cents, closed } = command.dispute;
      const known = payment.stripe_dispute?.id === id ? payment.stripe_dispute : null;
      // A closed dispute stays closed: news of it opening, arriving late, changes nothing.
      if (known?.closed_at && !closed) return refuse();
      const given = known?.evidence_submitted_at
        ? { evidence_submitted_at: known.evidence_submitted_at, evidence: known.evidence ?? null }
        : {};
      const recorded = payment.stripe_dispute;
      return moved(
        {
          stripe_dispute: {
            id,
            status,
            reason,
            amount_cents,
            opened_at: known?.opened_at ?? at,
            closed_at: closed ? at : null,
            ...given,
          },
        },
        [],
        // The evidence it keeps is the one it read: never one given meanwhile, overwritten.
        recorded
          ? { "stripe_dispute.evidence_submitted_at": recorded.evidence_submitted_at ?? null }
          : {},
      );
    }
    case "dispute_evidence": {
      const dispute = payment.stripe_dispute;
      // Given once, to the dispute it was made for: a replayed webhook gives it no second time.
      if (dispute?.id !== command.dispute_id || dispute.evidence_submitted_at) return refuse();
      return moved(
        { stripe_dispute: { ...dispute, evidence_submitted_at: at, evidence: command.evidence } },
        [],
        { "stripe_dispute.evidence_submitted_at": null },
      );
    }
    case "fail":
      // Said once: the same failure reported again (a redelivered event) changes nothing.
      if (payment.failure_reason === command.reason) return refuse();
      return moved(
        { ...(command.status ? { status: command.status } : {}), failure_reason: command.reason },
        [
          {
            type: MOVES[command.type].event,
            data: failed(payment, command.reason.slice(0, 500), at),
          },
        ],
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
          booking_number: booking.booking_number,
          owner_id: booking.owner_id,
          amount_cents: booking.amount_cents,
          currency: booking.currency,
          occurred_at: at.toISOString(),
        },
      },
    ],
  );
}

const held = (
  payment: Payment,
  providerRef: string,
  at: Date,
): EventPayload<"payment.escrow_held"> => ({
  payment_id: payment._id,
  ...bookingOf(payment),
  owner_id: payment.owner_id,
  stripe_payment_id: providerRef,
  amount_cents: payment.amount_cents,
  currency: payment.currency,
  occurred_at: at.toISOString(),
});

/** `payment.partially_refunded`: what a capture of less than the hold returned to the owner. */
const partlyRefunded = (
  payment: Payment,
  command: Extract<PaymentStep, { type: "captured" }>,
  refundedCents: number,
  at: Date,
): EventDraft<"payment.partially_refunded"> => ({
  type: "payment.partially_refunded",
  data: {
    payment_id: payment._id,
    ...bookingOf(payment),
    owner_id: payment.owner_id,
    runner_id: command.runner_id,
    amount_cents: payment.amount_cents,
    captured_cents: command.captured_cents,
    refunded_cents: refundedCents,
    currency: payment.currency,
    refund_reason: command.reason ?? "captured less than held",
    occurred_at: at.toISOString(),
  },
});

const failed = (payment: Payment, reason: string, at: Date): EventPayload<"payment.failed"> => ({
  payment_id: payment._id,
  ...bookingOf(payment),
  owner_id: payment.owner_id,
  reason,
  occurred_at: at.toISOString(),
});

const refunded = (
  payment: Payment,
  cents: number,
  reason: string,
  at: Date,
): EventPayload<"payment.escrow_refunded"> => ({
  payment_id: payment._id,
  ...bookingOf(payment),
  owner_id: payment.owner_id,
  amount_cents: cents,
  currency: payment.currency,
  refund_reason: reason,
  occurred_at: at.toISOString(),
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
 * card, a hold that was lost) and another payment method is offered, or any after an off-session
 * hold failed (`pay_by`: the owner is there now). Otherwise the same method again is the same
 * request replayed: it gets the answer it got.
 */
export const mayPayAgain = (
  payment: Pick<Payment, "status" | "payment_method" | "pay_by">,
  paymentMethod: string,
): boolean =>
  payment.status === "failed" &&
  // After an off-session hold failed, the owner may pay on-session with the same card.
  (paymentMethod !== payment.payment_method || Boolean(payment.pay_by));

/** A booking can be paid for while it waits for a runner; later it is too late. */
export function payable(booking: { status: string }): { ok: true } | ReturnType<typeof reject> {
  return booking.status === "requested"
    ? { ok: true }
    : reject("conflict", `${cap(withArticle(booking.status))} booking cannot be paid`, {
        status: booking.status,
      });
}
