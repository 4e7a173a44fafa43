import { z } from "zod";
import { CRATE_SIZES, PETS, PET_TYPES } from "../config/defaults";
import type { PetProfile } from "../domain/pets";
import { contracts } from "./action";
import { IdParams, PageParams, text } from "./common";
import { CleanImageParams } from "./photo";

/** Kinds of vaccination one pet may have on record: far more than any species is given. */
export const MAX_VACCINATION_KINDS = 20;

/** A calendar day, as a certificate states it: no time, no zone. */
const day = z.iso.date({ message: "expected a date as YYYY-MM-DD" });

/**
 * The latest date it is anywhere on Earth now (UTC+14): a certificate the owner was given today,
 * in their own zone, is never after it.
 */
const latestToday = () => new Date(Date.now() + 14 * 3_600_000).toISOString().slice(0, 10);

/** As the required vaccinations name them (PET_REQUIRED_VACCINATIONS): `rabies`, `fvrcp`. */
const kind = z
  .string()
  .trim()
  .toLowerCase()
  .max(40)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "expected one lowercase word such as rabies");

const VaccinationFields = {
  kind,
  given_on: day.refine((given) => given <= latestToday(), "must not be in the future"),
  expires_on: day,
};

/** Dates as ISO days compare as strings. */
const expiresAfterGiven = {
  check: (value: { given_on: string; expires_on: string }) => value.expires_on > value.given_on,
  params: { path: ["expires_on"], message: "must be after given_on" },
};

const Vaccination = z
  .object(VaccinationFields)
  .strict()
  .refine(expiresAfterGiven.check, expiresAfterGiven.params);

/** A free-text field of the profile: "" (an untouched text box) and null clear it. */
const note = (max: number, lines = false) =>
  text(max, { lines, emptyAllowed: true })
    .nullable()
    .transform((value) => (value === "" ? null : value));

const ProfileFields = {
  name: text(80),
  species: z.enum(PET_TYPES),
  breed: note(80),
  weight_kg: z.number().positive().max(PETS.maxWeightKg),
  crate_size: z.enum(CRATE_SIZES),
  temperament: note(500, true),
  care_notes: note(2000, true),
};

export const CreatePetParams = z
  .object({
    ...ProfileFields,
    breed: ProfileFields.breed.optional(),
    temperament: ProfileFields.temperament.optional(),
    care_notes: ProfileFields.care_notes.optional(),
    /** Photos of the certificates come later: a pet's photos need the pet. */
    vaccinations: z
      .array(Vaccination)
      .max(MAX_VACCINATION_KINDS)
      .superRefine((vaccinations, ctx) => {
        vaccinations.forEach((vaccination, i) => {
          if (vaccinations.findIndex((other) => other.kind === vaccination.kind) < i)
            ctx.addIssue({ code: "custom", path: [i, "kind"], message: "named twice" });
        });
      })
      .optional(),
  })
  .strict();

export const UpdatePetParams = IdParams.extend({
  name: ProfileFields.name.optional(),
  species: ProfileFields.species.optional(),
  breed: ProfileFields.breed.optional(),
  weight_kg: ProfileFields.weight_kg.optional(),
  crate_size: ProfileFields.crate_size.optional(),
  temperament: ProfileFields.temperament.optional(),
  care_notes: ProfileFields.care_notes.optional(),
})
  .strict()
  .refine((value) => Object.keys(value).some((key) => key !== "id"), {
    message: "expected at least one field to change",
  });

export const VaccinateParams = IdParams.extend({
  ...VaccinationFields,
  /** One of this pet's photos: the certificate. */
  photo_id: z.string().min(1).max(64).optional(),
})
  .strict()
  .refine(expiresAfterGiven.check, expiresAfterGiven.params);

/** A photo for the pet's record (a certificate), as the gateway hands it on once cleaned. */
export const PetPhotoUploadParams = IdParams.extend({ image: CleanImageParams }).strict();

export const PetPhotoParams = IdParams.extend({ photoId: z.string().min(1).max(64) }).strict();

export const ListPetsParams = z.object({ ...PageParams });

export const PET_ACTIONS = contracts({
  petCreate: { roles: ["owner"], params: CreatePetParams, creates: true },
  petList: { roles: ["owner"], params: ListPetsParams },
  petGet: { roles: ["owner", "admin"], params: IdParams },
  petUpdate: { roles: ["owner"], params: UpdatePetParams },
  petDelete: { roles: ["owner"], params: IdParams },
  petVaccinate: { roles: ["owner"], params: VaccinateParams },
  petPhotoUpload: { roles: ["owner"], params: PetPhotoUploadParams },
  petPhoto: { roles: ["owner", "admin"], params: PetPhotoParams },
});

export interface VaccinationEntity {
  kind: string;
  /** YYYY-MM-DD */
  given_on: string;
  /** YYYY-MM-DD; the vaccination holds until the start (UTC) of this day. */
  expires_on: string;
  photo_id: string | null;
}

/** A pet as the API returns it. */
export interface PetEntity extends PetProfile {
  pet_id: string;
  owner_id: string;
  vaccinations: VaccinationEntity[];
  created_at: string;
  updated_at: string;
}
