import type { Payment, PaymentRecordStatus } from "../../domain/payment";
import { EARLIER } from "./booking-fixtures";

/**
 * Booking b1's payment of 10,000 IDR in `status`, as the payment decider tests give it: nothing
 * captured or refunded yet, its hold `pi_1` once it has one; `extra` says what a test needs beside.
 */
export const paymentIn = (status: PaymentRecordStatus, extra: Partial<Payment> = {}): Payment => ({
  _id: "pay_b1",
  booking_id: "b1",
  booking_number: "KLT-20261201-ABCDEF",
  owner_id: "owner-1",
  runner_id: null,
  amount_cents: 10_000,
  currency: "IDR",
  status,
  provider: "simulated",
  provider_ref: status === "created" ? null : "pi_1",
  payment_method: "pm_card_visa",
  captured_cents: 0,
  platform_fee_cents: 0,
  runner_payout_cents: 0,
  refunded_cents: 0,
  failure_reason: null,
  attempt: 1,
  created_at: EARLIER,
  updated_at: EARLIER,
  ...extra,
});
