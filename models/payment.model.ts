import { Schema, type Connection, type Model } from "mongoose";
import { OutboxEntrySchema, type OutboxEntry } from "./outbox.schema";

/**
 * created → held | pending | failed; pending → held | failed (webhooks);
 * held → captured | canceled; captured → refunded.
 */
export const PAYMENT_STATUSES = [
  "created",
  "pending",
  "held",
  "failed",
  "captured",
  "canceled",
  "refunded",
] as const;
export type PaymentRecordStatus = (typeof PAYMENT_STATUSES)[number];

export interface PaymentDoc {
  _id: string;
  booking_id: string;
  owner_id: string;
  runner_id: string | null;
  amount_cents: number;
  currency: string;
  status: PaymentRecordStatus;
  provider: "stripe" | "simulated";
  provider_ref: string | null;
  payment_method: string;
  captured_cents: number;
  platform_fee_cents: number;
  runner_payout_cents: number;
  refunded_cents: number;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
  outbox: OutboxEntry[];
}

const PaymentSchema = new Schema<PaymentDoc>(
  {
    _id: { type: String, required: true },
    booking_id: { type: String, required: true, unique: true },
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
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "payments", versionKey: false },
);

export function paymentModel(connection: Connection): Model<PaymentDoc> {
  return (
    (connection.models.Payment as Model<PaymentDoc> | undefined) ??
    connection.model<PaymentDoc>("Payment", PaymentSchema)
  );
}
