import sharp from "sharp";
import type { BookingEntity, PetEntity, PhotoEntity } from "../../contracts";
import { distanceKm } from "../../domain/geo";
import { pricingPolicy } from "../../domain/pricing";
import { runtimeOf } from "../../lib/runtime";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
interface Refusal {
  message: string;
  data: { field: string; message: string }[];
}

/** A day `days` from today (negative: ago), as certificates state it. */
const dayFrom = (days: number) =>
  new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

const VALID_RABIES = { kind: "rabies", given_on: dayFrom(-100), expires_on: dayFrom(265) };
const EXPIRED_RABIES = { kind: "rabies", given_on: dayFrom(-500), expires_on: dayFrom(-135) };

const REX = { name: "Rex", species: "dog", weight_kg: 30, crate_size: "xlarge" };
const MIA = { name: "Mia", species: "cat", weight_kg: 4.2, crate_size: "small" };

const TRIP = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.25, lng: 106.85 } };

/** A pet as a booking keeps it: the profile without the owner's records. */
const asBooked = (pet: PetEntity) => ({
  pet_id: pet.pet_id,
  name: pet.name,
  species: pet.species,
  breed: pet.breed,
  weight_kg: pet.weight_kg,
  crate_size: pet.crate_size,
  temperament: pet.temperament,
  care_notes: pet.care_notes,
});

/** Pet profiles through the public API, embedded (one process, in-process bus). */
describeWithInfra(["mongo"], "pet profiles and bookings of pets, embedded", (infra) => {
  let system: System;
  let owner: string;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    owner = system.token("owner", "owner-pets");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const addPet = (body: object, token = owner) =>
    system.api<PetEntity>("POST", "/api/pets", { token, body });
  const myPets = (token = owner) => system.api<Page<PetEntity>>("GET", "/api/pets", { token });

  it("creates, lists (newest first), reads, updates and deletes a pet", async () => {
    const token = system.token("owner", "owner-crud");
    const first = await addPet({ ...MIA, vaccinations: [VALID_RABIES] }, token);
    expect(first.status).toEqual(201);
    expect(first.headers.get("location")).toEqual(`/api/pets/${first.body.pet_id}`);
    expect(first.body).toEqual({
      pet_id: expect.any(String) as string,
      owner_id: "owner-crud",
      ...MIA,
      breed: null,
      temperament: null,
      care_notes: null,
      vaccinations: [{ ...VALID_RABIES, photo_id: null }],
      created_at: first.body.created_at,
      updated_at: first.body.created_at,
    });
    const second = await addPet(
      { ...REX, breed: "Kintamani", care_notes: "Fed at 7 and 19" },
      token,
    );
    expect(second.status).toEqual(201);

    const list = await myPets(token);
    expect([list.status, list.body.items.map((pet) => pet.name)]).toEqual([200, ["Rex", "Mia"]]);
    const read = await system.api<PetEntity>("GET", `/api/pets/${first.body.pet_id}`, { token });
    expect([read.status, read.body]).toEqual([200, first.body]);

    const updated = await system.api<PetEntity>("PATCH", `/api/pets/${second.body.pet_id}`, {
      token,
      body: { weight_kg: 31.5, temperament: "Pulls on the lead", care_notes: "" },
    });
    expect(updated.status).toEqual(200);
    expect(updated.body).toEqual({
      ...second.body,
      weight_kg: 31.5,
      temperament: "Pulls on the lead",
      care_notes: null,
      updated_at: updated.body.updated_at,
    });

    const deleted = await system.api("DELETE", `/api/pets/${second.body.pet_id}`, { token });
    expect([deleted.status, deleted.body]).toEqual([
      200,
      { deleted: true, id: second.body.pet_id },
    ]);
    const gone = await system.api("GET", `/api/pets/${second.body.pet_id}`, { token });
    expect(gone.status).toEqual(404);
    expect((await myPets(token)).body.items.map((pet) => pet.pet_id)).toEqual([first.body.pet_id]);
  });

  it("refuses bad input with 422 naming the field, and keeps nothing of it", async () => {
    const token = system.token("owner", "owner-bad-input");
    const refusals = await Promise.all(
      [
        { ...REX, weight_kg: -3 },
        { ...REX, species: "dragon" },
        { ...REX, vaccinations: [{ ...VALID_RABIES, given_on: dayFrom(3) }] },
        { ...REX, colour: "brown" },
      ].map((body) => addPet(body, token) as Promise<{ status: number; body: unknown }>),
    );
    expect(
      refusals.map(({ status, body }) => [
        status,
        (body as Refusal).data.map((problem) => problem.field),
      ]),
    ).toEqual([
      [422, ["weight_kg"]],
      [422, ["species"]],
      [422, ["vaccinations.0.given_on"]],
      [422, ["(body)"]],
    ]);
    expect((await myPets(token)).body.items).toEqual([]);

    const pet = await addPet(REX, token);
    const badPatch = await system.api<Refusal>("PATCH", `/api/pets/${pet.body.pet_id}`, {
      token,
      body: { weight_kg: 0 },
    });
    const badVaccination = await system.api<Refusal>(
      "POST",
      `/api/pets/${pet.body.pet_id}/vaccinations`,
      { token, body: { ...VALID_RABIES, expires_on: VALID_RABIES.given_on } },
    );
    expect([badPatch.status, badVaccination.status]).toEqual([422, 422]);
    expect(badVaccination.body.data).toEqual([
      { field: "expires_on", message: "must be after given_on", type: "custom" },
    ]);
    const after = await system.api<PetEntity>("GET", `/api/pets/${pet.body.pet_id}`, { token });
    expect(after.body).toEqual(pet.body);
  });

  it("hides another owner's pet (404) and refuses it in a booking (422)", async () => {
    const pet = await addPet(MIA, system.token("owner", "owner-someone-else"));
    const intruder = system.token("owner", "owner-intruder");
    const answers = await Promise.all([
      system.api("GET", `/api/pets/${pet.body.pet_id}`, { token: intruder }),
      system.api("PATCH", `/api/pets/${pet.body.pet_id}`, {
        token: intruder,
        body: { name: "Mine now" },
      }),
      system.api("DELETE", `/api/pets/${pet.body.pet_id}`, { token: intruder }),
      system.api("POST", `/api/pets/${pet.body.pet_id}/vaccinations`, {
        token: intruder,
        body: VALID_RABIES,
      }),
      // An admin sees it; a runner may not ask.
      system.api("GET", `/api/pets/${pet.body.pet_id}`, { token: system.token("admin", "ops") }),
      system.api("GET", `/api/pets/${pet.body.pet_id}`, { token: system.token("runner", "r1") }),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404, 404, 200, 403]);
    const booking = await system.api<Refusal>("POST", "/api/bookings", {
      token: intruder,
      body: { ...TRIP, pet_ids: [pet.body.pet_id] },
    });
    expect([booking.status, booking.body.data]).toEqual([
      422,
      [{ field: "pet_ids.0", message: "no such pet", type: "custom" }],
    ]);
    const mine = await system.api<PetEntity>("GET", `/api/pets/${pet.body.pet_id}`, {
      token: system.token("owner", "owner-someone-else"),
    });
    expect(mine.body).toEqual(pet.body);
  });

  it("books two pets: priced by the policy, shown on the booking, carried by booking.requested", async () => {
    const rex = await addPet({ ...REX, vaccinations: [VALID_RABIES] });
    const mia = await addPet({ ...MIA, vaccinations: [VALID_RABIES] });
    const created = await system.api<BookingEntity>("POST", "/api/bookings", {
      token: owner,
      body: { ...TRIP, pet_ids: [rex.body.pet_id, mia.body.pet_id], notes: "Two crates" },
    });
    expect(created.status).toEqual(201);

    const policy = pricingPolicy(system.config.pricing);
    const bands = (kg: number) =>
      (policy.weightSurcharges ?? [])
        .filter((band) => kg > band.overKg)
        .reduce((sum, band) => sum + band.cents, 0);
    // Rex (30 kg) passes every default weight band; Mia (4.2 kg) none.
    expect([bands(30), bands(4.2)]).toEqual([1_500_000, 0]);
    expect(created.body.estimated_price_cents).toEqual(
      policy.baseFareCents +
        Math.round(distanceKm(TRIP.pickup, TRIP.dropoff) * policy.perKmCents) +
        (policy.surchargeCents.dog + bands(30)) +
        policy.surchargeCents.cat +
        (policy.extraPetCents ?? 0),
    );
    const rexId = rex.body.pet_id;
    const miaId = mia.body.pet_id;
    expect(created.body).toEqual(
      expect.objectContaining({
        pet_type: "dog",
        pet_name: "Rex & Mia",
        pets: [asBooked(rex.body), asBooked(mia.body)],
        needs: { species: ["dog", "cat"], crate_size: "xlarge", count: 2, needs_ac: false },
      }),
    );

    // The booking keeps its copy: editing and deleting the pets moves nothing on it.
    await system.api("PATCH", `/api/pets/${rexId}`, { token: owner, body: { weight_kg: 8 } });
    await system.api("DELETE", `/api/pets/${miaId}`, { token: owner });
    const read = await system.api<BookingEntity>(
      "GET",
      `/api/bookings/${created.body.booking_id}`,
      {
        token: owner,
      },
    );
    expect([read.body.pets, read.body.needs, read.body.estimated_price_cents]).toEqual([
      created.body.pets,
      created.body.needs,
      created.body.estimated_price_cents,
    ]);

    const requested = await eventually(async () => {
      const records = await runtimeOf(system.brokers[0]).bus.readTopic("booking.events");
      const record = records.find(
        (r) => r.value.includes(created.body.booking_id) && r.value.includes("booking.requested"),
      );
      return record ? (JSON.parse(record.value) as { data: Record<string, unknown> }) : undefined;
    });
    expect(requested.data).toEqual(
      expect.objectContaining({
        pet_type: "dog",
        pet_name: "Rex & Mia",
        pet_count: 2,
        species: ["dog", "cat"],
        crate_size: "xlarge",
        needs_ac: false,
        estimated_price_cents: created.body.estimated_price_cents,
      }),
    );
  });

  it("refuses a pet whose rabies vaccination expired, naming both, and stores no booking", async () => {
    const token = system.token("owner", "owner-expired");
    const rex = await addPet({ ...REX, vaccinations: [EXPIRED_RABIES] }, token);
    const tweety = await addPet(
      { name: "Tweety", species: "bird", weight_kg: 0.1, crate_size: "small" },
      token,
    );
    const refused = await system.api<Refusal>("POST", "/api/bookings", {
      token,
      body: { ...TRIP, pet_ids: [tweety.body.pet_id, rex.body.pet_id] },
    });
    expect([refused.status, refused.body.data]).toEqual([
      422,
      [
        {
          field: "pet_ids.1",
          message: `Rex: rabies vaccination expires ${EXPIRED_RABIES.expires_on}, before the pickup`,
          type: "custom",
        },
      ],
    ]);
    const none = await system.api<Page<BookingEntity>>("GET", "/api/bookings", { token });
    expect(none.body.items).toEqual([]);

    // A new certificate (with its photo's id unknown: refused) makes the booking possible.
    const unknownPhoto = await system.api<Refusal>(
      "POST",
      `/api/pets/${rex.body.pet_id}/vaccinations`,
      { token, body: { ...VALID_RABIES, photo_id: "no-such-photo" } },
    );
    expect([unknownPhoto.status, unknownPhoto.body.data]).toEqual([
      422,
      [{ field: "photo_id", message: "no such photo of this pet", type: "custom" }],
    ]);
    const renewed = await system.api<PetEntity>(
      "POST",
      `/api/pets/${rex.body.pet_id}/vaccinations`,
      {
        token,
        body: VALID_RABIES,
      },
    );
    expect([renewed.status, renewed.body.vaccinations]).toEqual([
      201,
      [{ ...VALID_RABIES, photo_id: null }],
    ]);
    const booked = await system.api<BookingEntity>("POST", "/api/bookings", {
      token,
      body: { ...TRIP, pet_ids: [tweety.body.pet_id, rex.body.pet_id] },
    });
    expect([booked.status, booked.body.pet_name, booked.body.pet_type]).toEqual([
      201,
      "Tweety & Rex",
      "bird",
    ]);
  });

  it("answers a repeated Idempotency-Key with the same pet or booking, and another request with 409", async () => {
    const token = system.token("owner", "owner-retry");
    const rex = await addPet({ ...REX, vaccinations: [VALID_RABIES] }, token);
    const mia = await addPet({ ...MIA, vaccinations: [VALID_RABIES] }, token);
    const send = (pet_ids: string[]) =>
      system.api<BookingEntity>("POST", "/api/bookings", {
        token,
        body: { ...TRIP, pet_ids },
        headers: { "idempotency-key": "pets-retry-1" },
      });
    // A pet's profile too: a retry with its key gets the pet the first try made.
    const addKeyed = (name: string) =>
      system.api<PetEntity>("POST", "/api/pets", {
        token,
        body: { ...MIA, name },
        headers: { "idempotency-key": "pets-retry-pet" },
      });
    const pet = await addKeyed("Bo");
    const petAgain = await addKeyed("Bo");
    const petOther = await addKeyed("Coco");
    expect([pet.status, petAgain.status, petAgain.body, petOther.status]).toEqual([
      201,
      200,
      pet.body,
      409,
    ]);

    const first = await send([rex.body.pet_id]);
    const again = await send([rex.body.pet_id]);
    const other = await send([rex.body.pet_id, mia.body.pet_id]);
    expect([first.status, again.status, again.body.booking_id, other.status]).toEqual([
      201,
      200,
      first.body.booking_id,
      409,
    ]);
  });

  it("keeps a photo of the pet's record (real JPEG bytes) and serves it to its owner only", async () => {
    const token = system.token("owner", "owner-photo");
    const rex = await addPet({ ...REX, vaccinations: [VALID_RABIES] }, token);
    const jpeg = await sharp({
      create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 30 } },
    })
      .jpeg()
      .toBuffer();
    const upload = (token: string) =>
      fetch(`${system.url}/api/pets/${rex.body.pet_id}/photos`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "image/jpeg" },
        body: jpeg,
      });
    const stranger = await upload(system.token("owner", "owner-photo-stranger"));
    expect(stranger.status).toEqual(404);
    const uploaded = await upload(token);
    expect(uploaded.status).toEqual(201);
    const photo = (await uploaded.json()) as PhotoEntity;
    expect(photo).toEqual(
      expect.objectContaining({ content_type: "image/jpeg", width: 64, height: 48 }),
    );

    const vaccinated = await system.api<PetEntity>(
      "POST",
      `/api/pets/${rex.body.pet_id}/vaccinations`,
      { token, body: { ...VALID_RABIES, photo_id: photo.photo_id } },
    );
    expect(vaccinated.body.vaccinations).toEqual([{ ...VALID_RABIES, photo_id: photo.photo_id }]);

    const path = `/api/pets/${rex.body.pet_id}/photos/${photo.photo_id}`;
    const served = await fetch(system.url + path, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect([served.status, served.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    const decoded = await sharp(Buffer.from(await served.arrayBuffer())).metadata();
    expect([decoded.format, decoded.width, decoded.height]).toEqual(["jpeg", 64, 48]);
    const others = await Promise.all([
      system.api("GET", path, { token: system.token("owner", "owner-photo-stranger") }),
      system.api("GET", `/api/pets/${rex.body.pet_id}/photos/not-a-photo`, { token }),
    ]);
    expect(others.map((answer) => answer.status)).toEqual([404, 404]);
  });
});

/** Where QUICK_BOOKING=false, a booking must name pet profiles. */
describeWithInfra(
  ["mongo"],
  "bookings without pet profiles refused (QUICK_BOOKING=false)",
  (infra) => {
    let system: System;

    beforeAll(async () => {
      system = await startSystem({
        infra: { mongo: infra.mongo },
        env: { QUICK_BOOKING: "false" },
      });
    });
    afterAll(async () => {
      await system?.stop();
    });

    it("refuses the quick form with 422 and takes pet_ids", async () => {
      const token = system.token("owner", "owner-profiles-only");
      const quick = await system.api<Refusal>("POST", "/api/bookings", {
        token,
        body: { ...TRIP, pet_type: "cat", pet_name: "Mia" },
      });
      expect([quick.status, quick.body.data]).toEqual([
        422,
        [
          {
            field: "pet_type",
            message: "book with pet_ids: this service needs pet profiles",
            type: "custom",
          },
        ],
      ]);
      const none = await system.api<Page<BookingEntity>>("GET", "/api/bookings", { token });
      expect(none.body.items).toEqual([]);
      const mia = await system.api<PetEntity>("POST", "/api/pets", {
        token,
        body: { ...MIA, vaccinations: [VALID_RABIES] },
      });
      const booked = await system.api<BookingEntity>("POST", "/api/bookings", {
        token,
        body: { ...TRIP, pet_ids: [mia.body.pet_id] },
      });
      expect([booked.status, booked.body.pet_name, booked.body.needs]).toEqual([
        201,
        "Mia",
        { species: ["cat"], crate_size: "small", count: 1, needs_ac: false },
      ]);
    });
  },
);
