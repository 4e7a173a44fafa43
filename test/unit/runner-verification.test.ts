import { decide as dispatch, needsOfRequest, type Dispatch } from "../../domain/dispatch";
import type { PetNeeds } from "../../domain/pets";
import {
  UNVERIFIED,
  VEHICLE_CHANGED,
  decide as runner,
  type ProfileChanges,
  type Runner,
  type RunnerCommand,
  type Verification,
  type VerificationStatus,
} from "../../domain/runner";
import type { EventPayload } from "../../events/catalog";
import { givenWhenThen } from "../support/decider";

const AT = new Date("2026-12-01T10:00:00.000Z");
const ASKED = new Date("2026-12-01T08:00:00.000Z");
const EARLIER = new Date("2026-12-01T07:00:00.000Z");
const pickup = { lat: -6.2, lng: 106.8 };

const capabilities: Required<
  Pick<ProfileChanges, "vehicle_kind" | "crate_capacity" | "species" | "air_conditioning">
> = {
  vehicle_kind: "car",
  crate_capacity: { largest: "large", pets: 2 },
  species: ["dog", "cat"],
  air_conditioning: false,
};

const verification = (status: VerificationStatus, extra: Partial<Verification> = {}) => ({
  ...UNVERIFIED,
  status,
  ...(status === "unverified" ? {} : { documents: ["p1", "p2"], requested_at: ASKED }),
  ...extra,
});

/** A runner with what it can carry, whose verification is `status`. */
const stored = (status: VerificationStatus | null, extra: Partial<Runner> = {}): Runner => ({
  _id: "r1",
  name: "Rina",
  vehicle: null,
  stripe_account_id: null,
  availability: "online",
  last_lat: null,
  last_lng: null,
  active_booking_id: null,
  active_since: null,
  offer: null,
  ...capabilities,
  species: [...capabilities.species],
  ...(status ? { verification: verification(status) } : {}),
  created_at: EARLIER,
  updated_at: EARLIER,
  ...extra,
});

describe("runner verification decider", () => {
  const given = givenWhenThen(runner);
  const request: RunnerCommand = { type: "request_verification", documents: ["p3"], at: AT };
  const decision = (decided: "verified" | "rejected", note: string | null = null) =>
    ({ type: "decide_verification", decision: decided, note, by: "ops", at: AT }) as const;

  it("given a runner never verified, when it sends documents, then it is pending from now", () => {
    given(stored(null))
      .when(request)
      .thenAccepted({
        expect: { "verification.status": null },
        changes: {
          verification: { ...UNVERIFIED, status: "pending", documents: ["p3"], requested_at: AT },
          updated_at: AT,
        },
      });
  });

  it.each(["unverified", "pending", "rejected"] as const)(
    "given a runner whose verification is %s, when it sends documents, then they replace any before, at the back of the queue",
    (status) => {
      given(stored(status, { verification: verification(status, { note: "blurred" }) }))
        .when(request)
        .thenAccepted({
          expect: { "verification.status": status },
          changes: {
            verification: {
              ...UNVERIFIED,
              status: "pending",
              documents: ["p3"],
              requested_at: AT,
            },
            updated_at: AT,
          },
        });
    },
  );

  it("given a verified runner, when it sends documents, then 409: verified already", () => {
    given(stored("verified")).when(request).thenRefused("conflict", "You are verified already");
  });

  it("given a runner that has not said what it carries, when it sends documents, then 409 naming what is missing", () => {
    given(stored(null, { vehicle_kind: null, crate_capacity: undefined, species: [] }))
      .when(request)
      .thenRefused(
        "conflict",
        "Say what you carry (vehicle_kind, crate_capacity, species) before asking for verification",
        { missing: ["vehicle_kind", "crate_capacity", "species"] },
      );
  });

  it.each(["verified", "rejected"] as const)(
    "given a pending request, when an admin decides %s, then runner.verification_decided, guarded on the request it saw",
    (decided) => {
      given(stored("pending"))
        .when(decision(decided, "Licence photo accepted"))
        .thenAccepted({
          expect: { "verification.status": "pending", "verification.requested_at": ASKED },
          changes: {
            verification: {
              status: decided,
              documents: ["p1", "p2"],
              requested_at: ASKED,
              decided_at: AT,
              decided_by: "ops",
              note: "Licence photo accepted",
            },
            updated_at: AT,
          },
          events: [
            {
              type: "runner.verification_decided",
              data: {
                runner_id: "r1",
                decision: decided,
                note: "Licence photo accepted",
                occurred_at: AT.toISOString(),
              },
            },
          ],
        });
    },
  );

  it("given a pending request, when an admin verifies it without a note, then the event has none", () => {
    const { events } = given(stored("pending")).when(decision("verified")).thenAccepted();
    expect(events).toEqual([
      {
        type: "runner.verification_decided",
        data: { runner_id: "r1", decision: "verified", occurred_at: AT.toISOString() },
      },
    ]);
  });

  it.each(["unverified", "verified", "rejected"] as const)(
    "given a runner whose verification is %s, when an admin decides, then 409: only a pending one",
    (status) => {
      given(stored(status))
        .when(decision("verified"))
        .thenRefused(
          "conflict",
          `Only a pending verification can be decided; this runner is ${status}`,
          { status },
        );
    },
  );

  it("given no such runner, when an admin decides, then 404", () => {
    given(null).when(decision("verified")).thenRefused("not_found", "Runner not found");
  });
});

describe("runner capabilities decider", () => {
  const given = givenWhenThen(runner);
  const update = (profile: ProfileChanges): RunnerCommand => ({
    type: "update_profile",
    profile,
    at: AT,
  });

  it("given any runner, when it changes only its name, then it is written as it is", () => {
    given(stored("verified"))
      .when(update({ name: "Rin" }))
      .thenAccepted({ expect: {}, changes: { name: "Rin", updated_at: AT } });
  });

  it("given a runner never verified, when it says what it carries, then that is kept, guarded on its verification", () => {
    given(stored(null, { vehicle_kind: undefined, crate_capacity: undefined, species: undefined }))
      .when(update(capabilities))
      .thenAccepted({
        expect: { "verification.status": null },
        changes: { ...capabilities, updated_at: AT },
      });
  });

  it.each<[string, ProfileChanges]>([
    ["a smaller crate", { crate_capacity: { largest: "medium", pets: 2 } }],
    ["fewer pets", { crate_capacity: { largest: "large", pets: 1 } }],
    ["other species", { species: ["bird"] }],
    ["no air conditioning", { air_conditioning: false }],
    ["the same vehicle", { vehicle_kind: "car" }],
  ])(
    "given a verified runner, when it says it carries %s, then it stays verified",
    (_what, profile) => {
      given(stored("verified"))
        .when(update(profile))
        .thenAccepted({
          expect: { "verification.status": "verified" },
          changes: { ...profile, updated_at: AT },
        });
    },
  );

  it.each<[string, ProfileChanges]>([
    ["another vehicle", { vehicle_kind: "van" }],
    ["a bigger crate", { crate_capacity: { largest: "xlarge", pets: 2 } }],
    ["more pets", { crate_capacity: { largest: "large", pets: 3 } }],
    ["air conditioning", { air_conditioning: true }],
  ])(
    "given a verified runner, when it claims %s, then its verification is withdrawn, saying why",
    (_what, profile) => {
      given(stored("verified"))
        .when(update(profile))
        .thenAccepted({
          expect: { "verification.status": "verified" },
          changes: {
            ...profile,
            verification: { ...UNVERIFIED, decided_at: AT, note: VEHICLE_CHANGED },
            updated_at: AT,
          },
        });
    },
  );

  it("given a pending runner, when it claims a bigger crate, then it stays pending: the admin sees it as it is", () => {
    given(stored("pending"))
      .when(update({ crate_capacity: { largest: "xlarge", pets: 3 } }))
      .thenChanges({ crate_capacity: { largest: "xlarge", pets: 3 }, updated_at: AT });
  });

  it("given a free runner, when offered a booking whose pets' needs are known, then the offer keeps them", () => {
    const needs: PetNeeds = { species: ["dog"], crate_size: "large", count: 1, needs_ac: false };
    given(stored("verified"))
      .when({ type: "offer", booking_id: "b1", pickup, expires_at: AT, needs, at: AT })
      .thenChanges({
        offer: { booking_id: "b1", pickup, offered_at: AT, expires_at: AT, needs },
        updated_at: AT,
      });
  });
});

describe("dispatch learns what the booking's pets need", () => {
  const given = givenWhenThen(dispatch);
  const requested = (extra: Partial<EventPayload<"booking.requested">> = {}) => ({
    booking_id: "b1",
    booking_number: "KLT-20261201-ABCDEF",
    owner_id: "o1",
    pet_type: "dog" as const,
    pet_name: "Rex",
    pickup_lat: pickup.lat,
    pickup_lng: pickup.lng,
    dropoff_lat: -6.3,
    dropoff_lng: 106.9,
    estimated_price_cents: 2_000_000,
    currency: "IDR",
    occurred_at: AT.toISOString(),
    ...extra,
  });

  it("given a request that says what its pets need, when read, then those needs", () => {
    expect(
      needsOfRequest(
        requested({ pet_count: 2, species: ["dog", "cat"], crate_size: "large", needs_ac: true }),
      ),
    ).toEqual({ species: ["dog", "cat"], crate_size: "large", count: 2, needs_ac: true });
  });

  it("given a request that says some of it, when read, then the rest asks nothing, and the species is its pet type", () => {
    expect(needsOfRequest(requested({ pet_count: 1 }))).toEqual({
      species: ["dog"],
      crate_size: null,
      count: 1,
      needs_ac: false,
    });
  });

  it("given a request from before needs were kept, when read, then none", () => {
    expect(needsOfRequest(requested())).toBeUndefined();
  });

  it("given the escrow held, when the pickup comes with needs, then it searches and keeps them", () => {
    const needs: PetNeeds = { species: ["cat"], crate_size: "small", count: 1, needs_ac: false };
    const waiting: Dispatch = {
      _id: "b1",
      pickup: null,
      escrow_held: true,
      status: "waiting",
      runner_id: null,
      offer_expires_at: null,
      tried: [],
      created_at: EARLIER,
      updated_at: EARLIER,
    };
    given(waiting)
      .when({
        type: "pickup_known",
        pickup,
        booking_number: "KLT-1",
        owner_id: "o1",
        needs,
        booking_id: "b1",
        at: AT,
      })
      .thenChanges({
        pickup,
        booking_number: "KLT-1",
        owner_id: "o1",
        needs,
        status: "searching",
        updated_at: AT,
      });
  });
});
