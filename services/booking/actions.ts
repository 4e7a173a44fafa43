import { createHash, randomBytes, randomInt, randomUUID } from "node:crypto";
import { z } from "zod";
import type { PetType } from "../../config/defaults";
import { BOOKING_ACTIONS, type BookingEntity, type CreateBookingRequest } from "../../contracts";
import { bookingsListedFor, maySeeBooking } from "../../domain/access";
import { decide, type BookingRequest } from "../../domain/booking";
import type { User } from "../../domain/access";
import type { LatLng } from "../../domain/geo";
import { bookingNumber } from "../../domain/booking-number";
import {
  bookingNameOf,
  bookingPetOf,
  needsOf,
  vaccinationProblems,
  type BookingPet,
} from "../../domain/pets";
import { estimatePrice, pricingPolicy } from "../../domain/pricing";
import { pickupProblem } from "../../domain/schedule";
import { tripProblems } from "../../domain/service-area";
import { actionsOf, callerOf, clientError, notFound, orThrow } from "../../lib/action";
import { PAGE_SORT, afterCursor, toPage } from "../../lib/pagination";
import { runtimeOf } from "../../lib/runtime";
import { fieldError, validationError } from "../../lib/zod-validator";
import type { BookingDoc } from "../../models/booking.model";
import type { PetDoc } from "../../models/pet.model";
import { bookingsOf, toEntity, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/**
 * Owner books a runner for their pets (`pet_ids`), or for one pet by type and name where
 * QUICK_BOOKING allows: stores the booking and `booking.requested` in one write. With an
 * `Idempotency-Key` the booking's id follows from the owner and the key, so an app that retries
 * after a timeout gets the booking its first try made (200), not a second one.
 */
export const create = action(BOOKING_ACTIONS.create, async function (ctx) {
  const owner = callerOf(ctx);
  const params = ctx.params;
  const { serviceArea, pets: petRules } = runtimeOf(this.broker).config;
  if (!("pet_ids" in params) && !petRules.quickBooking) {
    throw fieldError("pet_type", "book with pet_ids: this service needs pet profiles");
  }
  refuse(
    tripProblems(serviceArea, params.pickup, params.dropoff).map(({ field, message }) => ({
      path: [field],
      message,
    })),
  );
  const key = ctx.meta.idempotencyKey;
  const id = key ? keyedId(owner, key) : randomUUID();
  // A retry answers as its first try did, even once a pickup "now" has passed.
  if (key) {
    const earlier = await bookingsOf(this).load(id);
    if (earlier) return repeated(earlier, params, owner);
  }
  const pickupAt = params.pickup_at ? new Date(params.pickup_at) : null;
  const at = new Date();
  const late = pickupAt && pickupProblem(pickupAt, at, runtimeOf(this.broker).config.schedule);
  if (late) refuse([{ path: ["pickup_at"], message: late }]);
  const { pricing, paymentTimeoutMs, handover } = runtimeOf(this.broker).config;
  // Its pets must be fit to travel at the pickup: when it is asked for, else now.
  const { request, priced } = await requestOf(this, owner, params, pickupAt ?? at);
  const price = estimatePrice(params.pickup, params.dropoff, priced, pricingPolicy(pricing));
  // A fresh id: nothing to load first. A booking-number collision (1 in ~1e9 per day) is a lost
  // race: the next try, a new number.
  const outcome = await bookingsOf(this).execute(
    id,
    decide,
    () => ({
      type: "request" as const,
      id,
      booking_number: bookingNumber(at, randomBytes),
      owner,
      request,
      price,
      at,
      paymentTimeoutMs,
      handover_pin: drawPin(handover.pinDigits),
    }),
    { retries: 2, known: null },
  );
  // The same key sent twice at once: the other request made it.
  const raced = !outcome.ok && key ? await bookingsOf(this).load(id) : null;
  if (raced) return repeated(raced, params, owner);
  const booking = orThrow(outcome);
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/bookings/${id}`;
  return toEntity(booking, owner);
});

/**
 * What the owner asks to have carried, and what the price counts: the pets `pet_ids` names, as
 * their profiles are now, or one pet by type and name alone (its weight and crate unknown).
 */
async function requestOf(
  service: BookingThis,
  owner: User,
  params: CreateBookingRequest,
  pickupAt: Date,
): Promise<{ request: BookingRequest; priced: PetType | BookingPet[] }> {
  const { pickup, dropoff, notes } = params;
  const pickup_at = params.pickup_at ? new Date(params.pickup_at) : null;
  const { acRequiredSpecies } = runtimeOf(service.broker).config.pets;
  if (!("pet_ids" in params)) {
    const { pet_type, pet_name } = params;
    const needs = needsOf([{ species: pet_type, crate_size: null }], acRequiredSpecies);
    return {
      request: { pet_type, pet_name, pickup, dropoff, notes, pets: [], needs, pickup_at },
      priced: pet_type,
    };
  }
  const pets = (await ownPets(service, owner, params.pet_ids, pickupAt)).map(bookingPetOf);
  const needs = needsOf(pets, acRequiredSpecies);
  return {
    request: { ...bookingNameOf(pets), pickup, dropoff, notes, pets, needs, pickup_at },
    priced: pets,
  };
}

/**
 * The caller's pets a booking names, in its order. Refused (422, naming `pet_ids.<n>`): more
 * than MAX_PETS_PER_BOOKING, a pet that is not the caller's, one whose required vaccination is
 * missing or not valid at the pickup.
 */
async function ownPets(
  service: BookingThis,
  owner: User,
  ids: string[],
  pickupAt: Date,
): Promise<PetDoc[]> {
  const { maxPerBooking, requiredVaccinations } = runtimeOf(service.broker).config.pets;
  if (ids.length > maxPerBooking) {
    refuse([{ path: ["pet_ids"], message: `at most ${maxPerBooking} pets per booking` }]);
  }
  const found = await service.models.pets
    .find({ _id: { $in: ids }, owner_id: owner.sub })
    .lean<PetDoc[]>();
  const pets = ids.map((id) => found.find((pet) => pet._id === id));
  refuse(pets.flatMap((pet, i) => (pet ? [] : [{ path: ["pet_ids", i], message: "no such pet" }])));
  const known = pets.filter((pet) => pet !== undefined);
  refuse(
    vaccinationProblems(known, requiredVaccinations, pickupAt).map(({ index, message }) => ({
      path: ["pet_ids", index],
      message,
    })),
  );
  return known;
}

/** The recipient's PIN: `digits` uniformly random digits (leading zeros kept). */
function drawPin(digits: number): string {
  return String(randomInt(0, 10 ** digits)).padStart(digits, "0");
}

/** Input that a later check finds wrong is bad input all the same: a 422 naming each field. */
function refuse(problems: { path: (string | number)[]; message: string }[]) {
  if (problems.length === 0) return;
  throw validationError(
    new z.ZodError(problems.map(({ path, message }) => ({ code: "custom", path, message }))),
  );
}

/** A UUID (version 8: custom) that one owner's key always maps to. */
export function keyedId(owner: User, key: string): string {
  const hex = createHash("sha256").update(`${owner.role}\n${owner.sub}\n${key}`).digest("hex");
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The booking an earlier request with this key made; a key reused for another request is refused. */
function repeated(booking: BookingDoc, params: CreateBookingRequest, owner: User): BookingEntity {
  const booked = (booking.pets ?? []).map((pet) => pet.pet_id);
  const samePets =
    "pet_ids" in params
      ? booked.length === params.pet_ids.length && booked.every((id, i) => id === params.pet_ids[i])
      : booked.length === 0 &&
        booking.pet_type === params.pet_type &&
        booking.pet_name === params.pet_name;
  const same =
    samePets &&
    (booking.notes ?? null) === (params.notes ?? null) &&
    (booking.pickup_at?.getTime() ?? null) ===
      (params.pickup_at ? Date.parse(params.pickup_at) : null) &&
    samePlace(booking.pickup, params.pickup) &&
    samePlace(booking.dropoff, params.dropoff);
  if (!same) {
    throw clientError("CONFLICT", "This Idempotency-Key was used for another booking request");
  }
  return toEntity(booking, owner);
}

const samePlace = (a: LatLng, b: LatLng) => a.lat === b.lat && a.lng === b.lng;

/** One booking, to whoever may see it (404 to anyone else); by id or by its KLT- number. */
export const get = action(BOOKING_ACTIONS.get, async function (ctx) {
  const { id } = ctx.params;
  const doc = id.startsWith("KLT-")
    ? await this.models.bookings.findOne({ booking_number: id }, { outbox: 0 }).lean<BookingDoc>()
    : await bookingsOf(this).load(id);
  const caller = callerOf(ctx);
  if (!doc || !maySeeBooking(caller, doc)) throw notFound("Booking");
  return toEntity(doc, caller);
});

/** The caller's bookings, newest first, `limit` per page. */
export const list = action(BOOKING_ACTIONS.list, async function (ctx) {
  const { status, limit, cursor } = ctx.params;
  const filter = {
    ...bookingsListedFor(callerOf(ctx)),
    ...(status ? { status } : {}),
    ...afterCursor(cursor),
  };
  const rows = await this.models.bookings
    .find(filter, { outbox: 0 })
    .sort(PAGE_SORT)
    .limit(limit + 1)
    .lean<BookingDoc[]>();
  const page = toPage(rows, limit);
  const caller = callerOf(ctx);
  return { items: page.items.map((doc) => toEntity(doc, caller)), next_cursor: page.next_cursor };
});
