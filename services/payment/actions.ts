import { PAYMENT_ACTIONS, type BookingEntity } from "../../contracts";
import { mayPay } from "../../domain/access";
import { mayPayAgain, payable, paymentOutcome } from "../../domain/payment";
import { paymentMode } from "../../domain/schedule";
import { runtimeOf } from "../../lib/runtime";
import { actionsOf, callerOf, notFound, rejected } from "../../lib/action";
import { ignoreDuplicateKey } from "../../lib/mongo";
import { open, paymentIdOf, paymentOf, record } from "./commands";
import { toEntity } from "./entities";
import { authorize, settleEnded } from "./escrow";
import type { PaymentThis } from "./models";
import { saveCard } from "./schedule";
import { answerCardDispute } from "./dispute-evidence";
import { UNKNOWN_PAYMENT, UNUSABLE, applyStripeEvent } from "./stripe-events";

const action = actionsOf<PaymentThis>();

/** The owner pays into escrow: the card is authorised for the booking's price, not charged. */
export const create = action(PAYMENT_ACTIONS.create, async function (ctx) {
  const owner = callerOf(ctx);
  const booking = await ctx.call<BookingEntity, { id: string }>("booking.get", {
    id: ctx.params.id,
  });
  if (!mayPay(owner, booking)) throw notFound("Booking");
  const due = payable(booking);
  if (!due.ok) throw rejected(due.rejection);
  // Opened, or the one there is (a repeat, or one left "created"): the insert finds out, with
  // no read before it.
  let payment = await open(this, {
    type: "open",
    id: paymentIdOf(booking.booking_id),
    booking: {
      booking_id: booking.booking_id,
      booking_number: booking.booking_number,
      owner_id: owner.sub,
      amount_cents: booking.estimated_price_cents,
      currency: booking.currency,
    },
    provider: this.provider.kind,
    payment_method: ctx.params.payment_method,
    at: new Date(),
  });
  // A failed payment paid again with another method is a new attempt (a new idempotency key);
  // of two such requests at once, the guarded write lets one through.
  if (mayPayAgain(payment, ctx.params.payment_method)) {
    const retried = await record(this, payment, {
      type: "retry",
      payment_method: ctx.params.payment_method,
    });
    payment = retried.ok ? retried.state : ((await paymentOf(this, booking.booking_id)) ?? payment);
  }
  // A payment still "created" (new, retried, or left by a provider outage) is authorised now;
  // the idempotency key makes a second try return the first answer. One that already settled is
  // returned as it is: paying twice changes nothing.
  const fresh = payment.status === "created";
  // Beyond the authorisation window the card is saved, and held off-session before the pickup.
  const pickupAt = booking.pickup_at ? new Date(booking.pickup_at) : null;
  const mode = paymentMode(pickupAt, new Date(), runtimeOf(this.broker).config.schedule);
  if (fresh) {
    payment =
      mode === "save_card" && pickupAt
        ? await saveCard(this, payment, pickupAt)
        : await authorize(this, payment);
  }
  const outcome = paymentOutcome(payment, fresh);
  if (outcome !== "unchanged") ctx.meta.$outcome = outcome;
  ctx.meta.$location = `/api/bookings/${booking.booking_id}/payment`;
  return toEntity(payment);
});

/** The booking's payment, to whoever may see the booking. */
export const get = action(PAYMENT_ACTIONS.get, async function (ctx) {
  // 404 unless the caller may see the booking
  const booking = await ctx.call<BookingEntity, { id: string }>("booking.get", {
    id: ctx.params.id,
  });
  const payment = await paymentOf(this, booking.booking_id);
  if (!payment) throw notFound("Payment");
  return toEntity(payment);
});

/** The booking ended while (or before) its escrow was held: the hold is released, once. */
export const release = action(PAYMENT_ACTIONS.release, async function (ctx) {
  await settleEnded(this, ctx.params.booking_id, ctx.params.reason);
  const payment = await paymentOf(this, ctx.params.booking_id);
  return payment ? toEntity(payment) : null;
});

/** A verified Stripe webhook (the gateway checked its signature); once per Stripe event id. */
export const stripeEvent = action(PAYMENT_ACTIONS.stripeEvent, async function (ctx) {
  const { id, type, object } = ctx.params;
  if (await this.models.stripeEvents.exists({ _id: id }))
    return { received: true, duplicate: true };
  const { label: outcome, problem, payment } = await applyStripeEvent(this, type, object);
  // Before the event is marked handled: an outage giving it makes Stripe send the event again.
  const evidence =
    type === "charge.dispute.created" && payment ? await answerCardDispute(this, payment) : null;
  // An event for a payment we do not (yet) know is not marked handled: Stripe's retry may land later.
  if (outcome === UNKNOWN_PAYMENT) return { received: true, outcome };
  // An unusable one is kept with its problem for ops to see, and acknowledged: Stripe would
  // send the same signed content again for days, and it would never become usable.
  if (outcome === UNUSABLE) this.logger.warn(`Stripe event ${id} (${type}) unusable: ${problem}`);
  await this.models.stripeEvents
    .create({ _id: id, type, handled_at: new Date(), outcome, ...(problem ? { problem } : {}) })
    .catch(ignoreDuplicateKey);
  return {
    received: true,
    outcome,
    ...(problem ? { problem } : {}),
    ...(evidence ? { evidence } : {}),
  };
});
