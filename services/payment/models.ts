import type { PaymentProvider } from "../../adapters/payments/port";
import { simulatedIntentModel } from "../../adapters/payments/simulated-intents";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { paymentModel } from "../../models/payment.model";
import { stripeEventModel } from "../../models/stripe-event.model";

export const models = {
  payments: paymentModel,
  stripeEvents: stripeEventModel,
  simulatedIntents: simulatedIntentModel,
};

export type PaymentThis = DomainServiceThis<typeof models, { provider: PaymentProvider }>;
