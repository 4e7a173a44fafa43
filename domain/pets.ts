import { CRATE_SIZES, type CrateSize, type PetType } from "../config/defaults";

/** A vaccination on a pet's record: its kind (`rabies`), when given and until when it holds. */
export interface Vaccination {
  kind: string;
  given_on: Date;
  expires_on: Date;
  /** A photo of the certificate (the pet's photos), when the owner sent one. */
  photo_id: string | null;
}

/** What an owner says of a pet, and what a booking copies of it. */
export interface PetProfile {
  name: string;
  species: PetType;
  breed: string | null;
  weight_kg: number;
  crate_size: CrateSize;
  temperament: string | null;
  care_notes: string | null;
}

/** An owner's pet: the profile a booking names. */
export interface Pet extends PetProfile {
  _id: string;
  owner_id: string;
  vaccinations: Vaccination[];
  created_at: Date;
  updated_at: Date;
}

/** A pet as a booking carries it: the profile as it was when booked (later edits do not move it). */
export interface BookingPet extends PetProfile {
  pet_id: string;
}

/** What carrying a booking's pets takes: dispatch offers it only to runners who can. */
export interface PetNeeds {
  species: PetType[];
  /** The largest crate among the pets; null: not known (a booking made without profiles). */
  crate_size: CrateSize | null;
  count: number;
  needs_ac: boolean;
}

/** A required vaccination a pet lacks at the pickup: which pet (its place in the list) and why. */
export interface VaccinationProblem {
  /** The pet's place in the list given (a booking's `pet_ids`). */
  index: number;
  kind: string;
  message: string;
}

const dayOf = (at: Date) => at.toISOString().slice(0, 10);

/**
 * The vaccinations the pets lack at `pickupAt`: for each pet, each kind its species requires
 * must be on record, given on or before the pickup and expiring after it. A vaccination expires
 * at the start (00:00 UTC) of its `expires_on` day: a pickup on that day is refused, since the
 * certificate may be out of date where the pet travels. Pets are named by their place in the list.
 */
export function vaccinationProblems(
  pets: readonly Pick<Pet, "name" | "species" | "vaccinations">[],
  required: Readonly<Record<PetType, readonly string[]>>,
  pickupAt: Date,
): VaccinationProblem[] {
  return pets.flatMap((pet, index) =>
    required[pet.species].flatMap((kind) => {
      const records = pet.vaccinations.filter((vaccination) => vaccination.kind === kind);
      const holds = (vaccination: Vaccination) =>
        vaccination.given_on <= pickupAt && vaccination.expires_on > pickupAt;
      if (records.some(holds)) return [];
      const latest = records.reduce<Vaccination | null>(
        (best, vaccination) =>
          best === null || vaccination.expires_on > best.expires_on ? vaccination : best,
        null,
      );
      const why =
        latest === null
          ? `no ${kind} vaccination on record`
          : latest.expires_on <= pickupAt
            ? `${kind} vaccination expires ${dayOf(latest.expires_on)}, before the pickup`
            : `${kind} vaccination given ${dayOf(latest.given_on)}, after the pickup`;
      return [{ index, kind, message: `${pet.name}: ${why}` }];
    }),
  );
}

/**
 * What carrying the pets takes: their species (each once, in order), the largest crate (null
 * when none is known, as for a booking by pet type alone), how many, and whether any species
 * travels only with air conditioning.
 */
export function needsOf(
  pets: readonly { species: PetType; crate_size: CrateSize | null }[],
  acRequiredSpecies: readonly PetType[],
): PetNeeds {
  const species = [...new Set(pets.map((pet) => pet.species))];
  const crates = pets
    .map((pet) => pet.crate_size)
    .filter((crate): crate is CrateSize => crate !== null);
  const largest = crates.reduce<CrateSize | null>(
    (max, crate) =>
      max === null || CRATE_SIZES.indexOf(crate) > CRATE_SIZES.indexOf(max) ? crate : max,
    null,
  );
  return {
    species,
    crate_size: largest,
    count: pets.length,
    needs_ac: species.some((name) => acRequiredSpecies.includes(name)),
  };
}

/** The pet as a booking keeps it: its profile now, without the owner's records. */
export function bookingPetOf(pet: Pet): BookingPet {
  return {
    pet_id: pet._id,
    name: pet.name,
    species: pet.species,
    breed: pet.breed,
    weight_kg: pet.weight_kg,
    crate_size: pet.crate_size,
    temperament: pet.temperament,
    care_notes: pet.care_notes,
  };
}

/** The longest `pet_name` a booking has (events carry it; messages show it). */
export const BOOKING_NAME_MAX = 80;

/** "Rex", "Rex & Mia", "Rex, Mia & Bo". */
const listed = (names: readonly string[]) =>
  names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} & ${names[names.length - 1]}`;

/**
 * How a booking of these pets is named (`pet_name`: "Rex, Mia & Bo") and typed (`pet_type`: the
 * first pet's species). Names too long together become "Rex, Mia & 1 more"; a first name too
 * long even alone is cut with "…".
 */
export function bookingNameOf(pets: readonly Pick<BookingPet, "name" | "species">[]): {
  pet_name: string;
  pet_type: PetType;
} {
  if (pets.length === 0) throw new RangeError("a booking names at least one pet");
  const names = pets.map((pet) => pet.name);
  const pet_type = pets[0].species;
  const full = listed(names);
  if (full.length <= BOOKING_NAME_MAX) return { pet_name: full, pet_type };
  for (let shown = names.length - 1; shown >= 1; shown--) {
    const name = `${names.slice(0, shown).join(", ")} & ${names.length - shown} more`;
    if (name.length <= BOOKING_NAME_MAX) return { pet_name: name, pet_type };
  }
  const rest = names.length > 1 ? ` & ${names.length - 1} more` : "";
  return { pet_name: `${cut(names[0], BOOKING_NAME_MAX - rest.length - 1)}…${rest}`, pet_type };
}

/** The longest start of `text` within `max` UTF-16 units that splits no character (grapheme). */
function cut(text: string, max: number): string {
  let kept = "";
  for (const { segment } of new Intl.Segmenter().segment(text)) {
    if (kept.length + segment.length > max) break;
    kept += segment;
  }
  return kept.trimEnd();
}

/** The needs as events carry them (booking.requested, runner.assigned): flat, optional fields. */
export function needsFields(needs: PetNeeds | undefined) {
  if (!needs) return {};
  return {
    pet_count: needs.count,
    species: needs.species,
    ...(needs.crate_size ? { crate_size: needs.crate_size } : {}),
    needs_ac: needs.needs_ac,
  };
}
