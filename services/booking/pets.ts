import { randomUUID } from "node:crypto";
import { MAX_VACCINATION_KINDS, PET_ACTIONS, type PetEntity } from "../../contracts";
import type { User } from "../../domain/access";
import type { Pet, Vaccination } from "../../domain/pets";
import { actionsOf, callerOf, clientError, notFound } from "../../lib/action";
import { isDuplicateKey } from "../../lib/mongo";
import { PAGE_SORT, afterCursor, toPage } from "../../lib/pagination";
import { keepPhoto, photoBytes, photoEntity, photoStoreOf } from "../../lib/photos";
import { fieldError } from "../../lib/zod-validator";
import type { PetDoc } from "../../models/pet.model";
import { keyedId } from "./actions";
import type { BookingThis } from "./models";

/**
 * An owner's pets: the profiles a booking names (services/booking/actions.ts copies them onto
 * it), their vaccinations and the photos of their certificates.
 */

const action = actionsOf<BookingThis>();

/** A date as the API shows a certificate's: the day, YYYY-MM-DD. */
const dayOf = (at: Date) => at.toISOString().slice(0, 10);
/** A certificate's day as stored: its start, UTC. */
const dateOf = (day: string) => new Date(`${day}T00:00:00.000Z`);

/** A pet as the API returns it. */
export function petEntity(doc: Pet): PetEntity {
  return {
    pet_id: doc._id,
    owner_id: doc.owner_id,
    name: doc.name,
    species: doc.species,
    breed: doc.breed,
    weight_kg: doc.weight_kg,
    crate_size: doc.crate_size,
    temperament: doc.temperament,
    care_notes: doc.care_notes,
    vaccinations: doc.vaccinations.map((vaccination) => ({
      kind: vaccination.kind,
      given_on: dayOf(vaccination.given_on),
      expires_on: dayOf(vaccination.expires_on),
      photo_id: vaccination.photo_id ?? null,
    })),
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}

/** The caller's pets, as a filter: only owners have pets (an admin is not the owner of its sub). */
function petsOf(user: User) {
  if (user.role !== "owner") throw clientError("FORBIDDEN", "Owners only");
  return { owner_id: user.sub };
}

/** The caller's own pet, as a filter: another owner's id finds nothing (404, as for no pet). */
const ownPet = (user: User, id: string) => ({ _id: id, ...petsOf(user) });

/** The pet, to its owner or an admin; 404 to anyone else. */
async function visiblePet(service: BookingThis, user: User, id: string): Promise<PetDoc> {
  const pet = await service.models.pets.findById(id).lean<PetDoc>();
  if (!pet || !(user.role === "admin" || (user.role === "owner" && pet.owner_id === user.sub))) {
    throw notFound("Pet");
  }
  return pet;
}

/**
 * An owner adds a pet (201). With an `Idempotency-Key` the pet's id follows from the owner and
 * the key: a retry gets the pet its first try made (200); the key reused for another pet is 409.
 */
export const petCreate = action(PET_ACTIONS.petCreate, async function (ctx) {
  const owner = callerOf(ctx);
  const key = ctx.meta.idempotencyKey;
  const id = key ? keyedId(owner, `pet\n${key}`) : randomUUID();
  const at = new Date();
  const { vaccinations = [], ...profile } = ctx.params;
  const doc: PetDoc = {
    _id: id,
    owner_id: owner.sub,
    name: profile.name,
    species: profile.species,
    breed: profile.breed ?? null,
    weight_kg: profile.weight_kg,
    crate_size: profile.crate_size,
    temperament: profile.temperament ?? null,
    care_notes: profile.care_notes ?? null,
    vaccinations: vaccinations.map((vaccination) => vaccinationOf(vaccination)),
    created_at: at,
    updated_at: at,
  };
  try {
    await this.models.pets.create(doc);
  } catch (error) {
    if (!key || !isDuplicateKey(error)) throw error;
    const earlier = await this.models.pets.findOne(ownPet(owner, id)).lean<PetDoc>();
    if (!earlier || earlier.name !== doc.name || earlier.species !== doc.species) {
      throw clientError("CONFLICT", "This Idempotency-Key was used for another pet");
    }
    return petEntity(earlier);
  }
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/pets/${id}`;
  return petEntity(doc);
});

/** The caller's pets, newest first, `limit` per page. */
export const petList = action(PET_ACTIONS.petList, async function (ctx) {
  const { limit, cursor } = ctx.params;
  const rows = await this.models.pets
    .find({ ...petsOf(callerOf(ctx)), ...afterCursor(cursor) })
    .sort(PAGE_SORT)
    .limit(limit + 1)
    .lean<PetDoc[]>();
  const page = toPage(rows, limit);
  return { items: page.items.map(petEntity), next_cursor: page.next_cursor };
});

/** One pet, to its owner or an admin. */
export const petGet = action(PET_ACTIONS.petGet, async function (ctx) {
  return petEntity(await visiblePet(this, callerOf(ctx), ctx.params.id));
});

/** Its owner changes the profile; bookings made already keep the profile they were made with. */
export const petUpdate = action(PET_ACTIONS.petUpdate, async function (ctx) {
  const { id, ...fields } = ctx.params;
  const pet = await this.models.pets
    .findOneAndUpdate(
      ownPet(callerOf(ctx), id),
      { $set: { ...fields, updated_at: new Date() } },
      { returnDocument: "after" },
    )
    .lean<PetDoc>();
  if (!pet) throw notFound("Pet");
  return petEntity(pet);
});

/** Its owner removes the pet; bookings keep their copy of it. */
export const petDelete = action(PET_ACTIONS.petDelete, async function (ctx) {
  const removed = await this.models.pets.deleteOne(ownPet(callerOf(ctx), ctx.params.id));
  if (removed.deletedCount === 0) throw notFound("Pet");
  return { deleted: true, id: ctx.params.id };
});

/**
 * Its owner records a vaccination (201, the pet): it takes the place of the one of its kind on
 * record, since the latest certificate is the one that counts. A `photo_id` must be one of this
 * pet's photos.
 */
export const petVaccinate = action(PET_ACTIONS.petVaccinate, async function (ctx) {
  const owner = callerOf(ctx);
  const { id, photo_id } = ctx.params;
  const pet = await this.models.pets.findOne(ownPet(owner, id)).lean<PetDoc>();
  if (!pet) throw notFound("Pet");
  if (photo_id !== undefined && !(await isPhotoOf(this, photo_id, id))) {
    throw fieldError("photo_id", "no such photo of this pet");
  }
  const vaccination = vaccinationOf(ctx.params);
  const others = pet.vaccinations.filter((earlier) => earlier.kind !== vaccination.kind);
  if (others.length >= MAX_VACCINATION_KINDS) {
    throw fieldError("kind", `at most ${MAX_VACCINATION_KINDS} kinds of vaccination per pet`);
  }
  // Guarded on the record as read: of two apps recording at once, the later is told (409).
  const saved = await this.models.pets
    .findOneAndUpdate(
      { ...ownPet(owner, id), updated_at: pet.updated_at },
      { $set: { vaccinations: [...others, vaccination], updated_at: new Date() } },
      { returnDocument: "after" },
    )
    .lean<PetDoc>();
  if (!saved) throw clientError("CONFLICT", "The pet changed meanwhile: try again");
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/pets/${id}`;
  return petEntity(saved);
});

/** A vaccination as the pet's record keeps it. */
function vaccinationOf(input: {
  kind: string;
  given_on: string;
  expires_on: string;
  photo_id?: string;
}): Vaccination {
  return {
    kind: input.kind,
    given_on: dateOf(input.given_on),
    expires_on: dateOf(input.expires_on),
    photo_id: input.photo_id ?? null,
  };
}

/** Whether the photo is one of this pet's (uploaded for it). */
async function isPhotoOf(service: BookingThis, photoId: string, petId: string): Promise<boolean> {
  const meta = await photoStoreOf(service).meta(photoId);
  return meta !== null && meta.subject.kind === "pet" && meta.subject.id === petId;
}

/** Its owner keeps a photo for the pet's record, a certificate (201); the gateway cleaned it. */
export const petPhotoUpload = action(PET_ACTIONS.petPhotoUpload, async function (ctx) {
  const owner = callerOf(ctx);
  const { id, image } = ctx.params;
  const pet = await this.models.pets.exists(ownPet(owner, id));
  if (!pet) throw notFound("Pet");
  const meta = await keepPhoto(photoStoreOf(this), image, owner, { kind: "pet", id });
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/pets/${id}/photos/${meta._id}`;
  return photoEntity(meta);
});

/** One of the pet's photos, to its owner or an admin. */
export const petPhoto = action(PET_ACTIONS.petPhoto, async function (ctx) {
  const { id, photoId } = ctx.params;
  await visiblePet(this, callerOf(ctx), id);
  const found = await photoStoreOf(this).get(photoId);
  if (!found || found.meta.subject.kind !== "pet" || found.meta.subject.id !== id) {
    throw notFound("Photo");
  }
  return photoBytes(found);
});
