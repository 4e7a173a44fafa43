import { Schema, type Connection, type Model } from "mongoose";

/** A hold of the simulated payment provider (what a PaymentIntent is at Stripe). */
export interface SimulatedIntentDoc {
  _id: string;
  amount: number;
  status: "requires_capture" | "succeeded" | "canceled";
  refunded: number;
}

/** The first answer the simulated provider gave under an idempotency key. */
export interface SimulatedAnswerDoc {
  _id: string;
  value?: unknown;
  rejected?: string;
}

const IntentSchema = new Schema<SimulatedIntentDoc>(
  {
    _id: { type: String, required: true },
    amount: { type: Number, required: true },
    status: { type: String, required: true },
    refunded: { type: Number, required: true },
  },
  { collection: "simulated_intents", versionKey: false },
);

const AnswerSchema = new Schema<SimulatedAnswerDoc>(
  {
    _id: { type: String, required: true },
    value: { type: Schema.Types.Mixed },
    rejected: { type: String },
  },
  { collection: "simulated_answers", versionKey: false },
);

export function simulatedIntentModel(connection: Connection): Model<SimulatedIntentDoc> {
  return (
    (connection.models.SimulatedIntent as Model<SimulatedIntentDoc> | undefined) ??
    connection.model<SimulatedIntentDoc>("SimulatedIntent", IntentSchema)
  );
}

export function simulatedAnswerModel(connection: Connection): Model<SimulatedAnswerDoc> {
  return (
    (connection.models.SimulatedAnswer as Model<SimulatedAnswerDoc> | undefined) ??
    connection.model<SimulatedAnswerDoc>("SimulatedAnswer", AnswerSchema)
  );
}
