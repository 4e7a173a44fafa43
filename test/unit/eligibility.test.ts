import { ONLY_VERIFIED, mayAccept, mayCarry } from "../../domain/eligibility";
import type { PetNeeds } from "../../domain/pets";
import { UNVERIFIED, type Runner, type VerificationStatus } from "../../domain/runner";

const AT = new Date("2026-12-01T10:00:00.000Z");

/** A runner who carries dogs and cats, up to 2 pets in a medium crate, without AC. */
const runner = (status: VerificationStatus = "verified", extra: Partial<Runner> = {}): Runner => ({
  _id: "r1",
  name: null,
  vehicle: null,
  stripe_account_id: null,
  availability: "online",
  last_lat: null,
  last_lng: null,
  active_booking_id: null,
  offer: null,
  vehicle_kind: "motorbike",
  crate_capacity: { largest: "medium", pets: 2 },
  species: ["dog", "cat"],
  air_conditioning: false,
  verification: { ...UNVERIFIED, status },
  created_at: AT,
  updated_at: AT,
  ...extra,
});

const needs = (extra: Partial<PetNeeds> = {}): PetNeeds => ({
  species: ["dog"],
  crate_size: "small",
  count: 1,
  needs_ac: false,
  ...extra,
});

describe("mayCarry: whether a runner may carry a booking's pets", () => {
  it("given a verified runner who can, when asked, then it may", () => {
    expect(
      mayCarry(runner(), needs({ species: ["dog", "cat"], crate_size: "medium", count: 2 })),
    ).toBeNull();
  });

  it.each(["unverified", "pending", "rejected"] as const)(
    "given a runner whose verification is %s, when asked, then not: not verified",
    (status) => {
      expect(mayCarry(runner(status), needs())).toBe("not verified");
    },
  );

  it("given a runner stored before verification existed, when asked, then not verified", () => {
    const stored = runner();
    delete stored.verification;
    expect(mayCarry(stored, undefined)).toBe("not verified");
  });

  it("given a booking that does not say what its pets need, when asked, then only verification counts", () => {
    expect(
      mayCarry(runner("verified", { species: [], crate_capacity: null }), undefined),
    ).toBeNull();
    expect(mayCarry(runner("pending"), undefined)).toBe("not verified");
  });

  it.each([
    ["a species it does not carry", needs({ species: ["rabbit"] }), "does not carry rabbits"],
    [
      "two it does not carry",
      needs({ species: ["dog", "bird", "other"] }),
      "does not carry birds or other pets",
    ],
    ["a bigger crate", needs({ crate_size: "large" }), "crate too small (large needed)"],
    ["more pets", needs({ count: 3 }), "carries 2 pets, the booking has 3"],
    ["air conditioning", needs({ needs_ac: true }), "no air conditioning"],
  ])("given a booking that needs %s, when asked, then not, saying why", (_what, need, reason) => {
    expect(mayCarry(runner(), need)).toBe(reason);
  });

  it("given a runner who carries one pet, when a booking has two, then the reason counts in words", () => {
    const single = runner("verified", { crate_capacity: { largest: "xlarge", pets: 1 } });
    expect(mayCarry(single, needs({ count: 2 }))).toBe("carries 1 pet, the booking has 2");
  });

  it("given a booking whose crate size is not known, when asked, then any crate does", () => {
    const tiny = runner("verified", { crate_capacity: { largest: "small", pets: 1 } });
    expect(mayCarry(tiny, needs({ crate_size: null }))).toBeNull();
  });

  it("given a verified runner who set no crate capacity, when asked, then not", () => {
    expect(mayCarry(runner("verified", { crate_capacity: null }), needs())).toBe(
      "no crate capacity set",
    );
  });

  it("given a runner with air conditioning, when a booking needs it, then it may", () => {
    expect(
      mayCarry(runner("verified", { air_conditioning: true }), needs({ needs_ac: true })),
    ).toBeNull();
  });
});

describe("mayAccept: the refusal an accept gets", () => {
  it("given an unverified runner, when it accepts, then 403: only verified runners", () => {
    expect(mayAccept(runner("pending"), needs())).toEqual({
      kind: "forbidden",
      message: ONLY_VERIFIED,
    });
  });

  it("given a runner never stored, when it accepts, then 403: only verified runners", () => {
    expect(mayAccept(null, undefined)).toEqual({ kind: "forbidden", message: ONLY_VERIFIED });
  });

  it("given a verified runner who cannot carry the pets, when it accepts, then 409 with the reason", () => {
    expect(mayAccept(runner(), needs({ crate_size: "large" }))).toEqual({
      kind: "conflict",
      message: "You cannot carry this booking: crate too small (large needed)",
      data: { reason: "crate too small (large needed)" },
    });
  });

  it("given a verified runner who can, when it accepts, then nothing stands in the way", () => {
    expect(mayAccept(runner(), needs())).toBeNull();
    expect(mayAccept(runner(), undefined)).toBeNull();
  });
});
