import { Schema, type Connection, type Model } from "mongoose";
import { CRATE_SIZES, PET_TYPES } from "../config/defaults";
import type { Pet } from "../domain/pets";

/** An owner's pet as stored (the booking service's database, collection `pets`). */
export type PetDoc = Pet;

const VaccinationSchema = new Schema(
  {
    kind: { type: String, required: true },
    given_on: { type: Date, required: true },
    expires_on: { type: Date, required: true },
    photo_id: { type: String, default: null },
  },
  { _id: false },
);

const PetSchema = new Schema<PetDoc>(
  {
    _id: { type: String, required: true },
    owner_id: { type: String, required: true },
    name: { type: String, required: true },
    species: { type: String, required: true, enum: PET_TYPES },
    breed: { type: String, default: null },
    weight_kg: { type: Number, required: true },
    crate_size: { type: String, required: true, enum: CRATE_SIZES },
    temperament: { type: String, default: null },
    care_notes: { type: String, default: null },
    vaccinations: { type: [VaccinationSchema], default: [] },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: "pets", versionKey: false },
);
// An owner's pets, newest first: the list, and the lookups of a booking's pet_ids.
PetSchema.index({ owner_id: 1, created_at: -1, _id: -1 });

export function petModel(connection: Connection): Model<PetDoc> {
  return (
    (connection.models.Pet as Model<PetDoc> | undefined) ??
    connection.model<PetDoc>("Pet", PetSchema)
  );
}
