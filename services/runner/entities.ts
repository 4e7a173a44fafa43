import type {
  OfferEntity,
  RunnerEntity,
  RunnerRatingEntity,
  VerificationEntity,
  VerificationRequestEntity,
} from "../../contracts";
import { averageOf } from "../../domain/ratings";
import {
  capabilitiesOf,
  verificationOf,
  type Runner,
  type Verification,
} from "../../domain/runner";
import type { RunnerThis } from "./models";

/** A runner's rating by owners, as the API shows it. */
export const ratingEntity = (doc: Pick<Runner, "rating">): RunnerRatingEntity => ({
  count: doc.rating?.count ?? 0,
  average: averageOf(doc.rating),
});

export const toOffer = (doc: Runner): OfferEntity[] =>
  doc.offer
    ? [
        {
          booking_id: doc.offer.booking_id,
          pickup: { lat: doc.offer.pickup.lat, lng: doc.offer.pickup.lng },
          offered_at: doc.offer.offered_at.toISOString(),
          expires_at: doc.offer.expires_at.toISOString(),
          needs: doc.offer.needs
            ? {
                species: doc.offer.needs.species,
                crate_size: doc.offer.needs.crate_size,
                count: doc.offer.needs.count,
                needs_ac: doc.offer.needs.needs_ac,
              }
            : null,
          runner_rating: ratingEntity(doc),
        },
      ]
    : [];

const verificationEntity = (verification: Verification): VerificationEntity => ({
  status: verification.status,
  documents: verification.documents,
  requested_at: verification.requested_at?.toISOString() ?? null,
  decided_at: verification.decided_at?.toISOString() ?? null,
  note: verification.note,
});

/** A runner as the API shows it, with its live position from the geo index. */
export async function runnerEntity(service: RunnerThis, doc: Runner): Promise<RunnerEntity> {
  const live = doc.availability === "offline" ? null : await service.geo.get(doc._id);
  return {
    runner_id: doc._id,
    name: doc.name,
    vehicle: doc.vehicle,
    stripe_account_id: doc.stripe_account_id,
    ...capabilitiesOf(doc),
    availability: doc.availability,
    active_booking_id: doc.active_booking_id,
    position: live ? { lat: live.lat, lng: live.lng, reported_at: live.at.toISOString() } : null,
    verification: verificationEntity(verificationOf(doc)),
    rating: ratingEntity(doc),
  };
}

/** A runner as the admins' verification queue shows it. */
export function verificationRequestEntity(doc: Runner): VerificationRequestEntity {
  const verification = verificationOf(doc);
  return {
    runner_id: doc._id,
    name: doc.name,
    vehicle: doc.vehicle,
    ...capabilitiesOf(doc),
    verification: { ...verificationEntity(verification), decided_by: verification.decided_by },
  };
}
