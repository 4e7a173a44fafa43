import { z } from "zod";
import { attemptOf, type PaymentStep } from "../../domain/payment";
import type { PaymentDoc } from "../../models/payment.model";
import { paymentOf, record } from "./commands";
import type { PaymentThis } from "./models";

export const UNKNOWN_PAYMENT = "unknown payment";
export const UNUSABLE = "unusable";

/** What a Stripe event came to: a label, and for an unusable one, what is wrong with it. */
export interface StripeEventOutcome {
  label: string;
  problem?: string;
  /** The payment the event was about, as it is after it. */
  payment?: PaymentDoc;
}

type Meaning = { step: PaymentStep; label: string } | StripeEventOutcome;

/** A Stripe object read: the PaymentIntent it is about, and what it means for its payment. */
type Reading = { intent: string; meaning: (payment: PaymentDoc) => Meaning } | { problem: string };

const intentId = z.string().min(1).max(255);

/** "data.object.amount_refunded: Too small: expected number to be >=0" */
const problemOf = (error: z.ZodError) =>
  error.issues
    .map((issue) => `data.object.${issue.path.join(".")}: ${issue.message}`)
    .join("; ")
    .slice(0, 500);

/**
 * How one event type is read: the fields Kilat uses, checked. Stripe signs what it sends, but a
 * field out of range (a negative refund) can never become a saga step, on this delivery or on
 * any of Stripe's retries: such an event is unusable.
 */
function reader<S extends z.ZodType>(
  schema: S,
  intentOf: (object: z.infer<S>) => string,
  meaning: (object: z.infer<S>, payment: PaymentDoc) => Meaning,
): (object: unknown) => Reading {
  return (object) => {
    const parsed = schema.safeParse(object);
    if (!parsed.success) return { problem: problemOf(parsed.error) };
    return { intent: intentOf(parsed.data), meaning: (payment) => meaning(parsed.data, payment) };
  };
}

const byId = (object: { id: string }) => object.id;

/** A card dispute (Stripe's Dispute object): the charge's PaymentIntent, what and why. */
const DisputeObject = z.object({
  id: intentId,
  payment_intent: intentId,
  amount: z.number().int().nonnegative(),
  reason: z.string().max(100).nullish(),
  status: z.string().min(1).max(50),
});

/** A card dispute opened or closed: recorded against the payment, for operations to answer. */
const disputeReader = (closed: boolean) =>
  reader(
    DisputeObject,
    (o) => o.payment_intent,
    (o) => ({
      step: {
        type: "charge_disputed",
        dispute: {
          id: o.id,
          status: o.status,
          reason: o.reason || "general",
          amount_cents: o.amount,
          closed,
        },
      },
      label: closed ? "dispute closed" : "disputed",
    }),
  );

/**
 * What each Stripe event says about the escrow, as a saga step — or nothing (`label` says why):
 * a hold that settled after 3-D Secure, a failed authorisation, a hold that expired or was
 * voided outside Kilat, a refund from the dashboard, a card dispute opened or closed.
 */
const READERS: Record<string, (object: unknown) => Reading> = {
  "payment_intent.amount_capturable_updated": reader(z.object({ id: intentId }), byId, (o) => ({
    step: { type: "authorized", authorization: { status: "held", providerRef: o.id } },
    label: "held",
  })),
  "payment_intent.payment_failed": reader(
    z.object({
      id: intentId,
      last_payment_error: z.object({ code: z.string().max(100).nullish() }).nullish(),
    }),
    byId,
    (o) => ({
      step: {
        type: "authorization_failed",
        reason: o.last_payment_error?.code || "payment_failed",
      },
      label: "failed",
    }),
  ),
  "payment_intent.canceled": reader(
    z.object({ id: intentId, cancellation_reason: z.string().max(100).nullish() }),
    byId,
    (o) =>
      // Our own cancellation (booking cancelled) says requested_by_customer: already handled.
      o.cancellation_reason === "requested_by_customer"
        ? { label: "no change" }
        : {
            step: { type: "hold_lost", reason: o.cancellation_reason || "expired" },
            label: "failed",
          },
  ),
  // Our capture already recorded it (or will, from the delivery confirmation).
  "payment_intent.succeeded": reader(z.object({ id: intentId }), byId, () => ({
    label: "no change",
  })),
  "charge.refunded": reader(
    z.object({
      payment_intent: intentId,
      amount_refunded: z.number().int().nonnegative().optional(),
    }),
    (o) => o.payment_intent,
    (o, payment) => {
      const refunded = o.amount_refunded ?? payment.captured_cents;
      if (refunded > payment.captured_cents) {
        return {
          label: UNUSABLE,
          problem: `data.object.amount_refunded: ${refunded} is more than the ${payment.captured_cents} captured`,
        };
      }
      return {
        step: { type: "refunded", refunded_cents: refunded, reason: "refunded in Stripe" },
        label: "refunded",
      };
    },
  ),
  "charge.dispute.created": disputeReader(false),
  "charge.dispute.closed": disputeReader(true),
};

/** Which payment (and which of its authorisations) the PaymentIntent's metadata names. */
const Metadata = z.object({
  metadata: z.object({
    payment_id: intentId,
    attempt: z.coerce.number().int().positive().optional(),
  }),
});

/**
 * Applies a verified Stripe event to its payment. Each step is a guarded write, so one our own
 * flow already applied changes nothing ("no change"); so does late news about an authorisation
 * that the owner's next attempt replaced.
 */
export async function applyStripeEvent(
  service: PaymentThis,
  type: string,
  object: Record<string, unknown>,
): Promise<StripeEventOutcome> {
  // Own keys only: "constructor" is a type no reader has.
  const read = Object.hasOwn(READERS, type) ? READERS[type] : undefined;
  if (!read) return { label: "ignored" };
  const reading = read(object);
  if ("problem" in reading) return { label: UNUSABLE, problem: reading.problem };
  const named = Metadata.safeParse(object);
  const payment = await service.models.payments
    .findOne(
      named.success ? { _id: named.data.metadata.payment_id } : { provider_ref: reading.intent },
    )
    .lean<PaymentDoc>();
  if (!payment) return { label: UNKNOWN_PAYMENT };
  const attempt = named.success ? named.data.metadata.attempt : undefined;
  const replaced =
    attempt !== undefined
      ? attempt !== attemptOf(payment)
      : attemptOf(payment) > 1 && payment.provider_ref !== reading.intent;
  // News of a hold a renewal replaced (its release, its lapse) is not news of the payment.
  const renewedAway = (payment.renewals ?? 0) > 0 && payment.provider_ref !== reading.intent;
  if (replaced || renewedAway) return { label: "no change" };
  const meaning = reading.meaning(payment);
  if (!("step" in meaning)) return { ...meaning, payment };
  const recorded = await record(service, payment, meaning.step);
  return recorded.ok
    ? { label: meaning.label, payment: recorded.state }
    : { label: "no change", payment: (await paymentOf(service, payment.booking_id)) ?? payment };
}
