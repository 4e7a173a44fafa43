import { Schema, type Connection, type Model } from "mongoose";

/** A Stripe webhook event already handled: Stripe retries and replays, the effect happens once. */
export interface StripeEventDoc {
  _id: string;
  type: string;
  handled_at: Date;
  /** What it came to ("held", "no change", "unusable", …); absent on events stored before. */
  outcome?: string;
  /** Why an unusable event could not be applied, field by field. */
  problem?: string;
}

const StripeEventSchema = new Schema<StripeEventDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    handled_at: { type: Date, required: true },
    outcome: { type: String },
    problem: { type: String },
  },
  { collection: "stripe_events", versionKey: false },
);

export function stripeEventModel(connection: Connection): Model<StripeEventDoc> {
  return (
    (connection.models.StripeEvent as Model<StripeEventDoc> | undefined) ??
    connection.model<StripeEventDoc>("StripeEvent", StripeEventSchema)
  );
}
