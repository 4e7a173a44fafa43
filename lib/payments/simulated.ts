import { randomUUID } from "node:crypto";
import type { Model } from "mongoose";
import type { SimulatedAnswerDoc, SimulatedIntentDoc } from "../../models/simulated-payment.model";
import {
  PaymentRejected,
  type AuthorizeRequest,
  type AuthorizeResult,
  type CaptureRequest,
  type PaymentProvider,
} from "./port";

export type SimulatedIntent = Omit<SimulatedIntentDoc, "_id"> & { id: string };

/** The first answer given under an idempotency key: a value, or the refusal. */
export type SimulatedAnswer = { value: unknown } | { rejected: string };

/** Where the simulated provider keeps its holds and answers. */
export interface SimulatedStore {
  intent(id: string): Promise<SimulatedIntent | undefined>;
  saveIntent(intent: SimulatedIntent): Promise<void>;
  answer(key: string): Promise<SimulatedAnswer | undefined>;
  saveAnswer(key: string, answer: SimulatedAnswer): Promise<void>;
}

/** In memory: for unit tests. */
export class MemorySimulatedStore implements SimulatedStore {
  private readonly intents = new Map<string, SimulatedIntent>();
  private readonly answers = new Map<string, SimulatedAnswer>();
  async intent(id: string) {
    const intent = this.intents.get(id);
    return intent && { ...intent };
  }
  async saveIntent(intent: SimulatedIntent) {
    this.intents.set(intent.id, { ...intent });
  }
  async answer(key: string) {
    return this.answers.get(key);
  }
  async saveAnswer(key: string, answer: SimulatedAnswer) {
    this.answers.set(key, answer);
  }
}

/** In the payment service's database: holds survive a restart, as they do at Stripe. */
export class MongoSimulatedStore implements SimulatedStore {
  constructor(
    private readonly intents: Model<SimulatedIntentDoc>,
    private readonly answers: Model<SimulatedAnswerDoc>,
  ) {}
  async intent(id: string) {
    const doc = await this.intents.findById(id).lean<SimulatedIntentDoc>();
    return doc
      ? { id: doc._id, amount: doc.amount, status: doc.status, refunded: doc.refunded }
      : undefined;
  }
  async saveIntent(intent: SimulatedIntent) {
    const { id, ...fields } = intent;
    await this.intents.updateOne({ _id: id }, { $set: fields }, { upsert: true });
  }
  async answer(key: string) {
    const doc = await this.answers.findById(key).lean<SimulatedAnswerDoc>();
    if (!doc) return undefined;
    return doc.rejected ? { rejected: doc.rejected } : { value: doc.value };
  }
  async saveAnswer(key: string, answer: SimulatedAnswer) {
    await this.answers.updateOne({ _id: key }, { $set: answer }, { upsert: true });
  }
}

/** Test cards, as Stripe names them: anything else authorises. */
export const DECLINED_CARDS: Record<string, string> = {
  pm_card_chargeDeclined: "card_declined",
  pm_card_visa_chargeDeclinedInsufficientFunds: "insufficient_funds",
  pm_card_chargeDeclinedExpiredCard: "expired_card",
};

/**
 * The embedded payment provider: Stripe's manual-capture state rules (hold, capture once,
 * cancel only what is held, refund only what was captured), with idempotency keys that replay
 * the first answer, as Stripe's do.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  readonly kind = "simulated" as const;

  constructor(private readonly store: SimulatedStore = new MemorySimulatedStore()) {}

  async authorize(request: AuthorizeRequest, key: string): Promise<AuthorizeResult> {
    return this.once(key, async () => {
      const declined = DECLINED_CARDS[request.paymentMethod];
      if (declined) return { status: "declined", providerRef: null, reason: declined } as const;
      const intent: SimulatedIntent = {
        id: `sim_pi_${randomUUID()}`,
        amount: request.amountCents,
        status: "requires_capture",
        refunded: 0,
      };
      await this.store.saveIntent(intent);
      return { status: "held", providerRef: intent.id } as const;
    });
  }

  async capture(request: CaptureRequest, key: string): Promise<{ capturedCents: number }> {
    return this.once(key, async () => {
      const intent = await this.intent(request.providerRef);
      if (intent.status !== "requires_capture")
        throw new PaymentRejected(`cannot capture a ${intent.status} payment`);
      if (request.amountCents > intent.amount) throw new PaymentRejected("amount_too_large");
      await this.store.saveIntent({ ...intent, status: "succeeded", amount: request.amountCents });
      return { capturedCents: request.amountCents };
    });
  }

  async cancel(providerRef: string, key: string): Promise<void> {
    await this.once(key, async () => {
      const intent = await this.intent(providerRef);
      if (intent.status !== "requires_capture")
        throw new PaymentRejected(`cannot cancel a ${intent.status} payment`);
      await this.store.saveIntent({ ...intent, status: "canceled" });
      return null;
    });
  }

  async refund(
    providerRef: string,
    amountCents: number,
    key: string,
  ): Promise<{ refundedCents: number }> {
    return this.once(key, async () => {
      const intent = await this.intent(providerRef);
      if (intent.status !== "succeeded")
        throw new PaymentRejected(`cannot refund a ${intent.status} payment`);
      if (intent.refunded + amountCents > intent.amount)
        throw new PaymentRejected("refund exceeds the captured amount");
      await this.store.saveIntent({ ...intent, refunded: intent.refunded + amountCents });
      return { refundedCents: amountCents };
    });
  }

  private async intent(id: string): Promise<SimulatedIntent> {
    const intent = await this.store.intent(id);
    if (!intent) throw new PaymentRejected(`no such payment ${id}`);
    return intent;
  }

  /** Same key, same answer (or the same refusal), and the step runs once. */
  private async once<T>(key: string, step: () => Promise<T>): Promise<T> {
    const previous = await this.store.answer(key);
    if (previous) {
      if ("rejected" in previous) throw new PaymentRejected(previous.rejected);
      return previous.value as T;
    }
    try {
      const value = await step();
      await this.store.saveAnswer(key, { value });
      return value;
    } catch (error) {
      if (error instanceof PaymentRejected)
        await this.store.saveAnswer(key, { rejected: error.reason });
      throw error;
    }
  }
}
