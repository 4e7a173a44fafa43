import { CRATE_SIZES, type PetType } from "../config/defaults";
import type { Rejection } from "./decider";
import type { PetNeeds } from "./pets";
import { capabilitiesOf, verificationOf, type Runner } from "./runner";

/** How a refusal names a species: "does not carry rabbits". */
const SPECIES_PLURAL: Record<PetType, string> = {
  dog: "dogs",
  cat: "cats",
  bird: "birds",
  rabbit: "rabbits",
  other: "other pets",
};

const pets = (count: number) => `${count} ${count === 1 ? "pet" : "pets"}`;

/**
 * Whether a runner may carry a booking's pets: null, or the first reason it may not, in words
 * the runner and an operator read ("crate too small (large needed)"). Only a verified runner
 * carries anything; a booking that does not say what its pets need (made before needs were
 * kept) asks nothing more.
 */
export function mayCarry(runner: Runner, needs: PetNeeds | undefined): string | null {
  if (verificationOf(runner).status !== "verified") return "not verified";
  if (!needs) return null;
  const can = capabilitiesOf(runner);
  const refused = needs.species.filter((species) => !can.species.includes(species));
  if (refused.length > 0)
    return `does not carry ${[...new Set(refused)].map((s) => SPECIES_PLURAL[s]).join(" or ")}`;
  if (can.crate_capacity === null) return "no crate capacity set";
  const { largest, pets: carries } = can.crate_capacity;
  if (needs.crate_size && CRATE_SIZES.indexOf(needs.crate_size) > CRATE_SIZES.indexOf(largest))
    return `crate too small (${needs.crate_size} needed)`;
  if (needs.count > carries) return `carries ${pets(carries)}, the booking has ${needs.count}`;
  if (needs.needs_ac && !can.air_conditioning) return "no air conditioning";
  return null;
}

export const ONLY_VERIFIED = "Only verified runners may accept bookings";

/**
 * Why a runner may not accept a booking, as the refusal the caller gets: 403 when it is not
 * verified (nothing it can do about this booking), 409 when it cannot carry these pets.
 * A runner never stored is not verified.
 */
export function mayAccept(runner: Runner | null, needs: PetNeeds | undefined): Rejection | null {
  if (!runner || verificationOf(runner).status !== "verified")
    return { kind: "forbidden", message: ONLY_VERIFIED };
  const reason = mayCarry(runner, needs);
  return reason === null
    ? null
    : { kind: "conflict", message: `You cannot carry this booking: ${reason}`, data: { reason } };
}
