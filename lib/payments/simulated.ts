import { randomUUID } from "node:crypto";
import {
  PaymentRejected,
  type AuthorizeRequest,
  type AuthorizeResult,
  type CaptureRequest,
  type PaymentProvider,
} from "./port";

type IntentStatus = "requires_capture" | "succeeded" | "canceled";

interface Intent {
  id: string;
  amount: number;
  status: IntentStatus;
  refunded: number;
}

/** Test cards, as Stripe names them: anything else authorises. */
export const DECLINED_CARDS: Record<string, string> = {
  pm_card_chargeDeclined: "card_declined",
  pm_card_visa_chargeDeclinedInsufficientFunds: "insufficient_funds",
  pm_card_chargeDeclinedExpiredCard: "expired_card",
};

/**
 * The embedded payment provider: Stripe's manual-capture state rules in memory (hold, capture
 * once, cancel only what is held, refund only what was captured), with idempotency keys that
 * replay the first answer, as Stripe's do.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  readonly kind = "simulated" as const;
  private readonly intents = new Map<string, Intent>();
  private readonly answers = new Map<string, unknown>();

  async authorize(request: AuthorizeRequest, key: string): Promise<AuthorizeResult> {
    return this.once(key, () => {
      const declined = DECLINED_CARDS[request.paymentMethod];
      if (declined) return { status: "declined", providerRef: null, reason: declined } as const;
      const intent: Intent = {
        id: `sim_pi_${randomUUID()}`,
        amount: request.amountCents,
        status: "requires_capture",
        refunded: 0,
      };
      this.intents.set(intent.id, intent);
      return { status: "held", providerRef: intent.id } as const;
    });
  }

  async capture(request: CaptureRequest, key: string): Promise<{ capturedCents: number }> {
    return this.once(key, () => {
      const intent = this.intent(request.providerRef);
      if (intent.status !== "requires_capture")
        throw new PaymentRejected(`cannot capture a ${intent.status} payment`);
      if (request.amountCents > intent.amount) throw new PaymentRejected("amount_too_large");
      intent.status = "succeeded";
      intent.amount = request.amountCents;
      return { capturedCents: request.amountCents };
    });
  }

  async cancel(providerRef: string, key: string): Promise<void> {
    return this.once(key, () => {
      const intent = this.intent(providerRef);
      if (intent.status !== "requires_capture")
        throw new PaymentRejected(`cannot cancel a ${intent.status} payment`);
      intent.status = "canceled";
    });
  }

  async refund(
    providerRef: string,
    amountCents: number,
    key: string,
  ): Promise<{ refundedCents: number }> {
    return this.once(key, () => {
      const intent = this.intent(providerRef);
      if (intent.status !== "succeeded")
        throw new PaymentRejected(`cannot refund a ${intent.status} payment`);
      if (intent.refunded + amountCents > intent.amount)
        throw new PaymentRejected("refund exceeds the captured amount");
      intent.refunded += amountCents;
      return { refundedCents: amountCents };
    });
  }

  private intent(id: string): Intent {
    const intent = this.intents.get(id);
    if (!intent) throw new PaymentRejected(`no such payment ${id}`);
    return intent;
  }

  /** Same key, same answer (or the same error), and the step runs once. */
  private once<T>(key: string, step: () => T): T {
    if (this.answers.has(key)) {
      const answer = this.answers.get(key) as { error?: Error; value?: T };
      if (answer.error) throw answer.error;
      return answer.value as T;
    }
    try {
      const value = step();
      this.answers.set(key, { value });
      return value;
    } catch (error) {
      this.answers.set(key, { error: error instanceof Error ? error : new Error(String(error)) });
      throw error;
    }
  }
}
