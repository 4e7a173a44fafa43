import { PETS, PRICING, type PetType } from "../config/defaults";
import { distanceKm, type LatLng } from "./geo";

/** A weight band: each pet heavier than `overKg` adds `cents`. */
export interface WeightBand {
  overKg: number;
  cents: number;
}

/** All amounts in minor units of `currency`. */
export interface PricingPolicy {
  currency: string;
  baseFareCents: number;
  perKmCents: number;
  surchargeCents: Record<PetType, number>;
  /** Added for each pet beyond the first (absent: nothing). */
  extraPetCents?: number;
  /** Per pet, every band its weight passes (absent: none). */
  weightSurcharges?: readonly WeightBand[];
}

/** The defaults of config/defaults.ts, where their reasons are. */
export const DEFAULT_PRICING: PricingPolicy = {
  ...PRICING,
  extraPetCents: PETS.extraPetCents,
  weightSurcharges: PETS.weightSurcharges,
};

/**
 * The policy for the configured currency and rates; surcharges not configured keep their
 * defaults, and so do the pet count and weight surcharges when not given.
 */
export function pricingPolicy(config: {
  currency: string;
  baseFareCents: number;
  perKmCents: number;
  surchargeCents: Partial<Record<PetType, number>>;
  extraPetCents?: number;
  weightSurcharges?: readonly WeightBand[];
}): PricingPolicy {
  return {
    ...config,
    surchargeCents: { ...DEFAULT_PRICING.surchargeCents, ...config.surchargeCents },
    extraPetCents: config.extraPetCents ?? DEFAULT_PRICING.extraPetCents,
    weightSurcharges: config.weightSurcharges ?? DEFAULT_PRICING.weightSurcharges,
  };
}

/** A pet as the price sees it; a booking by pet type alone has no weight. */
export interface PricedPet {
  species: PetType;
  weight_kg: number | null;
}

export interface PriceEstimate {
  distanceKm: number;
  amountCents: number;
  currency: string;
}

/** What one pet adds: its species' surcharge and every weight band it is heavier than. */
function petCents(pet: PricedPet, policy: PricingPolicy): number {
  const weight = pet.weight_kg;
  const bands =
    weight === null ? [] : (policy.weightSurcharges ?? []).filter((band) => weight > band.overKg);
  return policy.surchargeCents[pet.species] + bands.reduce((sum, band) => sum + band.cents, 0);
}

/**
 * Base fare + per-km rate over the great-circle distance + each pet's surcharges (its species',
 * its weight bands') + `extraPetCents` for each pet beyond the first. `pets` is a pet type alone
 * for a booking without profiles: one pet of that type, its weight unknown.
 */
export function estimatePrice(
  pickup: LatLng,
  dropoff: LatLng,
  pets: PetType | readonly PricedPet[],
  policy: PricingPolicy = DEFAULT_PRICING,
): PriceEstimate {
  const priced: readonly PricedPet[] =
    typeof pets === "string" ? [{ species: pets, weight_kg: null }] : pets;
  const km = distanceKm(pickup, dropoff);
  const extraPets = Math.max(0, priced.length - 1) * (policy.extraPetCents ?? 0);
  const amount =
    policy.baseFareCents +
    Math.round(km * policy.perKmCents) +
    priced.reduce((sum, pet) => sum + petCents(pet, policy), 0) +
    extraPets;
  return {
    distanceKm: Math.round(km * 1000) / 1000,
    amountCents: amount,
    currency: policy.currency,
  };
}
