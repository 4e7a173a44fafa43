import { z } from "zod";
import type { Payment, PaymentRecordStatus } from "../domain/payment";
import { contracts } from "./action";
import { IdParams, PageParams } from "./common";

export const CreatePaymentParams = IdParams.extend({
  payment_method: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_]{1,100}$/, "expected a payment method id such as pm_card_visa")
    .default("pm_card_visa"),
}).strict();

/** A verified Stripe webhook event, as the gateway passes it on. */
export const StripeEventParams = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  object: z.record(z.string(), z.unknown()),
});

export const EscalationsParams = z.object({ ...PageParams }).strict();

export const PAYMENT_ACTIONS = contracts({
  create: { roles: ["owner"], params: CreatePaymentParams },
  get: { roles: ["owner", "runner", "admin"], params: IdParams },
  stripeEvent: { params: StripeEventParams, internal: true },
  /** The booking service: a hold arrived for a booking that had ended (expired, cancelled). */
  release: {
    params: z.object({
      booking_id: z.string().min(1).max(128),
      reason: z.string().min(1).max(500),
    }),
    internal: true,
  },
  /** Operators: scheduled bookings' payments that need a person (PaymentEscalation). */
  escalations: { roles: ["admin"], params: EscalationsParams },
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
  provider: Payment["provider"];
  /** The PaymentIntent (or simulated hold) id at the provider. */
  provider_ref: string | null;
  /** A saved card (card_saved) is held off-session then. */
  hold_at: string | null;
  /** The off-session hold failed: pay (POST again) by then, or the booking is cancelled. */
  pay_by: string | null;
  /** When the hold lapses at the provider; it is renewed before. */
  hold_expires_at: string | null;
  /** A card dispute of the charge, as Stripe reported it: only once there is one. */
  stripe_dispute?: {
    id: string;
    status: string;
    reason: string;
    amount_cents: number;
    opened_at: string;
    closed_at: string | null;
  };
}

/**
 * A payment operations should look at: an off-session hold that failed (`hold_failed`: the owner
 * may pay until `pay_by`, then the booking is cancelled), or a hold that could not be renewed
 * (`renewal_failed`: the hold stays until `hold_expires_at`, and is not renewed again).
 */
export interface PaymentEscalation {
  kind: "hold_failed" | "renewal_failed";
  booking_id: string;
  booking_number: string | null;
  owner_id: string;
  payment_id: string;
  amount_cents: number;
  currency: string;
  /** Why the card was declined (for a failed hold). */
  failure_reason: string | null;
  /** When it went wrong. */
  since: string;
  pay_by: string | null;
  hold_expires_at: string | null;
}
