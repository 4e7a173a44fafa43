import type { OfferEntity, RunnerEntity } from "../../contracts";
import type { Runner } from "../../domain/runner";
import type { RunnerThis } from "./models";

export const toOffer = (doc: Runner): OfferEntity[] =>
  doc.offer
    ? [
        {
          booking_id: doc.offer.booking_id,
          pickup: { lat: doc.offer.pickup.lat, lng: doc.offer.pickup.lng },
          offered_at: doc.offer.offered_at.toISOString(),
          expires_at: doc.offer.expires_at.toISOString(),
        },
      ]
    : [];

/** A runner as the API shows it, with its live position from the geo index. */
export async function runnerEntity(service: RunnerThis, doc: Runner): Promise<RunnerEntity> {
  const live = doc.availability === "offline" ? null : await service.geo.get(doc._id);
  return {
    runner_id: doc._id,
    name: doc.name,
    vehicle: doc.vehicle,
    stripe_account_id: doc.stripe_account_id,
    availability: doc.availability,
    active_booking_id: doc.active_booking_id,
    position: live ? { lat: live.lat, lng: live.lng, reported_at: live.at.toISOString() } : null,
  };
}
