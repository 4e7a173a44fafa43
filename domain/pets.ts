import type { CrateSize, PetType } from "../config/defaults";

/** A vaccination on a pet's record: its kind (`rabies`), when given and until when it holds. */
export interface Vaccination {
  kind: string;
  given_on: Date;
  expires_on: Date;
  /** A photo of the certificate (the pet's photos), when the owner sent one. */
  photo_id: string | null;
}

/** An owner's pet: the profile a booking names. */
export interface Pet {
  _id: string;
  owner_id: string;
  name: string;
  species: PetType;
  breed: string | null;
  weight_kg: number;
  crate_size: CrateSize;
  temperament: string | null;
  care_notes: string | null;
  vaccinations: Vaccination[];
  created_at: Date;
  updated_at: Date;
}

/** A pet as a booking carries it: the profile as it was when booked (later edits do not move it). */
export interface BookingPet {
  pet_id: string;
  name: string;
  species: PetType;
  breed: string | null;
  weight_kg: number;
  crate_size: CrateSize;
  temperament: string | null;
  care_notes: string | null;
}

/** What carrying a booking's pets takes: dispatch offers it only to runners who can. */
export interface PetNeeds {
  species: PetType[];
  /** The largest crate among the pets; null: not known (a booking made without profiles). */
  crate_size: CrateSize | null;
  count: number;
  needs_ac: boolean;
}
