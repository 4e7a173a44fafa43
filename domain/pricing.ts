import { PRICING, type PetType } from "../config/defaults";
import { distanceKm, type LatLng } from "./geo";

/** All amounts in minor units of `currency`. */
export interface PricingPolicy {
  currency: string;
  baseFareCents: number;
  perKmCents: number;
  surchargeCents: Record<PetType, number>;
}

/** The defaults of config/defaults.ts, where their reasons are. */
export const DEFAULT_PRICING: PricingPolicy = PRICING;

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
