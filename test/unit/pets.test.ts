import { PETS, PRICING, type PetType } from "../../config/defaults";
import { CreateBookingParams, CreatePetParams, VaccinateParams } from "../../contracts";
import {
  bookingNameOf,
  bookingPetOf,
  needsOf,
  vaccinationProblems,
  type Pet,
  type Vaccination,
} from "../../domain/pets";
import { distanceKm } from "../../domain/geo";
import { DEFAULT_PRICING, estimatePrice, pricingPolicy } from "../../domain/pricing";
import { fieldProblems } from "../../lib/zod-validator";

const day = (iso: string) => new Date(`${iso}T00:00:00.000Z`);

const rabies = (given: string, expires: string): Vaccination => ({
  kind: "rabies",
  given_on: day(given),
  expires_on: day(expires),
  photo_id: null,
});

const pet = (name: string, species: PetType, vaccinations: Vaccination[] = []) => ({
  name,
  species,
  vaccinations,
});

const REQUIRED = PETS.requiredVaccinations;
const PICKUP = new Date("2026-06-01T09:30:00.000Z");

describe("vaccinationProblems", () => {
  it("given a dog whose rabies vaccination holds at the pickup, then none", () => {
    expect(
      vaccinationProblems(
        [pet("Rex", "dog", [rabies("2025-06-01", "2027-06-01")])],
        REQUIRED,
        PICKUP,
      ),
    ).toEqual([]);
  });

  it("given a dog without a rabies vaccination, then the dog and the kind are named", () => {
    expect(vaccinationProblems([pet("Rex", "dog")], REQUIRED, PICKUP)).toEqual([
      { index: 0, kind: "rabies", message: "Rex: no rabies vaccination on record" },
    ]);
  });

  it("given a vaccination of another kind only, then the required kind is missing", () => {
    const other = { ...rabies("2025-06-01", "2027-06-01"), kind: "distemper" };
    expect(vaccinationProblems([pet("Rex", "dog", [other])], REQUIRED, PICKUP)).toEqual([
      { index: 0, kind: "rabies", message: "Rex: no rabies vaccination on record" },
    ]);
  });

  it("given a rabies vaccination that expired before the pickup, then its expiry is named", () => {
    expect(
      vaccinationProblems(
        [pet("Rex", "dog", [rabies("2024-05-01", "2025-05-01")])],
        REQUIRED,
        PICKUP,
      ),
    ).toEqual([
      {
        index: 0,
        kind: "rabies",
        message: "Rex: rabies vaccination expires 2025-05-01, before the pickup",
      },
    ]);
  });

  it("given an expiry exactly at the pickup, then it no longer holds; a moment later, it does", () => {
    const expiring = (expires: Date): Vaccination => ({
      ...rabies("2025-06-01", "2026-06-01"),
      expires_on: expires,
    });
    expect(vaccinationProblems([pet("Rex", "dog", [expiring(PICKUP)])], REQUIRED, PICKUP)).toEqual([
      {
        index: 0,
        kind: "rabies",
        message: "Rex: rabies vaccination expires 2026-06-01, before the pickup",
      },
    ]);
    const later = new Date(PICKUP.getTime() + 1);
    expect(vaccinationProblems([pet("Rex", "dog", [expiring(later)])], REQUIRED, PICKUP)).toEqual(
      [],
    );
  });

  it("given a certificate expiring on the pickup's day, then it is refused (it expires as the day starts)", () => {
    expect(
      vaccinationProblems(
        [pet("Rex", "dog", [rabies("2025-06-01", "2026-06-01")])],
        REQUIRED,
        PICKUP,
      ),
    ).toHaveLength(1);
  });

  it("given an expired and a renewed vaccination, then the renewed one counts", () => {
    const record = [
      rabies("2024-05-01", "2025-05-01"),
      rabies("2025-05-01", "2026-05-01"),
      rabies("2026-04-20", "2027-04-20"),
    ];
    expect(vaccinationProblems([pet("Rex", "dog", record)], REQUIRED, PICKUP)).toEqual([]);
  });

  it("given a vaccination given only after the pickup, then it does not count yet", () => {
    expect(
      vaccinationProblems(
        [pet("Rex", "dog", [rabies("2026-07-01", "2027-07-01")])],
        REQUIRED,
        PICKUP,
      ),
    ).toEqual([
      {
        index: 0,
        kind: "rabies",
        message: "Rex: rabies vaccination given 2026-07-01, after the pickup",
      },
    ]);
  });

  it("given species that require nothing, then a bird and a rabbit without records pass", () => {
    expect(
      vaccinationProblems([pet("Tweety", "bird"), pet("Bun", "rabbit")], REQUIRED, PICKUP),
    ).toEqual([]);
  });

  it("given several pets and kinds, then each problem names its pet's place and kind", () => {
    const required = { ...REQUIRED, cat: ["rabies", "fvrcp"] };
    const pets = [
      pet("Rex", "dog", [rabies("2025-06-01", "2027-06-01")]),
      pet("Tweety", "bird"),
      pet("Mia", "cat", [rabies("2025-06-01", "2026-01-01")]),
    ];
    expect(vaccinationProblems(pets, required, PICKUP)).toEqual([
      {
        index: 2,
        kind: "rabies",
        message: "Mia: rabies vaccination expires 2026-01-01, before the pickup",
      },
      { index: 2, kind: "fvrcp", message: "Mia: no fvrcp vaccination on record" },
    ]);
  });

  it("given a later pickup, then the same record is judged at that date", () => {
    const record = [pet("Rex", "dog", [rabies("2025-06-01", "2026-12-01")])];
    expect(vaccinationProblems(record, REQUIRED, PICKUP)).toEqual([]);
    expect(vaccinationProblems(record, REQUIRED, new Date("2026-12-24T08:00:00Z"))).toEqual([
      {
        index: 0,
        kind: "rabies",
        message: "Rex: rabies vaccination expires 2026-12-01, before the pickup",
      },
    ]);
  });
});

describe("needsOf", () => {
  it("given pets, then their species once each, the largest crate, the count and no AC", () => {
    expect(
      needsOf(
        [
          { species: "dog", crate_size: "medium" },
          { species: "cat", crate_size: "small" },
          { species: "dog", crate_size: "xlarge" },
        ],
        [],
      ),
    ).toEqual({ species: ["dog", "cat"], crate_size: "xlarge", count: 3, needs_ac: false });
  });

  it("given a species that travels only with air conditioning among them, then AC is needed", () => {
    expect(
      needsOf(
        [
          { species: "dog", crate_size: "large" },
          { species: "rabbit", crate_size: "small" },
        ],
        ["rabbit"],
      ),
    ).toEqual({ species: ["dog", "rabbit"], crate_size: "large", count: 2, needs_ac: true });
  });

  it("given a pet by type alone, then the crate is not known", () => {
    expect(needsOf([{ species: "cat", crate_size: null }], [])).toEqual({
      species: ["cat"],
      crate_size: null,
      count: 1,
      needs_ac: false,
    });
  });
});

describe("bookingNameOf", () => {
  const named = (...names: string[]) =>
    bookingNameOf(names.map((name, i) => ({ name, species: i === 0 ? "cat" : "dog" })));

  it("given one, two and three pets, then 'Rex', 'Rex & Mia', 'Rex, Mia & Bo'; the first one's species", () => {
    expect(named("Rex")).toEqual({ pet_name: "Rex", pet_type: "cat" });
    expect(named("Rex", "Mia")).toEqual({ pet_name: "Rex & Mia", pet_type: "cat" });
    expect(named("Rex", "Mia", "Bo")).toEqual({ pet_name: "Rex, Mia & Bo", pet_type: "cat" });
  });

  it("given names too long together, then the last ones are counted instead, within 80 characters", () => {
    const long = "A".repeat(34);
    const name = named(long, "B".repeat(34), "C".repeat(34)).pet_name;
    expect(name).toEqual(`${long}, ${"B".repeat(34)} & 1 more`);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(named("D".repeat(70), "E".repeat(70)).pet_name).toEqual(`${"D".repeat(70)} & 1 more`);
  });

  it("given a first name too long even alone, then it is cut with an ellipsis, never inside a character", () => {
    const name = named("😺".repeat(40), "Mia").pet_name;
    expect(name).toEqual(`${"😺".repeat(35)}… & 1 more`);
    expect(name.length).toBeLessThanOrEqual(80);
  });

  it("given no pets, then it refuses", () => {
    expect(() => bookingNameOf([])).toThrow(RangeError);
  });
});

describe("bookingPetOf", () => {
  it("keeps the profile, without the owner's records", () => {
    const profile: Pet = {
      _id: "p1",
      owner_id: "o1",
      name: "Rex",
      species: "dog",
      breed: "Kintamani",
      weight_kg: 18.5,
      crate_size: "large",
      temperament: "shy with men",
      care_notes: null,
      vaccinations: [rabies("2025-06-01", "2027-06-01")],
      created_at: PICKUP,
      updated_at: PICKUP,
    };
    expect(bookingPetOf(profile)).toEqual({
      pet_id: "p1",
      name: "Rex",
      species: "dog",
      breed: "Kintamani",
      weight_kg: 18.5,
      crate_size: "large",
      temperament: "shy with men",
      care_notes: null,
    });
  });
});

describe("estimatePrice with pets", () => {
  const pickup = { lat: 0, lng: 0 };
  const dropoff = { lat: 10 / 111.19508, lng: 0 }; // 10.000 km north
  const trip = DEFAULT_PRICING.baseFareCents + 10 * DEFAULT_PRICING.perKmCents;
  const { dog, cat } = DEFAULT_PRICING.surchargeCents;

  it("given a pet type alone, then the quick form's figure: base + km + its surcharge", () => {
    expect(estimatePrice(pickup, dropoff, "dog").amountCents).toEqual(trip + dog);
    expect(estimatePrice(pickup, dropoff, [{ species: "dog", weight_kg: null }])).toEqual(
      estimatePrice(pickup, dropoff, "dog"),
    );
  });

  it("given a light dog, then no weight band: the same as the quick form", () => {
    expect(estimatePrice(pickup, dropoff, [{ species: "dog", weight_kg: 8 }]).amountCents).toEqual(
      trip + dog,
    );
  });

  it("given a weight exactly on a band's edge, then not over it; past two bands, then both", () => {
    const [over10, over25] = PETS.weightSurcharges;
    expect(estimatePrice(pickup, dropoff, [{ species: "dog", weight_kg: 10 }]).amountCents).toEqual(
      trip + dog,
    );
    expect(
      estimatePrice(pickup, dropoff, [{ species: "dog", weight_kg: 10.1 }]).amountCents,
    ).toEqual(trip + dog + over10.cents);
    expect(estimatePrice(pickup, dropoff, [{ species: "dog", weight_kg: 30 }]).amountCents).toEqual(
      trip + dog + over10.cents + over25.cents,
    );
  });

  it("given three pets, then each one's surcharges and the extra-pet charge for two of them", () => {
    const pets = [
      { species: "dog" as const, weight_kg: 30 },
      { species: "cat" as const, weight_kg: 4 },
      { species: "dog" as const, weight_kg: 12 },
    ];
    const bands = PETS.weightSurcharges.reduce((sum, band) => sum + band.cents, 0);
    expect(estimatePrice(pickup, dropoff, pets)).toEqual({
      distanceKm: 10,
      amountCents:
        trip +
        (dog + bands) +
        cat +
        (dog + PETS.weightSurcharges[0].cents) +
        2 * PETS.extraPetCents,
      currency: "IDR",
    });
  });

  it("given a configured policy, then its extra-pet charge and bands, in integer minor units", () => {
    const policy = pricingPolicy({
      currency: "SGD",
      baseFareCents: 500,
      perKmCents: 133,
      surchargeCents: { cat: 100 },
      extraPetCents: 70,
      weightSurcharges: [{ overKg: 5, cents: 40 }],
    });
    const price = estimatePrice(
      { lat: 1.3, lng: 103.8 },
      { lat: 1.35, lng: 103.85 },
      [
        { species: "cat", weight_kg: 6 },
        { species: "cat", weight_kg: 3 },
      ],
      policy,
    );
    expect(price.amountCents).toEqual(
      500 +
        Math.round(distanceKm({ lat: 1.3, lng: 103.8 }, { lat: 1.35, lng: 103.85 }) * 133) +
        (100 + 40) +
        100 +
        70,
    );
  });
});

describe("pricingPolicy", () => {
  it("given no pet-count or weight settings, then the defaults of config/defaults.ts", () => {
    const policy = pricingPolicy({ ...PRICING, surchargeCents: {} });
    expect([policy.extraPetCents, policy.weightSurcharges]).toEqual([
      PETS.extraPetCents,
      PETS.weightSurcharges,
    ]);
  });
});

describe("the pet contracts", () => {
  const problems = (result: { success: boolean; error?: Parameters<typeof fieldProblems>[0] }) =>
    result.error
      ? fieldProblems(result.error).map(({ field, message }) => `${field}: ${message}`)
      : [];
  const rex = { name: "Rex", species: "dog", weight_kg: 18, crate_size: "large" };

  it("given a pet with a vaccination, then the kind is lowercased and '' clears a note", () => {
    const parsed = CreatePetParams.parse({
      ...rex,
      breed: "",
      vaccinations: [{ kind: " Rabies ", given_on: "2025-06-01", expires_on: "2026-06-01" }],
    });
    expect([parsed.breed, parsed.vaccinations]).toEqual([
      null,
      [{ kind: "rabies", given_on: "2025-06-01", expires_on: "2026-06-01" }],
    ]);
  });

  it("given bad profiles, then each field is named", () => {
    expect(problems(CreatePetParams.safeParse({ ...rex, weight_kg: -2 }))).toEqual([
      "weight_kg: Too small: expected number to be >0",
    ]);
    expect(problems(CreatePetParams.safeParse({ ...rex, weight_kg: 101 }))).toEqual([
      "weight_kg: Too big: expected number to be <=100",
    ]);
    expect(problems(CreatePetParams.safeParse({ ...rex, species: "dragon" }))).toEqual([
      'species: Invalid option: expected one of "dog"|"cat"|"bird"|"rabbit"|"other"',
    ]);
    expect(problems(CreatePetParams.safeParse({ ...rex, colour: "brown" }))).toEqual([
      '(body): Unrecognized key: "colour"',
    ]);
  });

  it("given bad vaccination dates, then the future, the order and the form are refused", () => {
    const vaccinate = (given_on: string, expires_on: string, kind = "rabies") =>
      problems(VaccinateParams.safeParse({ id: "p1", kind, given_on, expires_on }));
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    expect(vaccinate(future, "2099-01-01")).toEqual(["given_on: must not be in the future"]);
    expect(vaccinate("2025-06-01", "2025-06-01")).toEqual(["expires_on: must be after given_on"]);
    expect(vaccinate("2025-02-30", "2026-01-01")).toEqual([
      "given_on: expected a date as YYYY-MM-DD",
    ]);
    expect(vaccinate("2025-06-01", "2026-06-01", "rabies shot")).toEqual([
      "kind: expected one lowercase word such as rabies",
    ]);
  });

  it("given a booking, then pet_ids or the quick form, exactly one, each id once", () => {
    const trip = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.21, lng: 106.8 } };
    expect(CreateBookingParams.parse({ ...trip, pet_ids: ["a", "b"] })).toEqual({
      ...trip,
      pet_ids: ["a", "b"],
    });
    expect(problems(CreateBookingParams.safeParse({ ...trip, pet_ids: ["a", "a"] }))).toEqual([
      "pet_ids.1: named twice",
    ]);
    expect(
      problems(CreateBookingParams.safeParse({ ...trip, pet_ids: ["a"], pet_type: "dog" })),
    ).toEqual(["pet_type: not with pet_ids"]);
    expect(problems(CreateBookingParams.safeParse(trip))).toEqual([
      "pet_type: required, unless the booking names pet_ids",
      "pet_name: required, unless the booking names pet_ids",
    ]);
  });
});
