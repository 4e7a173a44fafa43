import type { BookingEntity } from "../../contracts";
import type { Booking, BookingMove } from "../../domain/booking";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { bookingModel, type BookingDoc } from "../../models/booking.model";
import { runnerLockModel } from "../../models/runner-lock.model";

export const models = { bookings: bookingModel, runnerLocks: runnerLockModel };

/** The booking service's methods (booking.service.ts), for the handlers beside it. */
export interface BookingMethods {
  /** A move of the table (domain/booking.ts), through the one command handler. */
  move(id: string, command: BookingMove): Promise<Outcome<BookingDoc>>;
}

export type BookingThis = DomainServiceThis<typeof models, BookingMethods>;

export const bookingsOf = (service: BookingThis): AggregateStore<BookingDoc> =>
  service.aggregate(service.models.bookings, "booking");

/** A booking as the API returns it. */
export function toEntity(doc: Booking): BookingEntity {
  return {
    booking_id: doc._id,
    booking_number: doc.booking_number,
    status: doc.status,
    owner_id: doc.owner_id,
    runner_id: doc.runner_id,
    pet_type: doc.pet_type,
    pet_name: doc.pet_name,
    notes: doc.notes,
    pickup: { lat: doc.pickup.lat, lng: doc.pickup.lng },
    dropoff: { lat: doc.dropoff.lat, lng: doc.dropoff.lng },
    distance_km: doc.distance_km,
    estimated_price_cents: doc.estimated_price_cents,
    currency: doc.currency,
    payment_status: doc.payment_status,
    final_price_cents: doc.final_price_cents ?? null,
    cancel_reason: doc.cancel_reason ?? null,
    auto_confirm_at: doc.auto_confirm_at?.toISOString() ?? null,
    payment_due_at: doc.payment_due_at?.toISOString() ?? null,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}
