import type { BookingEntity, DisputeEntity, HandoverProofEntity } from "../../contracts";
import { isAdmin, isOwner, type Actor } from "../../domain/access";
import type { Booking, BookingMove, HandoverProof } from "../../domain/booking";
import type { Dispute } from "../../domain/disputes";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { bookingModel, type BookingDoc } from "../../models/booking.model";
import { petModel } from "../../models/pet.model";
import { ratingModel } from "../../models/rating.model";
import { runnerLockModel } from "../../models/runner-lock.model";
import { shareLinkModel } from "../../models/share-link.model";

export const models = {
  bookings: bookingModel,
  pets: petModel,
  ratings: ratingModel,
  runnerLocks: runnerLockModel,
  shareLinks: shareLinkModel,
};

/** The booking service's methods (booking.service.ts), for the handlers beside it. */
export interface BookingMethods {
  /** A move of the table (domain/booking.ts), through the one command handler. */
  /** `known`: the booking as the caller just read it (a lost race reads it again). */
  move(id: string, command: BookingMove, known?: BookingDoc | null): Promise<Outcome<BookingDoc>>;
}

export type BookingThis = DomainServiceThis<typeof models, BookingMethods>;

export const bookingsOf = (service: BookingThis): AggregateStore<BookingDoc> =>
  service.aggregate(service.models.bookings, "booking");

/** A handover's proof as the API shows it. */
export const proofEntity = (proof: HandoverProof | null | undefined): HandoverProofEntity | null =>
  proof
    ? {
        photo_id: proof.photo_id,
        at: proof.at.toISOString(),
        position: proof.position ? { lat: proof.position.lat, lng: proof.position.lng } : null,
        ...(proof.pin_verified === undefined ? {} : { pin_verified: proof.pin_verified }),
      }
    : null;

/** A dispute as the API shows it. */
const disputeEntity = (dispute: Dispute): DisputeEntity => ({
  reason: dispute.reason,
  text: dispute.text,
  photo_ids: [...dispute.photo_ids],
  opened_at: dispute.opened_at.toISOString(),
  outcome: dispute.outcome ?? null,
  refund_cents: dispute.refund_cents ?? null,
  note: dispute.note ?? null,
  resolved_by: dispute.resolved_by ?? null,
  resolved_at: dispute.resolved_at?.toISOString() ?? null,
});

/** A no-show's steps as the API shows them: each only once it happened. */
function noShowFields(doc: Booking): Partial<BookingEntity> {
  const { arrived_at_pickup, arrived_at_dropoff, no_show } = doc;
  const returned = proofEntity(doc.return_proof);
  return {
    ...(arrived_at_pickup ? { arrived_at_pickup: arrived_at_pickup.toISOString() } : {}),
    ...(arrived_at_dropoff ? { arrived_at_dropoff: arrived_at_dropoff.toISOString() } : {}),
    ...(no_show
      ? {
          no_show: {
            where: no_show.where,
            outcome: no_show.outcome,
            declared_at: no_show.declared_at.toISOString(),
            reason: no_show.reason ?? null,
            photo_id: no_show.photo_id ?? null,
            fee_cents: no_show.fee_cents,
          },
        }
      : {}),
    ...(returned ? { return_proof: returned } : {}),
  };
}

/**
 * A booking as the API returns it to `viewer`: the recipient's PIN only to its owner and admins
 * (never to the runner, who must hear it from the recipient).
 */
export function toEntity(doc: Booking, viewer?: Actor): BookingEntity {
  const seesPin = viewer !== undefined && (isOwner(viewer, doc) || isAdmin(viewer));
  return {
    booking_id: doc._id,
    booking_number: doc.booking_number,
    status: doc.status,
    owner_id: doc.owner_id,
    runner_id: doc.runner_id,
    pet_type: doc.pet_type,
    pet_name: doc.pet_name,
    pets: doc.pets ?? [],
    needs: doc.needs ?? null,
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
    accept_due_at: doc.accept_due_at?.toISOString() ?? null,
    pickup_at: doc.pickup_at?.toISOString() ?? null,
    pay_by: doc.pay_by?.toISOString() ?? null,
    ...(seesPin && doc.handover_pin ? { handover_pin: doc.handover_pin } : {}),
    handover_locked: Boolean(doc.handover_locked_at),
    pickup_proof: proofEntity(doc.pickup_proof),
    dropoff_proof: proofEntity(doc.dropoff_proof),
    ...(doc.dispute ? { dispute: disputeEntity(doc.dispute) } : {}),
    ...noShowFields(doc),
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}
