import { Schema, type Connection, type Model } from "mongoose";
import { PAYMENT_STATUSES, type Payment, type PaymentRecordStatus } from "../domain/payment";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

export type { PaymentRecordStatus };

/** A payment as stored: the escrow (domain/payment.ts) with its outbox. */
export type PaymentDoc = Payment & WithOutbox;

const PaymentSchema = new Schema<PaymentDoc>(
  {
    _id: { type: String, required: true },
    booking_id: { type: String, required: true, unique: true },
    booking_number: { type: String },
    owner_id: { type: String, required: true },
    runner_id: { type: String, default: null },
    amount_cents: { type: Number, required: true },
    currency: { type: String, required: true },
    status: { type: String, required: true, enum: PAYMENT_STATUSES },
    provider: { type: String, required: true },
    provider_ref: { type: String, default: null, index: true },
    payment_method: { type: String, required: true },
    captured_cents: { type: Number, default: 0 },
    platform_fee_cents: { type: Number, default: 0 },
    runner_payout_cents: { type: Number, default: 0 },
    refunded_cents: { type: Number, default: 0 },
    failure_reason: { type: String, default: null },
    attempt: { type: Number, default: 1 },
    stripe_dispute: {
      type: new Schema(
        {
          id: String,
          status: String,
          reason: String,
          amount_cents: Number,
          opened_at: Date,
          closed_at: { type: Date, default: null },
          evidence_submitted_at: { type: Date, default: null },
          evidence: {
            type: new Schema({ text: String, photo_id: String, file_id: String }, { _id: false }),
            default: null,
          },
        },
        { _id: false },
      ),
      default: undefined,
    },
    pickup_at: { type: Date, default: null },
    hold_at: { type: Date, default: null },
    customer_ref: { type: String, default: null },
    setup_ref: { type: String, default: null },
    pay_by: { type: Date, default: null },
    hold_expires_at: { type: Date, default: null },
    renewals: { type: Number, default: 0 },
    releasing_ref: { type: String, default: null },
    renewal_failed_at: { type: Date, default: null },
    settling_at: { type: Date, default: null },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "payments", versionKey: false },
);

// The scheduled holds' and renewals' sweeps (services/payment/schedule.ts).
PaymentSchema.index({ status: 1, hold_at: 1 });
PaymentSchema.index({ status: 1, hold_expires_at: 1 });

export function paymentModel(connection: Connection): Model<PaymentDoc> {
  return (
    (connection.models.Payment as Model<PaymentDoc> | undefined) ??
    connection.model<PaymentDoc>("Payment", PaymentSchema)
  );
}
