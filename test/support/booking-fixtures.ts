import type { Actor } from "../../domain/access";
import type { Booking, BookingMove, BookingStatus, MoveName } from "../../domain/booking";
import type { Dispute } from "../../domain/disputes";

/** When the decider tests' commands are made, and when what they find happened before. */
export const AT = new Date("2026-12-01T10:00:00.000Z");
export const EARLIER = new Date("2026-12-01T09:00:00.000Z");

/** owner-1's booking of Rex, 5,000,000 held; runner-1 took it once it left `requested`. */
export const bookingIn = (status: BookingStatus, extra: Partial<Booking> = {}): Booking => ({
  _id: "b1",
  booking_number: "KLT-20261201-ABCDEF",
  owner_id: "owner-1",
  runner_id: status === "requested" ? null : "runner-1",
  status,
  pet_type: "dog",
  pet_name: "Rex",
  notes: null,
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
  distance_km: 7.8,
  estimated_price_cents: 5_000_000,
  currency: "IDR",
  payment_status: "held",
  final_price_cents: null,
  accepted_at: null,
  picked_up_at: EARLIER,
  delivered_at: EARLIER,
  confirmed_at: null,
  completed_at: null,
  cancelled_at: null,
  cancelled_by: null,
  cancel_reason: null,
  auto_confirm_at: null,
  payment_due_at: null,
  created_at: EARLIER,
  updated_at: EARLIER,
  ...extra,
});

/** A move issued at AT; a delivered booking waits a minute for its owner. */
export const moveOf = (
  type: MoveName,
  actor: Actor,
  extra: Partial<BookingMove> = {},
): BookingMove => ({
  type,
  actor,
  at: AT,
  autoConfirmAfterMs: 60_000,
  ...extra,
});

/** owner-1's dispute of it, opened EARLIER and not resolved: `report` says what was reported. */
export const openedDispute = (report: Pick<Dispute, "reason" | "text" | "photo_ids">): Dispute => ({
  ...report,
  opened_by: "owner-1",
  opened_at: EARLIER,
  outcome: null,
  refund_cents: null,
  note: null,
  resolved_by: null,
  resolved_at: null,
});
