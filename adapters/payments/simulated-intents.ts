import { Schema, type Connection, type Model } from "mongoose";

/**
 * A hold of the simulated payment provider (what a PaymentIntent is at Stripe), with the
 * idempotency keys of the steps that moved it, so that a step asked again answers as before.
 */
export interface SimulatedIntentDoc {
  _id: string;
  amount: number;
  status: "requires_capture" | "succeeded" | "canceled";
  refunded: number;
  captured_by?: string;
  canceled_by?: string;
  refund_keys?: string[];
}

const IntentSchema = new Schema<SimulatedIntentDoc>(
  {
    _id: { type: String, required: true },
    amount: { type: Number, required: true },
    status: { type: String, required: true },
    refunded: { type: Number, required: true },
    captured_by: { type: String },
    canceled_by: { type: String },
    refund_keys: { type: [String] },
  },
  { collection: "simulated_intents", versionKey: false },
);

export function simulatedIntentModel(connection: Connection): Model<SimulatedIntentDoc> {
  return (
    (connection.models.SimulatedIntent as Model<SimulatedIntentDoc> | undefined) ??
    connection.model<SimulatedIntentDoc>("SimulatedIntent", IntentSchema)
  );
}
