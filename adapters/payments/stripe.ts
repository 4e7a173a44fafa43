import Stripe from "stripe";
import {
  PaymentRejected,
  type AuthorizeRequest,
  type AuthorizeResult,
  type CaptureRequest,
  type DisputeEvidenceRequest,
  type PaymentProvider,
  type SaveCardRequest,
  type SavedCard,
} from "./port";

/** Runs a Stripe call; the errors retrying cannot fix become a PaymentRejected. */
async function refusing<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const final =
      error instanceof Stripe.errors.StripeCardError ||
      error instanceof Stripe.errors.StripeInvalidRequestError;
    if (final) throw new PaymentRejected(error.message);
    throw error;
  }
}

/**
 * Stripe adapter: escrow = a PaymentIntent with capture_method=manual, confirmed at once with
 * the owner's payment method; capture on confirmation; then, when the runner has a connected
 * account, a transfer of their share from that charge (separate charges and transfers: the
 * runner is not known yet when the hold is placed, so a destination charge is not possible).
 * The platform fee is what stays on the platform's balance.
 */
export class StripePaymentProvider implements PaymentProvider {
  readonly kind = "stripe" as const;

  constructor(private readonly stripe: Stripe) {}

  async authorize(request: AuthorizeRequest, idempotencyKey: string): Promise<AuthorizeResult> {
    const customer = request.offSession?.customerRef ?? request.customerRef;
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amountCents,
          currency: request.currency.toLowerCase(),
          capture_method: "manual",
          confirm: true,
          payment_method: request.paymentMethod,
          automatic_payment_methods: { enabled: true, allow_redirects: "never" },
          // Off-session: on the customer's saved card, declined when it needs the owner present.
          ...(request.offSession ? { off_session: true } : {}),
          ...(customer ? { customer } : {}),
          metadata: {
            payment_id: request.paymentId,
            booking_id: request.bookingId,
            attempt: String(request.attempt ?? 1),
          },
        },
        { idempotencyKey },
      );
      // requires_capture = held. Anything else (3-D Secure, processing) is settled by the
      // payment_intent.* webhooks.
      return intent.status === "requires_capture"
        ? { status: "held", providerRef: intent.id }
        : { status: "pending", providerRef: intent.id };
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        const intentId =
          (error.raw as { payment_intent?: { id?: string } } | undefined)?.payment_intent?.id ??
          null;
        return { status: "declined", providerRef: intentId, reason: error.code ?? "card_declined" };
      }
      if (error instanceof Stripe.errors.StripeInvalidRequestError) {
        // A payment method Stripe does not know (or cannot use): the owner's input, not our fault.
        return {
          status: "declined",
          providerRef: null,
          reason: error.code ?? "invalid_payment_method",
        };
      }
      throw error;
    }
  }

  /**
   * A customer for the owner, then a SetupIntent confirmed with the card for off-session use:
   * the card is attached to the customer, for the PaymentIntent placed before the pickup.
   */
  async saveCard(request: SaveCardRequest, idempotencyKey: string): Promise<SavedCard> {
    const metadata = {
      payment_id: request.paymentId,
      booking_id: request.bookingId,
      owner_id: request.ownerId,
    };
    const customer = await refusing(() =>
      this.stripe.customers.create({ metadata }, { idempotencyKey: `${idempotencyKey}:customer` }),
    );
    const setup = await refusing(() =>
      this.stripe.setupIntents.create(
        {
          customer: customer.id,
          payment_method: request.paymentMethod,
          usage: "off_session",
          confirm: true,
          automatic_payment_methods: { enabled: true, allow_redirects: "never" },
          metadata,
        },
        { idempotencyKey },
      ),
    );
    const saved =
      typeof setup.payment_method === "string" ? setup.payment_method : setup.payment_method?.id;
    return {
      setupRef: setup.id,
      customerRef: customer.id,
      paymentMethod: saved ?? request.paymentMethod,
    };
  }

  async capture(
    request: CaptureRequest,
    idempotencyKey: string,
  ): Promise<{ capturedCents: number }> {
    const intent = await refusing(() =>
      this.stripe.paymentIntents.capture(
        request.providerRef,
        { amount_to_capture: request.amountCents },
        { idempotencyKey },
      ),
    );
    if (request.destination && request.payoutCents > 0) {
      const charge = typeof intent.latest_charge === "string" ? intent.latest_charge : undefined;
      // Never a PaymentRejected: the money is captured, so a failing transfer is retried (the
      // capture replays under its key), never recorded as a refused capture.
      await this.stripe.transfers.create(
        {
          amount: request.payoutCents,
          currency: request.currency.toLowerCase(),
          destination: request.destination,
          // Tied to the captured charge when Stripe names it, so the transfer waits for its funds.
          ...(charge ? { source_transaction: charge } : {}),
          transfer_group: request.paymentId,
          metadata: { payment_id: request.paymentId },
        },
        { idempotencyKey: `${idempotencyKey}:transfer` },
      );
    }
    return { capturedCents: request.amountCents };
  }

  /**
   * The drop-off photo becomes a Stripe file (purpose dispute_evidence), named as the service's
   * documentation beside the text. Staged (`submit: false`), not sent to the bank: a response is
   * final once submitted, and operators may add what Kilat does not know (messages with the
   * owner, a refund already given) before they submit it from the dashboard by its due date.
   */
  async disputeEvidence(
    request: DisputeEvidenceRequest,
    idempotencyKey: string,
  ): Promise<{ fileId: string | null }> {
    const { photo } = request;
    const file = photo
      ? await refusing(() =>
          this.stripe.files.create(
            {
              purpose: "dispute_evidence",
              file: { data: photo.data, name: photo.name, type: photo.contentType },
            },
            { idempotencyKey: `${idempotencyKey}:file` },
          ),
        )
      : null;
    await refusing(() =>
      this.stripe.disputes.update(
        request.disputeId,
        {
          evidence: {
            uncategorized_text: request.text,
            ...(file ? { service_documentation: file.id } : {}),
            ...(request.serviceDate ? { service_date: request.serviceDate } : {}),
          },
          submit: false,
        },
        { idempotencyKey },
      ),
    );
    return { fileId: file?.id ?? null };
  }

  async cancel(providerRef: string, idempotencyKey: string): Promise<void> {
    await refusing(() =>
      this.stripe.paymentIntents.cancel(
        providerRef,
        { cancellation_reason: "requested_by_customer" },
        { idempotencyKey },
      ),
    );
  }

  async refund(
    providerRef: string,
    amountCents: number,
    idempotencyKey: string,
  ): Promise<{ refundedCents: number }> {
    const refund = await refusing(() =>
      this.stripe.refunds.create(
        { payment_intent: providerRef, amount: amountCents },
        { idempotencyKey },
      ),
    );
    return { refundedCents: refund.amount };
  }
}
