import { distanceKm, type LatLng } from "./geo";

export type PetType = "dog" | "cat" | "bird" | "rabbit" | "other";

/** All amounts in minor units of `currency`. */
export interface PricingPolicy {
  currency: string;
  baseFareCents: number;
  perKmCents: number;
  surchargeCents: Record<PetType, number>;
}

/**
 * Jakarta-ish defaults. Amounts are ISO 4217 minor units, as Stripe takes them: IDR has two
 * decimals there, so Rp 15,000 is 1,500,000.
 */
export const DEFAULT_PRICING: PricingPolicy = {
  currency: "IDR",
  baseFareCents: 1_500_000,
  perKmCents: 400_000,
  surchargeCents: { dog: 1_000_000, cat: 500_000, bird: 500_000, rabbit: 500_000, other: 750_000 },
};

/** The policy for the configured currency and rates; surcharges not configured keep their defaults. */
export function pricingPolicy(config: {
  currency: string;
  baseFareCents: number;
  perKmCents: number;
  surchargeCents: Partial<Record<PetType, number>>;
}): PricingPolicy {
  return {
    ...config,
    surchargeCents: { ...DEFAULT_PRICING.surchargeCents, ...config.surchargeCents },
  };
}

export interface PriceEstimate {
  distanceKm: number;
  amountCents: number;
  currency: string;
}

/** Base fare + per-km rate over the great-circle distance + the pet's surcharge. */
export function estimatePrice(
  pickup: LatLng,
  dropoff: LatLng,
  petType: PetType,
  policy: PricingPolicy = DEFAULT_PRICING,
): PriceEstimate {
  const km = distanceKm(pickup, dropoff);
  const amount =
    policy.baseFareCents + Math.round(km * policy.perKmCents) + policy.surchargeCents[petType];
  return {
    distanceKm: Math.round(km * 1000) / 1000,
    amountCents: amount,
    currency: policy.currency,
  };
}
