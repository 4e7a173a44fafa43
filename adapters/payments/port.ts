/**
 * The payment-provider port: an escrow is an authorisation held on the owner's card, captured
 * when the owner confirms delivery, or released (cancelled) / refunded when the booking is
 * cancelled. Every call carries an idempotency key derived from the payment id and the step,
 * so a retried or replayed step has one effect at the provider.
 */
export interface AuthorizeRequest {
  paymentId: string;
  bookingId: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  /** Absent or 1, more when the owner pays again after a failure (told back in Stripe's webhooks). */
  attempt?: number;
  /**
   * Placed by Kilat with the owner away (a scheduled booking's hold, a renewal), on the card
   * saved for the customer: a card that needs the owner present is declined.
   */
  offSession?: { customerRef: string | null };
  /**
   * The customer the owner's card was saved for, on session too: Stripe takes a card attached to
   * a customer only with that customer (the owner paying with it again after an off-session
   * decline).
   */
  customerRef?: string | null;
}

/** A card saved for a later off-session hold (a Stripe SetupIntent). */
export interface SaveCardRequest {
  paymentId: string;
  bookingId: string;
  ownerId: string;
  paymentMethod: string;
}

export interface SavedCard {
  /** The SetupIntent (or simulated equivalent). */
  setupRef: string;
  /** The customer the card is saved for (null: the provider needs none). */
  customerRef: string | null;
  /** The saved card, as later holds name it. */
  paymentMethod: string;
}

export type AuthorizeResult =
  /** Funds are held. */
  | { status: "held"; providerRef: string }
  /** Accepted, outcome still open (3-D Secure, processing): a webhook settles it. */
  | { status: "pending"; providerRef: string }
  | { status: "declined"; providerRef: string | null; reason: string };

export interface CaptureRequest {
  paymentId: string;
  providerRef: string;
  amountCents: number;
  currency: string;
  /** The runner's share, transferred to their connected account when they have one. */
  payoutCents: number;
  destination?: string;
}

/** A card dispute's evidence: what the handovers show, and the drop-off photo. */
export interface DisputeEvidenceRequest {
  disputeId: string;
  text: string;
  /** The day the service was given (the drop-off), YYYY-MM-DD. */
  serviceDate: string | null;
  photo: { contentType: string; data: Buffer; name: string } | null;
}

export interface PaymentProvider {
  readonly kind: "stripe" | "simulated";
  authorize(request: AuthorizeRequest, idempotencyKey: string): Promise<AuthorizeResult>;
  /** Saves the card for off-session holds later; throws PaymentRejected when it cannot be. */
  saveCard(request: SaveCardRequest, idempotencyKey: string): Promise<SavedCard>;
  /**
   * Captures `amountCents` of the hold: all of it, or less (a dispute's partial refund), the rest
   * released to the owner. Throws when the provider refuses (the saga retries, then fails).
   */
  capture(request: CaptureRequest, idempotencyKey: string): Promise<{ capturedCents: number }>;
  /** Releases a hold that was never captured. */
  cancel(providerRef: string, idempotencyKey: string): Promise<void>;
  /**
   * Gives a card dispute its evidence: the text, and the photo as a file the provider keeps;
   * answers that file's id (null where the provider keeps none).
   */
  disputeEvidence(
    request: DisputeEvidenceRequest,
    idempotencyKey: string,
  ): Promise<{ fileId: string | null }>;
  /** Returns captured money. */
  refund(
    providerRef: string,
    amountCents: number,
    idempotencyKey: string,
  ): Promise<{ refundedCents: number }>;
}

/** A provider error the saga should not retry (the card is declined, the intent is gone). */
export class PaymentRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "PaymentRejected";
  }
}

/**
 * The idempotency key of one step of one payment: `<payment id>:<step>`, and from the second
 * authorisation on (the owner paid again after a failure) `<payment id>:<step>:<attempt>`, so
 * the provider makes a new hold instead of replaying the failed one's answer.
 */
export const stepKey = (
  paymentId: string,
  step: "authorize" | "capture" | "transfer" | "cancel" | "refund" | "save" | "renew" | "unrenew",
  attempt = 1,
) => (attempt > 1 ? `${paymentId}:${step}:${attempt}` : `${paymentId}:${step}`);
