import type {
  BookingEntity,
  NotificationEntity,
  OfferEntity,
  PetEntity,
  RunnerEntity,
  VerificationRequestEntity,
} from "../../contracts";
import type { LatLng } from "../../domain/geo";
import { describeWithInfra } from "../support/infra";
import {
  CARRIES_ANYTHING,
  documentJpeg,
  uploadDocument,
  verifiedRunner,
  type RunnerCapabilities,
} from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, heldBookingOf } from "../support/trips";
import { eventually } from "../support/wait";

const KM = 1 / 111.195; // degrees of latitude per km
const north = (point: LatLng, km: number) => ({ lat: point.lat + km * KM, lng: point.lng });

/** A rabies vaccination valid for months yet: dogs and cats travel only with one. */
const RABIES = {
  kind: "rabies",
  given_on: new Date(Date.now() - 100 * 86_400_000).toISOString().slice(0, 10),
  expires_on: new Date(Date.now() + 265 * 86_400_000).toISOString().slice(0, 10),
};

interface Refusal {
  type: string;
  message: string;
  data?: unknown;
}

/**
 * Runners who can carry the pets (issue 23, item 2), through the public API: only verified
 * runners get offers and may accept, dispatch offers a booking only to runners able to carry
 * its pets, and an admin verifies a runner on the documents it uploaded.
 */
describeWithInfra(["mongo"], "runner verification and eligibility, embedded", (infra) => {
  let system: System;
  let admin: string;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    admin = system.token("admin", "ops");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const online = async (token: string, at: LatLng) =>
    expect(
      (await system.api<RunnerEntity>("POST", "/api/runners/me/online", { token, body: at }))
        .status,
    ).toBe(200);
  const offers = async (token: string) =>
    (await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", { token })).body
      .items;
  const offered = (token: string, bookingId: string) =>
    eventually(async () => (await offers(token)).find((offer) => offer.booking_id === bookingId), {
      what: `the offer of ${bookingId}`,
    });
  const accept = (token: string, bookingId: string) =>
    system.api<BookingEntity & Refusal>("POST", `/api/bookings/${bookingId}/accept`, {
      token,
      body: {},
    });
  const statusOf = async (owner: string, bookingId: string) =>
    (await system.api<BookingEntity>("GET", `/api/bookings/${bookingId}`, { token: owner })).body
      .status;
  const me = async (token: string) =>
    (await system.api<RunnerEntity>("GET", "/api/runners/me", { token })).body;
  const ask = (token: string, documents: string[]) =>
    system.api<RunnerEntity & Refusal>("POST", "/api/runners/me/verification", {
      token,
      body: { documents },
    });
  const decide = (token: string, runnerId: string, body: object) =>
    system.api<VerificationRequestEntity & Refusal>(
      "POST",
      `/api/runners/${runnerId}/verification`,
      { token, body },
    );
  const queue = (token: string, query = "") =>
    system.api<{ items: VerificationRequestEntity[] } & Refusal>(
      "GET",
      `/api/runners/verifications${query}`,
      { token },
    );
  const cats: RunnerCapabilities = {
    vehicle_kind: "motorbike",
    crate_capacity: { largest: "medium", pets: 1 },
    species: ["cat"],
    air_conditioning: false,
  };

  it("given an unverified runner nearest a paid booking, the verified one behind it is offered it, and the unverified one's accept is refused (403) and changes nothing", async () => {
    const pickup = { lat: -6.2, lng: 106.8 };
    const unverified = system.token("runner", "rv-unverified");
    const verified = system.token("runner", "rv-verified");
    await verifiedRunner(system, verified);
    await online(unverified, pickup);
    await online(verified, north(pickup, 1));
    const owner = system.token("owner", "rv-owner-1");
    const booking = await heldBooking(system, owner, { pickup, dropoff: north(pickup, 3) });

    const offer = await offered(verified, booking.booking_id);
    expect(offer.needs).toEqual({
      species: ["dog"],
      crate_size: null,
      count: 1,
      needs_ac: false,
    });
    expect(await offers(unverified)).toEqual([]);

    const refused = await accept(unverified, booking.booking_id);
    expect([refused.status, refused.body.type, refused.body.message]).toEqual([
      403,
      "FORBIDDEN",
      "Only verified runners may accept bookings",
    ]);
    expect(await statusOf(owner, booking.booking_id)).toEqual("requested");
    expect((await me(unverified)).availability).toEqual("online");
  });

  it("given a verified runner who carries only cats nearest a dog booking, the runner behind it is offered it, the cat runner's accept is refused (409), and the next cat booking is its", async () => {
    const pickup = { lat: -6.6, lng: 107.3 };
    const catsOnly = system.token("runner", "rv-cats");
    const anything = system.token("runner", "rv-anything");
    await verifiedRunner(system, catsOnly, cats);
    await verifiedRunner(system, anything);
    await online(catsOnly, pickup);
    await online(anything, north(pickup, 2));
    const owner = system.token("owner", "rv-owner-2");
    const dog = await heldBooking(system, owner, {
      pickup,
      dropoff: north(pickup, 3),
      pet_type: "dog",
    });

    await offered(anything, dog.booking_id);
    expect(await offers(catsOnly)).toEqual([]);
    const refused = await accept(catsOnly, dog.booking_id);
    expect([refused.status, refused.body.type, refused.body.message]).toEqual([
      409,
      "CONFLICT",
      "You cannot carry this booking: does not carry dogs",
    ]);
    expect(await statusOf(owner, dog.booking_id)).toEqual("requested");

    // Not able to carry the dog, but free all along: the cat is its.
    const cat = await heldBooking(system, owner, {
      pickup,
      dropoff: north(pickup, 3),
      pet_type: "cat",
      pet_name: "Mochi",
    });
    const offer = await offered(catsOnly, cat.booking_id);
    expect(offer.needs).toEqual({ species: ["cat"], crate_size: null, count: 1, needs_ac: false });
    expect((await accept(catsOnly, cat.booking_id)).status).toBe(200);
  });

  /** The owner's pet profile, vaccinated: its id. */
  const addPet = async (owner: string, pet: object) => {
    const made = await system.api<PetEntity>("POST", "/api/pets", {
      token: owner,
      body: { ...pet, vaccinations: [RABIES] },
    });
    expect(made.status).toBe(201);
    return made.body.pet_id;
  };
  /** The booking as its owner reads it, in the fields an accept would change. */
  const stateOf = async (owner: string, bookingId: string) => {
    const { status, runner_id, payment_status } = (
      await system.api<BookingEntity>("GET", `/api/bookings/${bookingId}`, { token: owner })
    ).body;
    return { status, runner_id, payment_status };
  };

  /**
   * A verified runner nearest the pickup who cannot carry the owner's pets (as their profiles
   * say) is offered nothing and refused (409, the booking as it was); the able runner behind it
   * gets the offer and accepts.
   */
  async function unableNearest(
    name: string,
    at: LatLng,
    can: RunnerCapabilities,
    pets: object[],
    reason: string,
  ) {
    const unable = system.token("runner", `rv-${name}-unable`);
    const able = system.token("runner", `rv-${name}-able`);
    await verifiedRunner(system, unable, can);
    await verifiedRunner(system, able, CARRIES_ANYTHING);
    await online(unable, at);
    await online(able, north(at, 2));
    const owner = system.token("owner", `rv-${name}-owner`);
    const petIds = [];
    for (const pet of pets) petIds.push(await addPet(owner, pet));
    const booking = await heldBookingOf(system, owner, {
      pickup: at,
      dropoff: north(at, 3),
      pet_ids: petIds,
    });
    const id = booking.booking_id;

    const offer = await offered(able, id);
    expect(offer.needs).toEqual(booking.needs);
    expect(await offers(unable)).toEqual([]);
    const before = await stateOf(owner, id);
    expect(before).toEqual({ status: "requested", runner_id: null, payment_status: "held" });
    const refused = await accept(unable, id);
    expect([refused.status, refused.body.type, refused.body.message, refused.body.data]).toEqual([
      409,
      "CONFLICT",
      `You cannot carry this booking: ${reason}`,
      { reason },
    ]);
    expect(await stateOf(owner, id)).toEqual(before);
    expect([(await me(unable)).availability, (await me(unable)).active_booking_id]).toEqual([
      "online",
      null,
    ]);
    expect((await accept(able, id)).status).toBe(200);
    return booking;
  }

  it("given the owner's 32 kg dog in a large crate, a runner whose crate is at most medium is offered nothing and refused (409); the runner with a larger crate gets it", async () => {
    const booking = await unableNearest(
      "crate",
      { lat: -7.8, lng: 109.0 },
      { ...CARRIES_ANYTHING, crate_capacity: { largest: "medium", pets: 3 } },
      [{ name: "Bruno", species: "dog", weight_kg: 32, crate_size: "large" }],
      "crate too small (large needed)",
    );
    expect(booking.needs).toEqual(expect.objectContaining({ crate_size: "large", count: 1 }));
  });

  it("given the owner's two pets, a runner who carries one is offered nothing and refused (409); the runner who carries three gets it", async () => {
    const booking = await unableNearest(
      "count",
      { lat: -8.1, lng: 111.2 },
      { ...CARRIES_ANYTHING, crate_capacity: { largest: "xlarge", pets: 1 } },
      [
        { name: "Kopi", species: "dog", weight_kg: 6, crate_size: "small" },
        { name: "Susu", species: "cat", weight_kg: 4, crate_size: "small" },
      ],
      "carries 1 pet, the booking has 2",
    );
    expect(booking.needs).toEqual(expect.objectContaining({ crate_size: "small", count: 2 }));
  });

  it("given the booking's needs, runner.claim refuses a runner who cannot carry them (409) and one who is not verified (403)", async () => {
    const broker = system.brokers[0];
    const small = system.token("runner", "rv-small-crate");
    await verifiedRunner(system, small, cats);
    await online(small, { lat: -7.0, lng: 110.4 });
    const claim = (runnerId: string) =>
      broker.call("runner.claim", {
        runner_id: runnerId,
        booking_id: "rv-claimed-booking",
        accepted_at: new Date().toISOString(),
        needs: { species: ["cat"], crate_size: "large", count: 1, needs_ac: false },
      });

    await expect(claim("rv-small-crate")).rejects.toMatchObject({
      code: 409,
      type: "CONFLICT",
      message: "You cannot carry this booking: crate too small (large needed)",
    });
    await expect(claim("rv-unverified")).rejects.toMatchObject({
      code: 403,
      type: "FORBIDDEN",
      message: "Only verified runners may accept bookings",
    });
    expect((await me(small)).active_booking_id).toBeNull();
  });

  it("runs the verification: documents, the admins' queue, a decision (once), and the runner hears it", async () => {
    const runner = system.token("runner", "rv-flow");
    const other = system.token("runner", "rv-flow-other");

    const badSpecies = await system.api<Refusal>("PATCH", "/api/runners/me", {
      token: runner,
      body: { species: ["dragon"] },
    });
    expect(badSpecies.status).toBe(422);
    const tooEarly = await ask(runner, ["anything"]);
    expect(tooEarly.status).toBe(422); // no such document of its own

    const jpeg = await documentJpeg();
    const mine = await uploadDocument(system, runner, jpeg);
    expect(mine.status).toBe(201);
    expect(mine.body).toEqual({
      photo_id: expect.any(String) as string,
      content_type: "image/jpeg",
      bytes: expect.any(Number) as number,
      width: 16,
      height: 12,
      created_at: expect.any(String) as string,
    });
    const notCapable = await ask(runner, [mine.body.photo_id]);
    expect([notCapable.status, notCapable.body.data]).toEqual([
      409,
      { missing: ["vehicle_kind", "crate_capacity", "species"] },
    ]);

    const profile = await system.api<RunnerEntity>("PATCH", "/api/runners/me", {
      token: runner,
      body: cats,
    });
    expect(profile.status).toBe(200);
    expect(profile.body).toEqual(
      expect.objectContaining({
        ...cats,
        verification: {
          status: "unverified",
          documents: [],
          requested_at: null,
          decided_at: null,
          note: null,
        },
      }),
    );

    const theirs = await uploadDocument(system, other, jpeg);
    for (const documents of [[theirs.body.photo_id], [mine.body.photo_id, "no-such-photo"]]) {
      const refused = await ask(runner, documents);
      expect([refused.status, refused.body.type]).toEqual([422, "VALIDATION_ERROR"]);
    }
    const asked = await ask(runner, [mine.body.photo_id]);
    expect(asked.status).toBe(202);
    expect(asked.body.verification).toEqual({
      status: "pending",
      documents: [mine.body.photo_id],
      requested_at: expect.any(String) as string,
      decided_at: null,
      note: null,
    });

    // A later request: behind this one in the queue.
    const later = system.token("runner", "rv-flow-later");
    await system.api("PATCH", "/api/runners/me", { token: later, body: cats });
    const laterDocument = await uploadDocument(system, later, jpeg);
    expect((await ask(later, [laterDocument.body.photo_id])).status).toBe(202);

    expect((await queue(runner)).status).toBe(403);
    const pending = await queue(admin, "?status=pending");
    expect(pending.status).toBe(200);
    const ids = pending.body.items.map((item) => item.runner_id);
    expect(ids.indexOf("rv-flow")).toBeLessThan(ids.indexOf("rv-flow-later"));
    expect(pending.body.items.find((item) => item.runner_id === "rv-flow")).toEqual({
      runner_id: "rv-flow",
      name: null,
      vehicle: null,
      ...cats,
      verification: {
        status: "pending",
        documents: [mine.body.photo_id],
        requested_at: asked.body.verification.requested_at,
        decided_at: null,
        decided_by: null,
        note: null,
      },
    });

    // The document: to its runner and to admins, to no other runner.
    const photoPath = `/api/runners/rv-flow/documents/${mine.body.photo_id}`;
    for (const token of [runner, admin]) {
      const photo = await system.api<string>("GET", photoPath, { token });
      expect([photo.status, photo.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    }
    expect((await system.api("GET", photoPath, { token: other })).status).toBe(404);

    expect((await decide(runner, "rv-flow", { decision: "verified" })).status).toBe(403);
    const verified = await decide(admin, "rv-flow", { decision: "verified" });
    expect(verified.status).toBe(200);
    expect(verified.body.verification).toEqual(
      expect.objectContaining({ status: "verified", decided_by: "ops", note: null }),
    );
    const twice = await decide(admin, "rv-flow", { decision: "rejected" });
    expect([twice.status, twice.body.type, twice.body.data]).toEqual([
      409,
      "CONFLICT",
      { status: "verified" },
    ]);
    expect((await me(runner)).verification.status).toEqual("verified");

    const rejected = await decide(admin, "rv-flow-later", {
      decision: "rejected",
      note: "The licence photo is blurred",
    });
    expect(rejected.status).toBe(200);

    const heard = (token: string) =>
      eventually(
        async () =>
          (
            await system.api<{ items: NotificationEntity[] }>("GET", "/api/notifications", {
              token,
            })
          ).body.items.find((item) => item.event_type === "runner.verification_decided"),
        { what: "the runner.verification_decided notification" },
      );
    expect(await heard(runner)).toEqual(
      expect.objectContaining({
        title: "You are verified",
        body: "Your documents were accepted: go online to get offers.",
      }),
    );
    expect(await heard(later)).toEqual(
      expect.objectContaining({
        title: "Verification not accepted",
        body: "Your documents were not accepted: The licence photo is blurred. Send them again from the app.",
      }),
    );
    // Rejected: it may send documents again.
    expect((await ask(later, [laterDocument.body.photo_id])).status).toBe(202);

    // Claiming a bigger crate than was verified withdraws the verification.
    const bigger = await system.api<RunnerEntity>("PATCH", "/api/runners/me", {
      token: runner,
      body: { crate_capacity: { largest: "xlarge", pets: 1 } },
    });
    expect(bigger.body.verification.status).toEqual("unverified");
  });
});
