import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { MongoSimulatedStore, SimulatedPaymentProvider } from "../../adapters/payments/simulated";
import { StripePaymentProvider } from "../../adapters/payments/stripe";
import { runtimeOf } from "../../lib/runtime";
import { createStripeClient } from "../../lib/stripe";
import { DomainMixins } from "../../mixins/domain-events.mixin";
import * as actions from "./actions";
import { escalations } from "./escalations";
import { models, type PaymentThis } from "./models";
import { bookingEvents } from "./escrow";
import { Periodic } from "../../mixins/periodic.mixin";
import { holdSavedCards, renewHolds } from "./schedule";

/**
 * The escrow saga: the owner's card authorised when the booking is paid for, captured when the
 * delivery is confirmed, released or refunded when the booking is cancelled (domain/payment.ts);
 * Stripe's webhooks settle what happens at Stripe meanwhile.
 */
const PaymentService: ServiceSchema<ServiceSettingSchema, object, object, PaymentThis> = {
  name: "payment",
  mixins: [
    Periodic<PaymentThis>({
      // SCHEDULE_SWEEP_MS late at most: a hold is placed a day before the pickup, renewed a day ahead.
      scheduledHolds: { everyMs: ({ scheduleSweepMs }) => scheduleSweepMs, run: holdSavedCards },
      holdRenewals: { everyMs: ({ scheduleSweepMs }) => scheduleSweepMs, run: renewHolds },
    }),
    ...DomainMixins<PaymentThis, typeof models>({
      db: "payment",
      models,
      // Every handler is a saga step decided on the payment's status, its provider call made
      // with the step's idempotency key: a repeated booking event changes nothing.
      deduplicate: false,
      outbox: ["payments"],
      consume: { "service-payment-bookings": bookingEvents },
    }),
  ],

  actions: {
    /** The owner pays into escrow: 201 held (or failed), 202 pending, 200 when asked again. */
    create: actions.create,
    /** The booking's payment, to whoever may see the booking. */
    get: actions.get,
    /** A verified Stripe webhook, applied once per Stripe event id. */
    stripeEvent: actions.stripeEvent,
    /** Internal: releases what is held for a booking that ended. */
    release: actions.release,
    /** Operators: failed off-session holds and renewals (the operations page). */
    escalations,
  },

  started() {
    // After MongoMixin connected: the simulated provider keeps its holds in this database.
    const { config } = runtimeOf(this.broker);
    const stripe = createStripeClient(config);
    this.provider = stripe
      ? new StripePaymentProvider(stripe)
      : new SimulatedPaymentProvider(new MongoSimulatedStore(this.models.simulatedIntents));
    if (!stripe && config.env === "production")
      this.logger.warn("payments are simulated: no money moves until STRIPE_SECRET_KEY is set");
  },
};

export default PaymentService;
