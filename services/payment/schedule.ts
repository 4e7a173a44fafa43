import { PaymentRejected, stepKey } from "../../adapters/payments/port";
import { attemptOf } from "../../domain/payment";
import { holdAt, holdExpiresAt, renewFrom } from "../../domain/schedule";
import { runtimeOf } from "../../lib/runtime";
import type { PaymentDoc } from "../../models/payment.model";
import { paymentOf, record } from "./commands";
import { authorize } from "./escrow";
import type { PaymentThis } from "./models";

/**
 * Scheduled bookings' payments (domain/schedule.ts): a card saved when the booking is paid for
 * beyond the authorisation window, held off-session at its `hold_at`, and holds renewed before
 * they lapse. Every timer is a field of the payment, found by a sweep: a restart forgets none.
 * Each provider call has its step's idempotency key, so a sweep repeated after a crash repeats
 * the call harmlessly.
 */

/** Payments a sweep handles at most (one read). */
const PAGE = 100;

/** Saves the card of a booking paid for beyond the authorisation window: `payment.card_saved`. */
export async function saveCard(
  service: PaymentThis,
  payment: PaymentDoc,
  pickupAt: Date,
): Promise<PaymentDoc> {
  const key = stepKey(payment._id, "save", attemptOf(payment));
  const request = {
    paymentId: payment._id,
    bookingId: payment.booking_id,
    ownerId: payment.owner_id,
    paymentMethod: payment.payment_method,
  };
  let outcome;
  try {
    const saved = await service.provider.saveCard(request, key);
    outcome = await record(service, payment, {
      type: "card_saved",
      setup_ref: saved.setupRef,
      customer_ref: saved.customerRef,
      payment_method: saved.paymentMethod,
      pickup_at: pickupAt,
      hold_at: holdAt(pickupAt, runtimeOf(service.broker).config.schedule),
    });
  } catch (error) {
    if (!(error instanceof PaymentRejected)) throw error;
    // A card that cannot be saved is declined as a card that cannot be held: pay with another.
    const authorization = { status: "declined" as const, providerRef: null, reason: error.reason };
    outcome = await record(service, payment, { type: "authorized", authorization });
  }
  if (outcome.ok) return outcome.state;
  return (await paymentOf(service, payment.booking_id)) ?? payment;
}

/** A due payment's place in a sweep's order: its due time, then its id. */
interface Place {
  due: Date;
  id: string;
}

/**
 * Where the last sweep of each kind stopped, per service instance. A sweep that read a full page
 * leaves the next one to start behind it, so a page of payments that fail every time never keeps
 * the ones after it waiting; a sweep that reaches the end leaves the next to start at the front,
 * where those are tried again.
 */
const stops = new WeakMap<PaymentThis, Map<string, Place>>();

/**
 * Runs `each` on the payments `filter` finds, oldest due first, a page per run from where the
 * last run of this kind stopped: one that fails is logged and the others go on; it is tried
 * again when a run comes back round to it.
 */
async function sweep(
  service: PaymentThis,
  what: string,
  filter: Record<string, unknown>,
  due: "hold_at" | "hold_expires_at" | "updated_at",
  each: (payment: PaymentDoc) => Promise<unknown>,
): Promise<number> {
  const stopped = stops.get(service) ?? new Map<string, Place>();
  stops.set(service, stopped);
  const after = stopped.get(what);
  const behind = after && {
    $or: [{ [due]: { $gt: after.due } }, { [due]: after.due, _id: { $gt: after.id } }],
  };
  const page = await service.models.payments
    .find(behind ? { $and: [filter, behind] } : filter, { outbox: 0 })
    .sort({ [due]: 1, _id: 1 })
    .limit(PAGE)
    .lean<PaymentDoc[]>();
  const last = page.at(-1);
  const lastDue = last?.[due];
  if (page.length === PAGE && last && lastDue) stopped.set(what, { due: lastDue, id: last._id });
  else stopped.delete(what);
  let done = 0;
  for (const payment of page) {
    try {
      await each(payment);
      done++;
    } catch (error) {
      service.logger.warn(`${what} of ${payment._id} failed: ${(error as Error).message}`);
    }
  }
  return done;
}

/**
 * Holds the saved cards whose `hold_at` came, off-session: held → `payment.escrow_held` (dispatch
 * waits for the lead before the pickup); declined → `payment.failed` with `pay_by`.
 */
export function holdSavedCards(this: PaymentThis): Promise<number> {
  return sweep(
    this,
    "off-session hold",
    { status: "card_saved", hold_at: { $lte: new Date() } },
    "hold_at",
    (payment) => authorize(this, payment, true),
  );
}

/**
 * Renews the holds that would lapse within RENEW_MARGIN_HOURS, not captured yet: a new hold
 * off-session (its own key per renewal), recorded, then the old one released; one that cannot be
 * placed is escalated (`payment.hold_renewal_failed`) and the old hold stays until it lapses. A
 * renewal whose old hold is not released yet (a crash in between) is finished first.
 */
export async function renewHolds(this: PaymentThis): Promise<number> {
  const released = await sweep(
    this,
    "release of a renewed hold",
    { releasing_ref: { $type: "string" } },
    "updated_at",
    (payment) => releaseRenewed(this, payment),
  );
  const { schedule } = runtimeOf(this.broker).config;
  const renewed = await sweep(
    this,
    "hold renewal",
    {
      status: "held",
      hold_expires_at: { $lte: renewFrom(new Date(), schedule) },
      renewal_failed_at: null,
      releasing_ref: null,
      // A hold being captured or released is the payment's: never replaced under it.
      settling_at: null,
    },
    "hold_expires_at",
    (payment) => renew(this, payment),
  );
  return released + renewed;
}

async function renew(service: PaymentThis, payment: PaymentDoc): Promise<void> {
  const replaces = payment.provider_ref;
  if (!replaces) return;
  const renewal = (payment.renewals ?? 0) + 1;
  const answer = await service.provider
    .authorize(
      {
        paymentId: payment._id,
        bookingId: payment.booking_id,
        amountCents: payment.amount_cents,
        currency: payment.currency,
        paymentMethod: payment.payment_method,
        attempt: attemptOf(payment),
        offSession: { customerRef: payment.customer_ref ?? null },
      },
      stepKey(payment._id, "renew", renewal),
    )
    .catch((error: unknown) => {
      if (error instanceof PaymentRejected) {
        return { status: "declined" as const, providerRef: null, reason: error.reason };
      }
      throw error;
    });
  if (answer.status !== "held") {
    // A hold that waits for the owner (3-D Secure) is no renewal: it must not stay behind.
    if (answer.status === "pending") {
      await service.provider.cancel(
        answer.providerRef,
        `${stepKey(payment._id, "unrenew", renewal)}:unused`,
      );
    }
    const reason = answer.status === "declined" ? answer.reason : "authentication_required";
    await record(service, payment, { type: "renewal_failed", reason });
    return;
  }
  const { schedule } = runtimeOf(service.broker).config;
  const renewed = await record(service, payment, {
    type: "renewed",
    provider_ref: answer.providerRef,
    replaces,
    hold_expires_at: holdExpiresAt(new Date(), schedule),
  });
  if (renewed.ok) {
    await releaseRenewed(service, renewed.state);
    return;
  }
  // Captured, released, or being settled meanwhile (`settling`): the hold read is the payment's,
  // and the new one is released.
  const now = await paymentOf(service, payment.booking_id);
  if (now?.provider_ref !== answer.providerRef) {
    await service.provider.cancel(
      answer.providerRef,
      `${stepKey(payment._id, "unrenew", renewal)}:unused`,
    );
  }
}

/** Releases the hold a renewal replaced, then records it: one hold stays live. */
async function releaseRenewed(service: PaymentThis, payment: PaymentDoc): Promise<void> {
  const old = payment.releasing_ref;
  if (!old) return;
  await service.provider
    .cancel(old, stepKey(payment._id, "unrenew", payment.renewals ?? 1))
    .catch((error: unknown) => {
      // Lapsed or released already: nothing of it stays live.
      if (!(error instanceof PaymentRejected)) throw error;
    });
  await record(service, payment, { type: "renewal_released" });
}
