import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import { splitFee } from "../domain/fees";
import type { DomainEvent } from "../events/envelope";
import { actionsOf, callerOf, conflict, notFound } from "../lib/action";
import { guardedUpdate, toOutbox } from "../lib/outbox";
import { DEFAULT_RETRY, type DeliveryMeta } from "../lib/event-bus";
import { PaymentRejected, stepKey, type PaymentProvider } from "../lib/payments/port";
import { MongoSimulatedStore, SimulatedPaymentProvider } from "../lib/payments/simulated";
import { StripePaymentProvider } from "../lib/payments/stripe";
import { runtimeOf } from "../lib/runtime";
import { createStripeClient } from "../lib/stripe";
import { DomainEvents, type DomainEventsMethods } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { paymentModel, type PaymentDoc, type PaymentRecordStatus } from "../models/payment.model";
import { simulatedAnswerModel, simulatedIntentModel } from "../models/simulated-payment.model";
import { stripeEventModel } from "../models/stripe-event.model";
import { ignoreDuplicateKey } from "../lib/mongo";
import type { BookingEntity } from "./booking.service";

const models = {
  payments: paymentModel,
  stripeEvents: stripeEventModel,
  simulatedIntents: simulatedIntentModel,
  simulatedAnswers: simulatedAnswerModel,
};

export const CreatePaymentParams = z.object({
  id: z.string().min(1).max(64),
  payment_method: z.string().trim().min(1).max(100).default("pm_card_visa"),
});
export const GetPaymentParams = z.object({ id: z.string().min(1).max(64) });
/** A verified Stripe webhook event, as the gateway passes it on. */
export const StripeEventParams = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  object: z.record(z.string(), z.unknown()),
});

/** A payment as the API returns it. */
export interface PaymentEntity {
  payment_id: string;
  booking_id: string;
  status: PaymentRecordStatus;
  amount_cents: number;
  currency: string;
  captured_cents: number;
  platform_fee_cents: number;
  runner_payout_cents: number;
  refunded_cents: number;
  failure_reason: string | null;
  provider: PaymentDoc["provider"];
  /** The PaymentIntent (or simulated hold) id at the provider. */
  provider_ref: string | null;
}

interface PaymentVars {
  provider: PaymentProvider;
}

interface PaymentMethods {
  paymentOf(bookingId: string): Promise<PaymentDoc | null>;
  payoutDestination(runnerId: string): Promise<string | null>;
  authorize(payment: PaymentDoc): Promise<PaymentDoc>;
  advance(
    payment: PaymentDoc,
    from: PaymentRecordStatus[],
    set: Partial<PaymentDoc>,
    events: DomainEvent[],
  ): Promise<PaymentDoc | null>;
  onDeliveryConfirmed(event: DomainEvent, meta: DeliveryMeta): Promise<void>;
  onBookingCancelled(event: DomainEvent): Promise<void>;
  applyStripeEvent(type: string, object: Record<string, unknown>): Promise<string>;
  surfaceFailure(payment: PaymentDoc, reason: string, set?: Partial<PaymentDoc>): Promise<void>;
}

type PaymentThis = Service &
  MongoThis<typeof models> &
  PaymentVars &
  PaymentMethods &
  DomainEventsMethods;
const action = actionsOf<PaymentThis>();

const toEntity = (doc: PaymentDoc): PaymentEntity => ({
  payment_id: doc._id,
  booking_id: doc.booking_id,
  status: doc.status,
  amount_cents: doc.amount_cents,
  currency: doc.currency,
  captured_cents: doc.captured_cents,
  platform_fee_cents: doc.platform_fee_cents,
  runner_payout_cents: doc.runner_payout_cents,
  refunded_cents: doc.refunded_cents,
  failure_reason: doc.failure_reason,
  provider: doc.provider,
  provider_ref: doc.provider_ref,
});

const now = () => new Date().toISOString();

/**
 * A booking has at most one payment, so its id follows from the booking's: every lookup is by
 * `_id`, the one lookup FerretDB (the MongoDB-compatible server here) answers from an index.
 */
const paymentIdOf = (bookingId: string) => `pay_${bookingId}`;
const UNKNOWN_PAYMENT = "unknown payment";
/** A string field of a Stripe object, or "" when it is absent or not a string. */
const text = (value: unknown): string => (typeof value === "string" ? value : "");

/**
 * The escrow saga. Every step is a provider call with the step's idempotency key followed by
 * one guarded write of the new status and its event (outbox), so a step retried after a crash
 * repeats the call harmlessly and publishes once.
 */
const PaymentService: ServiceSchema<
  ServiceSettingSchema,
  PaymentMethods & DomainEventsMethods,
  MongoThis<typeof models> & PaymentVars
> = {
  name: "payment",
  mixins: [
    DomainEvents({
      source: "payment",
      outbox: ["payments"],
      consume: {
        "service-payment-bookings": {
          "booking.delivery_confirmed": "onDeliveryConfirmed",
          "booking.cancelled": "onBookingCancelled",
        },
      },
    }),
    MongoMixin({ db: "payment", models }),
  ],

  started() {
    // After MongoMixin connected: the simulated provider keeps its holds in this database.
    const { config } = runtimeOf(this.broker);
    const stripe = createStripeClient(config);
    this.provider = stripe
      ? new StripePaymentProvider(stripe)
      : new SimulatedPaymentProvider(
          new MongoSimulatedStore(this.models.simulatedIntents, this.models.simulatedAnswers),
        );
    if (!stripe && config.env === "production")
      this.logger.warn("payments are simulated: no money moves until STRIPE_SECRET_KEY is set");
  },

  actions: {
    /** The owner pays into escrow: the card is authorised for the booking's price, not charged. */
    create: action({
      roles: ["owner"],
      params: CreatePaymentParams,
      async handler(ctx) {
        const owner = callerOf(ctx);
        const booking = await ctx.call<BookingEntity, { id: string }>("booking.get", {
          id: ctx.params.id,
        });
        if (booking.owner_id !== owner.sub) throw notFound("Booking");
        if (booking.status !== "requested")
          throw conflict(`a ${booking.status} booking cannot be paid`);
        let payment = await this.models.payments
          .findById(paymentIdOf(booking.booking_id))
          .lean<PaymentDoc>();
        if (!payment) {
          const id = paymentIdOf(booking.booking_id);
          const at = new Date();
          const created = this.domainEvent("payment.escrow_created", {
            payment_id: id,
            booking_id: booking.booking_id,
            owner_id: owner.sub,
            amount_cents: booking.estimated_price_cents,
            currency: booking.currency,
            occurred_at: at.toISOString(),
          });
          try {
            await this.models.payments.create({
              _id: id,
              booking_id: booking.booking_id,
              owner_id: owner.sub,
              amount_cents: booking.estimated_price_cents,
              currency: booking.currency,
              status: "created",
              provider: this.provider.kind,
              payment_method: ctx.params.payment_method,
              created_at: at,
              updated_at: at,
              outbox: toOutbox([created]),
            });
          } catch (error) {
            ignoreDuplicateKey(error); // a concurrent first request created it
          }
          payment = await this.paymentOf(booking.booking_id);
          if (!payment) throw notFound("Payment");
          this.outboxRelay(this.models.payments).flushSoon(payment._id);
        }
        // A payment still "created" (new, or left by a provider outage) is authorised now;
        // the idempotency key makes a second try return the first answer. A payment that
        // already settled is returned as it is (200): paying twice changes nothing.
        const fresh = payment.status === "created";
        if (fresh) payment = await this.authorize(payment);
        ctx.meta.$statusCode = payment.status === "pending" ? 202 : fresh ? 201 : 200;
        ctx.meta.$location = `/api/bookings/${booking.booking_id}/payment`;
        return toEntity(payment);
      },
    }),

    /** A verified Stripe webhook (the gateway checked its signature); once per Stripe event id. */
    stripeEvent: action({
      params: StripeEventParams,
      async handler(ctx) {
        const { id, type, object } = ctx.params;
        if (await this.models.stripeEvents.exists({ _id: id }))
          return { received: true, duplicate: true };
        const outcome = await this.applyStripeEvent(type, object);
        // An event for a payment we do not (yet) know is not marked handled: Stripe's retry may land later.
        if (outcome === UNKNOWN_PAYMENT) return { received: true, outcome };
        await this.models.stripeEvents
          .create({ _id: id, type, handled_at: new Date() })
          .catch(ignoreDuplicateKey);
        return { received: true, outcome };
      },
    }),

    /** The booking's payment, to whoever may see the booking. */
    get: action({
      roles: ["owner", "runner", "admin"],
      params: GetPaymentParams,
      async handler(ctx) {
        // 404 unless the caller may see the booking
        const booking = await ctx.call<BookingEntity, { id: string }>("booking.get", {
          id: ctx.params.id,
        });
        const payment = await this.paymentOf(booking.booking_id);
        if (!payment) throw notFound("Payment");
        return toEntity(payment);
      },
    }),
  },

  methods: {
    /**
     * The booking's payment: by `_id`, or by `booking_id` for a payment made before ids
     * followed the booking's (on FerretDB a scan, run only when the lookup by `_id` missed).
     */
    async paymentOf(bookingId: string) {
      return (
        (await this.models.payments.findById(paymentIdOf(bookingId)).lean<PaymentDoc>()) ??
        (await this.models.payments.findOne({ booking_id: bookingId }).lean<PaymentDoc>())
      );
    },

    async authorize(payment: PaymentDoc) {
      const result = await this.provider.authorize(
        {
          paymentId: payment._id,
          bookingId: payment.booking_id,
          amountCents: payment.amount_cents,
          currency: payment.currency,
          paymentMethod: payment.payment_method,
        },
        stepKey(payment._id, "authorize"),
      );
      const at = now();
      const next =
        result.status === "held"
          ? await this.advance(
              payment,
              ["created", "pending"],
              { status: "held", provider_ref: result.providerRef },
              [
                this.domainEvent("payment.escrow_held", {
                  payment_id: payment._id,
                  booking_id: payment.booking_id,
                  owner_id: payment.owner_id,
                  stripe_payment_id: result.providerRef,
                  amount_cents: payment.amount_cents,
                  currency: payment.currency,
                  occurred_at: at,
                }),
              ],
            )
          : result.status === "pending"
            ? await this.advance(
                payment,
                ["created"],
                { status: "pending", provider_ref: result.providerRef },
                [],
              )
            : await this.advance(
                payment,
                ["created", "pending"],
                {
                  status: "failed",
                  provider_ref: result.providerRef,
                  failure_reason: result.reason,
                },
                [
                  this.domainEvent("payment.failed", {
                    payment_id: payment._id,
                    booking_id: payment.booking_id,
                    owner_id: payment.owner_id,
                    reason: `authorisation declined: ${result.reason}`,
                    occurred_at: at,
                  }),
                ],
              );
      return (
        next ??
        ((await this.models.payments.findById(payment._id).lean<PaymentDoc>()) as PaymentDoc)
      );
    },

    /** One guarded write: the status moves only from `from`, with its events in the outbox. */
    async advance(
      payment: PaymentDoc,
      from: PaymentRecordStatus[],
      set: Partial<PaymentDoc>,
      events: DomainEvent[],
    ) {
      const doc = await guardedUpdate(
        this.models.payments,
        { _id: payment._id, status: { $in: from } },
        { ...set, updated_at: new Date() },
        events,
      );
      if (doc && events.length > 0) this.outboxRelay(this.models.payments).flushSoon(doc._id);
      return doc;
    },

    /** The runner's Stripe connected account (null: the share stays on the platform). */
    async payoutDestination(runnerId: string) {
      // Fails (and the saga retries) while the runner service is unreachable: paying a runner
      // late beats capturing without their transfer.
      const { stripe_account_id } = await this.broker.call<
        { stripe_account_id: string | null },
        { runner_id: string }
      >("runner.payoutAccount", { runner_id: runnerId });
      return stripe_account_id;
    },

    /** Capture, then `payment.escrow_released` with payout + fee = captured. */
    async onDeliveryConfirmed(event: DomainEvent, meta: DeliveryMeta) {
      const data = event.data as DomainEvent<"booking.delivery_confirmed">["data"];
      const payment = await this.paymentOf(data.booking_id);
      if (!payment || payment.status === "captured") return; // a repeat, or never paid
      if (payment.status !== "held" || !payment.provider_ref) {
        // Confirmed, but nothing to capture (the hold failed or expired): said out loud.
        await this.surfaceFailure(payment, `nothing to capture: the payment is ${payment.status}`);
        return;
      }
      const feeBps = runtimeOf(this.broker).config.platformFeeBps;
      const { runnerPayoutCents } = splitFee(payment.amount_cents, feeBps);
      try {
        const destination = await this.payoutDestination(data.runner_id);
        const { capturedCents } = await this.provider.capture(
          {
            paymentId: payment._id,
            providerRef: payment.provider_ref,
            amountCents: payment.amount_cents,
            currency: payment.currency,
            payoutCents: runnerPayoutCents,
            ...(destination ? { destination } : {}),
          },
          stepKey(payment._id, "capture"),
        );
        const split = splitFee(capturedCents, feeBps);
        await this.advance(
          payment,
          ["held"],
          {
            status: "captured",
            runner_id: data.runner_id,
            captured_cents: capturedCents,
            platform_fee_cents: split.platformFeeCents,
            runner_payout_cents: split.runnerPayoutCents,
          },
          [
            this.domainEvent("payment.escrow_released", {
              payment_id: payment._id,
              booking_id: payment.booking_id,
              runner_id: data.runner_id,
              runner_payout_cents: split.runnerPayoutCents,
              platform_fee_cents: split.platformFeeCents,
              currency: payment.currency,
              occurred_at: now(),
            }),
          ],
        );
      } catch (error) {
        // A refusal is final; anything else is retried with backoff (the same idempotency
        // key makes a repeat harmless) and, on the last attempt, also surfaced as
        // payment.failed before it goes to the dead-letter topic. Never a silent loss.
        if (error instanceof PaymentRejected) {
          await this.surfaceFailure(payment, `capture refused: ${error.reason}`, {
            status: "failed",
          });
          return;
        }
        if (meta.attempt >= DEFAULT_RETRY.attempts) {
          await this.surfaceFailure(
            payment,
            `capture failed ${meta.attempt} times: ${(error as Error).message}`,
          );
        }
        throw error;
      }
    },

    /** `payment.failed` for the owner (and ops), with the reason kept on the payment. */
    async surfaceFailure(payment: PaymentDoc, reason: string, set: Partial<PaymentDoc> = {}) {
      await this.advance(payment, [payment.status], { ...set, failure_reason: reason }, [
        this.domainEvent("payment.failed", {
          payment_id: payment._id,
          booking_id: payment.booking_id,
          owner_id: payment.owner_id,
          reason: reason.slice(0, 500),
          occurred_at: now(),
        }),
      ]);
    },

    /**
     * What Stripe tells us asynchronously: a hold that settled after 3-D Secure, a failed
     * authorisation, a hold that expired or was cancelled outside Kilat, a refund from the
     * dashboard. Each is a guarded write, so one already applied by our own flow is a no-op.
     */
    async applyStripeEvent(type: string, object: Record<string, unknown>) {
      const intentId = text(type === "charge.refunded" ? object.payment_intent : object.id);
      const paymentId = text((object.metadata as Record<string, unknown> | undefined)?.payment_id);
      const payment = await this.models.payments
        .findOne(paymentId ? { _id: paymentId } : { provider_ref: intentId })
        .lean<PaymentDoc>();
      if (!payment) return UNKNOWN_PAYMENT;
      const at = now();
      const failed = (reason: string) =>
        this.domainEvent("payment.failed", {
          payment_id: payment._id,
          booking_id: payment.booking_id,
          owner_id: payment.owner_id,
          reason,
          occurred_at: at,
        });
      switch (type) {
        case "payment_intent.amount_capturable_updated": {
          const moved = await this.advance(payment, ["created", "pending"], { status: "held" }, [
            this.domainEvent("payment.escrow_held", {
              payment_id: payment._id,
              booking_id: payment.booking_id,
              owner_id: payment.owner_id,
              stripe_payment_id: intentId,
              amount_cents: payment.amount_cents,
              currency: payment.currency,
              occurred_at: at,
            }),
          ]);
          return moved ? "held" : "no change";
        }
        case "payment_intent.payment_failed": {
          const reason = String(
            (object.last_payment_error as { code?: string } | undefined)?.code ?? "payment_failed",
          );
          const moved = await this.advance(
            payment,
            ["created", "pending"],
            { status: "failed", failure_reason: reason },
            [failed(`authorisation failed: ${reason}`)],
          );
          return moved ? "failed" : "no change";
        }
        case "payment_intent.canceled": {
          // Our own cancellation (booking cancelled) says requested_by_customer: already handled.
          if (text(object.cancellation_reason) === "requested_by_customer") return "no change";
          // Not cancelled by us (that path is already "canceled"): the authorisation expired
          // or was voided elsewhere. The booking can no longer be paid from this hold.
          const reason = text(object.cancellation_reason) || "expired";
          const moved = await this.advance(
            payment,
            ["pending", "held"],
            { status: "failed", failure_reason: `authorisation ${reason}` },
            [failed(`authorisation ${reason === "automatic" ? "expired" : reason}`)],
          );
          return moved ? "failed" : "no change";
        }
        case "payment_intent.succeeded":
          // Our capture already recorded it (or will, from the delivery confirmation).
          return "no change";
        case "charge.refunded": {
          const refunded = Number(object.amount_refunded ?? payment.captured_cents);
          const moved = await this.advance(
            payment,
            ["captured"],
            { status: "refunded", refunded_cents: refunded },
            [
              this.domainEvent("payment.escrow_refunded", {
                payment_id: payment._id,
                booking_id: payment.booking_id,
                owner_id: payment.owner_id,
                amount_cents: refunded,
                currency: payment.currency,
                refund_reason: "refunded in Stripe",
                occurred_at: at,
              }),
            ],
          );
          return moved ? "refunded" : "no change";
        }
        default:
          return "ignored";
      }
    },

    /** Release the hold (or refund a capture) and `payment.escrow_refunded`. */
    async onBookingCancelled(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.cancelled">["data"];
      const payment = await this.paymentOf(data.booking_id);
      if (!payment) return;
      const refunded = (amount: number) =>
        this.domainEvent("payment.escrow_refunded", {
          payment_id: payment._id,
          booking_id: payment.booking_id,
          owner_id: payment.owner_id,
          amount_cents: amount,
          currency: payment.currency,
          refund_reason: data.reason,
          occurred_at: now(),
        });
      try {
        if (payment.status === "created") {
          // Cancelled while the card is being authorised: `authorize` sees this and releases
          // whatever hold it still gets.
          await this.advance(payment, ["created"], { status: "canceled" }, []);
        } else if (
          (payment.status === "held" || payment.status === "pending") &&
          payment.provider_ref
        ) {
          await this.provider.cancel(payment.provider_ref, stepKey(payment._id, "cancel"));
          await this.advance(
            payment,
            ["held", "pending"],
            { status: "canceled", refunded_cents: payment.amount_cents },
            [refunded(payment.amount_cents)],
          );
        } else if (payment.status === "captured" && payment.provider_ref) {
          const { refundedCents } = await this.provider.refund(
            payment.provider_ref,
            payment.captured_cents,
            stepKey(payment._id, "refund"),
          );
          await this.advance(
            payment,
            ["captured"],
            { status: "refunded", refunded_cents: refundedCents },
            [refunded(refundedCents)],
          );
        }
      } catch (error) {
        // The provider refused (the hold expired, say): surfaced, not retried.
        if (!(error instanceof PaymentRejected)) throw error;
        await this.surfaceFailure(payment, `release refused: ${error.reason}`);
      }
    },
  },
};

export default PaymentService;
