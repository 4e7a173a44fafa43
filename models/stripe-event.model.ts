import { Schema, type Connection, type Model } from "mongoose";

/** A Stripe webhook event already handled: Stripe retries and replays, the effect happens once. */
export interface StripeEventDoc {
  _id: string;
  type: string;
  handled_at: Date;
}

const StripeEventSchema = new Schema<StripeEventDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    handled_at: { type: Date, required: true },
  },
  { collection: "stripe_events", versionKey: false },
);

export function stripeEventModel(connection: Connection): Model<StripeEventDoc> {
  return (
    (connection.models.StripeEvent as Model<StripeEventDoc> | undefined) ??
    connection.model<StripeEventDoc>("StripeEvent", StripeEventSchema)
  );
}
