import { createHash } from "node:crypto";
import type { Collection, Model } from "mongoose";
import { collectionOf, isDuplicateKey } from "../mongo-driver";
import type { SimulatedIntentDoc } from "./simulated-intents";
import {
  PaymentRejected,
  type AuthorizeRequest,
  type AuthorizeResult,
  type CaptureRequest,
  type PaymentProvider,
  type SaveCardRequest,
  type SavedCard,
} from "./port";

export type SimulatedIntent = Omit<SimulatedIntentDoc, "_id"> & { id: string };

/** What a move of a hold expects of it: its status, and for a capture or refund, its amounts. */
export interface IntentGuard {
  status: SimulatedIntent["status"];
  /** The hold covers at least this much (a capture). */
  amountAtLeast?: number;
  /** Refunded so far, as read (a refund). */
  refunded?: number;
}

/** Where the simulated provider keeps its holds: each step is one write to one of them. */
export interface SimulatedStore {
  intent(id: string): Promise<SimulatedIntent | undefined>;
  /** A new hold; false when one with its id exists (the same authorisation, asked again). */
  create(intent: SimulatedIntent): Promise<boolean>;
  /** Applies `set` if the hold is as `guard` says; the hold after, or undefined. */
  move(
    id: string,
    guard: IntentGuard,
    set: Partial<Omit<SimulatedIntent, "id">>,
  ): Promise<SimulatedIntent | undefined>;
}

const matches = (intent: SimulatedIntent, guard: IntentGuard) =>
  intent.status === guard.status &&
  (guard.amountAtLeast === undefined || intent.amount >= guard.amountAtLeast) &&
  (guard.refunded === undefined || intent.refunded === guard.refunded);

/** In memory: for unit tests. */
export class MemorySimulatedStore implements SimulatedStore {
  private readonly intents = new Map<string, SimulatedIntent>();
  async intent(id: string) {
    const intent = this.intents.get(id);
    return intent && { ...intent };
  }
  async create(intent: SimulatedIntent) {
    if (this.intents.has(intent.id)) return false;
    this.intents.set(intent.id, { ...intent });
    return true;
  }
  async move(id: string, guard: IntentGuard, set: Partial<Omit<SimulatedIntent, "id">>) {
    const intent = this.intents.get(id);
    if (!intent || !matches(intent, guard)) return undefined;
    Object.assign(intent, set);
    return { ...intent };
  }
}

/** In the payment service's database: holds survive a restart, as they do at Stripe. */
export class MongoSimulatedStore implements SimulatedStore {
  private readonly intents: Collection<SimulatedIntentDoc>;
  constructor(private readonly model: Model<SimulatedIntentDoc>) {
    this.intents = collectionOf(model);
  }
  async intent(id: string) {
    const doc = await this.model.findById(id).lean<SimulatedIntentDoc>();
    return doc ? fromDoc(doc) : undefined;
  }
  async create({ id, ...fields }: SimulatedIntent) {
    try {
      await this.intents.insertOne({ _id: id, ...fields });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }
  async move(id: string, guard: IntentGuard, set: Partial<Omit<SimulatedIntent, "id">>) {
    const filter = {
      _id: id,
      status: guard.status,
      ...(guard.amountAtLeast !== undefined ? { amount: { $gte: guard.amountAtLeast } } : {}),
      ...(guard.refunded !== undefined ? { refunded: guard.refunded } : {}),
    };
    const doc = await this.intents.findOneAndUpdate(
      filter,
      { $set: set },
      {
        returnDocument: "after",
      },
    );
    return doc ? fromDoc(doc) : undefined;
  }
}

const fromDoc = ({ _id, ...fields }: SimulatedIntentDoc): SimulatedIntent => ({
  id: _id,
  ...fields,
});

/** Test cards, as Stripe names them: anything else authorises. */
export const DECLINED_CARDS: Record<string, string> = {
  pm_card_chargeDeclined: "card_declined",
  pm_card_visa_chargeDeclinedInsufficientFunds: "insufficient_funds",
  pm_card_chargeDeclinedExpiredCard: "expired_card",
  /** Saved fine, declined when charged (Stripe's 4000 0000 0000 0341). */
  pm_card_chargeCustomerFail: "card_declined",
};

/** A hold's id follows from its authorisation's idempotency key: asking again finds it. */
const intentIdOf = (key: string) =>
  `sim_pi_${createHash("sha256").update(key).digest("base64url").slice(0, 24)}`;

/**
 * The embedded payment provider: Stripe's manual-capture state rules (hold, capture once,
 * cancel only what is held, refund only what was captured), with idempotency keys that replay
 * the first answer, as Stripe's do. Each step is one guarded write to the hold, which also
 * records the key that made it, so a step asked again under its key answers as the first time.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  readonly kind = "simulated" as const;

  constructor(private readonly store: SimulatedStore = new MemorySimulatedStore()) {}

  async authorize(request: AuthorizeRequest, key: string): Promise<AuthorizeResult> {
    // A declined test card is declined every time: nothing to remember.
    const declined = DECLINED_CARDS[request.paymentMethod];
    if (declined) return { status: "declined", providerRef: null, reason: declined };
    const id = intentIdOf(key);
    await this.store.create({
      id,
      amount: request.amountCents,
      status: "requires_capture",
      refunded: 0,
    });
    return { status: "held", providerRef: id };
  }

  /**
   * Saves any card, as Stripe's test cards save: a declined card is declined when it is held
   * (off-session too), not when it is saved.
   */
  async saveCard(request: SaveCardRequest, key: string): Promise<SavedCard> {
    return {
      setupRef: `sim_seti_${createHash("sha256").update(key).digest("base64url").slice(0, 24)}`,
      customerRef: `sim_cus_${createHash("sha256").update(request.ownerId).digest("base64url").slice(0, 16)}`,
      paymentMethod: request.paymentMethod,
    };
  }

  async capture(request: CaptureRequest, key: string): Promise<{ capturedCents: number }> {
    // As Stripe's amount_to_capture: up to the hold, the rest of it released; never nothing.
    if (!Number.isInteger(request.amountCents) || request.amountCents < 1) {
      throw new PaymentRejected("amount_too_small");
    }
    const moved = await this.store.move(
      request.providerRef,
      { status: "requires_capture", amountAtLeast: request.amountCents },
      { status: "succeeded", amount: request.amountCents, captured_by: key },
    );
    if (moved) return { capturedCents: moved.amount };
    const intent = await this.intent(request.providerRef);
    if (intent.captured_by === key) return { capturedCents: intent.amount }; // asked again
    if (intent.status !== "requires_capture")
      throw new PaymentRejected(`cannot capture a ${intent.status} payment`);
    throw new PaymentRejected("amount_too_large");
  }

  /** No card network here: the evidence is recorded on the payment only, with no file kept. */
  async disputeEvidence(): Promise<{ fileId: string | null }> {
    return { fileId: null };
  }

  async cancel(providerRef: string, key: string): Promise<void> {
    const moved = await this.store.move(
      providerRef,
      { status: "requires_capture" },
      { status: "canceled", canceled_by: key },
    );
    if (moved) return;
    const intent = await this.intent(providerRef);
    if (intent.canceled_by === key) return; // asked again
    throw new PaymentRejected(`cannot cancel a ${intent.status} payment`);
  }

  async refund(
    providerRef: string,
    amountCents: number,
    key: string,
  ): Promise<{ refundedCents: number }> {
    // Several refunds may add up to the captured amount: read it, then move it from what was read.
    for (;;) {
      const intent = await this.intent(providerRef);
      if (intent.refund_keys?.includes(key)) return { refundedCents: amountCents }; // asked again
      if (intent.status !== "succeeded")
        throw new PaymentRejected(`cannot refund a ${intent.status} payment`);
      if (intent.refunded + amountCents > intent.amount)
        throw new PaymentRejected("refund exceeds the captured amount");
      const moved = await this.store.move(
        providerRef,
        { status: "succeeded", refunded: intent.refunded },
        {
          refunded: intent.refunded + amountCents,
          refund_keys: [...(intent.refund_keys ?? []), key],
        },
      );
      if (moved) return { refundedCents: amountCents };
    }
  }

  private async intent(id: string): Promise<SimulatedIntent> {
    const intent = await this.store.intent(id);
    if (!intent) throw new PaymentRejected(`no such payment ${id}`);
    return intent;
  }
}
