import { CRATE_SIZES, type CrateSize, type PetType, type VehicleKind } from "../config/defaults";
import {
  accept,
  reject,
  unreachable,
  type Decision,
  type Expect,
  withArticle,
  cap,
} from "./decider";
import type { LatLng } from "./geo";
import type { PetNeeds } from "./pets";
import type { RatingTally } from "./ratings";

/**
 * A runner's availability: offline → online (taking offers) → busy (on a booking, from its
 * acceptance to the hand-over) → online again; online → offline. An online runner holds at most
 * one offer. Positions are not here: they change every few seconds and live in the geo index.
 */
export const AVAILABILITIES = ["offline", "online", "busy"] as const;
export type Availability = (typeof AVAILABILITIES)[number];

/** The one booking a runner is being offered, with what the app shows about it. */
export interface Offer {
  booking_id: string;
  pickup: LatLng;
  offered_at: Date;
  expires_at: Date;
  /** What carrying the booking's pets takes; absent when the booking does not say. */
  needs?: PetNeeds;
}

/** The biggest crate a runner's vehicle takes, and how many pets it carries at once. */
export interface CrateCapacity {
  largest: CrateSize;
  pets: number;
}

/** What a runner can carry, as it says; an admin's verification vouches for it. */
export interface Capabilities {
  vehicle_kind: VehicleKind | null;
  crate_capacity: CrateCapacity | null;
  /** The species it accepts; none: it carries nothing yet. */
  species: PetType[];
  air_conditioning: boolean;
}

/**
 * unverified → pending (the runner sent documents) → verified or rejected (an admin decided);
 * a rejected runner may send documents again. Only a verified runner gets offers and accepts.
 */
export const VERIFICATION_STATUSES = ["unverified", "pending", "verified", "rejected"] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];
export type VerificationDecision = Extract<VerificationStatus, "verified" | "rejected">;

export interface Verification {
  status: VerificationStatus;
  /** Photo ids of the documents the runner uploaded (its own photos) for this request. */
  documents: string[];
  requested_at: Date | null;
  decided_at: Date | null;
  /** The admin who decided. */
  decided_by: string | null;
  /** What the admin told the runner, or why the verification was withdrawn. */
  note: string | null;
}

export interface Runner {
  _id: string;
  name: string | null;
  vehicle: string | null;
  stripe_account_id: string | null;
  availability: Availability;
  /** Where the runner went online; the geo index has the live position. */
  last_lat: number | null;
  last_lng: number | null;
  active_booking_id: string | null;
  /**
   * When it took its active booking (the booking's acceptance): fixes naming the booking and
   * recorded before it are refused. Absent on documents stored before it existed.
   */
  active_since?: Date | null;
  offer: Offer | null;
  /**
   * What it can carry, and its verification. Absent on a runner that never set them (register
   * does not write them), and on documents stored before they existed: such a runner reads as
   * unverified, with no capabilities (`capabilitiesOf`, `verificationOf`).
   */
  vehicle_kind?: VehicleKind | null;
  crate_capacity?: CrateCapacity | null;
  species?: PetType[];
  air_conditioning?: boolean;
  verification?: Verification;
  /**
   * The owners' ratings of it (domain/ratings.ts), as its tally last counted them; absent before
   * the first.
   */
  rating?: RatingTally;
  created_at: Date;
  updated_at: Date;
}

export const UNVERIFIED: Verification = {
  status: "unverified",
  documents: [],
  requested_at: null,
  decided_at: null,
  decided_by: null,
  note: null,
};

export const verificationOf = (runner: Runner): Verification => runner.verification ?? UNVERIFIED;

export const capabilitiesOf = (runner: Runner): Capabilities => ({
  vehicle_kind: runner.vehicle_kind ?? null,
  crate_capacity: runner.crate_capacity ?? null,
  species: runner.species ?? [],
  air_conditioning: runner.air_conditioning ?? false,
});

/** What a runner may change of its profile: who it is, where payouts go, what it can carry. */
export type ProfileChanges = Partial<Pick<Runner, "name" | "vehicle" | "stripe_account_id">> &
  Partial<{
    vehicle_kind: VehicleKind;
    crate_capacity: CrateCapacity;
    species: PetType[];
    air_conditioning: boolean;
  }>;

const CAPABILITY_FIELDS = [
  "vehicle_kind",
  "crate_capacity",
  "species",
  "air_conditioning",
] as const;

/** Why a verification was withdrawn by the runner's own change. */
export const VEHICLE_CHANGED =
  "You changed your vehicle or what it carries: upload documents of it and ask for verification again";

/**
 * Whether a change claims more than the admin verified: another vehicle, a bigger crate, more
 * pets, air conditioning it did not have. Carrying less, or other species, needs no new check.
 */
function widens(runner: Runner, profile: ProfileChanges): boolean {
  const now = capabilitiesOf(runner);
  const crate = profile.crate_capacity;
  return (
    (profile.vehicle_kind !== undefined && profile.vehicle_kind !== now.vehicle_kind) ||
    (crate !== undefined &&
      (now.crate_capacity === null ||
        CRATE_SIZES.indexOf(crate.largest) > CRATE_SIZES.indexOf(now.crate_capacity.largest) ||
        crate.pets > now.crate_capacity.pets)) ||
    (profile.air_conditioning === true && !now.air_conditioning)
  );
}

/** The capabilities an admin needs to see before verifying: what is missing of them. */
function missingCapabilities(runner: Runner): string[] {
  const now = capabilitiesOf(runner);
  return [
    ...(now.vehicle_kind === null ? ["vehicle_kind"] : []),
    ...(now.crate_capacity === null ? ["crate_capacity"] : []),
    ...(now.species.length === 0 ? ["species"] : []),
  ];
}

export type RunnerCommand = { at: Date } & (
  | { type: "register"; runner_id: string }
  | { type: "update_profile"; profile: ProfileChanges }
  /** `documents`: photo ids the service checked are this runner's own uploads. */
  | { type: "request_verification"; documents: string[] }
  /** `by`: the deciding admin. */
  | {
      type: "decide_verification";
      decision: VerificationDecision;
      note: string | null;
      by: string;
    }
  | { type: "go_online"; position: LatLng }
  /** `by: "system"`: silent past RUNNER_STALE_AFTER; a busy runner's trip goes on regardless. */
  | { type: "go_offline"; by: "runner" | "system" }
  | { type: "offer"; booking_id: string; pickup: LatLng; expires_at: Date; needs?: PetNeeds }
  | { type: "release_offer"; booking_id: string }
  /**
   * `at`: the booking's acceptance. Refused unless the runner is online (or busy: see decide).
   * `by: "claim"`: the accept itself, over RPC; `"event"`: its `booking.accepted`, which may come
   * long after (a consumer behind), when the runner is on a later booking already.
   */
  | { type: "take_booking"; booking_id: string; by: "claim" | "event" }
  | { type: "free"; booking_id: string }
);

/** Why an accept is refused for the runner's availability: the app shows it as it is. */
export const GO_ONLINE_TO_ACCEPT = "Go online before accepting a booking";

/** A move's rules: the availabilities it leaves from, the one it goes to (null: stays), event. */
interface Move {
  from: readonly Availability[];
  to: Availability | null;
  event: "runner.online" | "runner.offline" | null;
}

/**
 * The commands that move a runner's availability or need a given one. Each refuses a runner in
 * any other availability in its own words (see `decide`), but go_online: a runner online or busy
 * already just has its position refreshed. register, update_profile and release_offer take a
 * runner in any availability and leave it as it is.
 */
const MOVES = {
  go_online: { from: ["offline"], to: "online", event: "runner.online" },
  go_offline: { from: ["online"], to: "offline", event: "runner.offline" },
  offer: { from: ["online"], to: null, event: null },
  // Busy too: a claim moves the runner on from a trip that is over (see decide).
  take_booking: { from: ["online", "busy"], to: "busy", event: null },
  // Guarded on the booking the runner is on, not on its availability.
  free: { from: AVAILABILITIES, to: "online", event: null },
} as const satisfies Partial<Record<RunnerCommand["type"], Move>>;

const mayLeave = (move: Move, runner: Runner) => move.from.includes(runner.availability);

/** Free for an offer: online, holding none, on no booking. */
export const isFree = (runner: Runner) =>
  mayLeave(MOVES.offer, runner) && runner.offer === null && runner.active_booking_id === null;

export function decide(runner: Runner | null, command: RunnerCommand): Decision<Runner> {
  const { at } = command;
  if (command.type === "register") {
    if (runner) return reject("conflict", "The runner is registered already");
    return accept<Runner>(
      {},
      {
        _id: command.runner_id,
        name: null,
        vehicle: null,
        stripe_account_id: null,
        availability: "offline",
        last_lat: null,
        last_lng: null,
        active_booking_id: null,
        active_since: null,
        offer: null,
        created_at: at,
        updated_at: at,
      },
    );
  }
  if (!runner) {
    // A runner that never came online has no document yet: for an accept, that is the reason.
    return command.type === "take_booking"
      ? reject("conflict", GO_ONLINE_TO_ACCEPT, { availability: "offline" })
      : reject("not_found", "Runner not found");
  }
  switch (command.type) {
    case "update_profile":
      return updateProfile(runner, command.profile, at);
    case "request_verification":
      return requestVerification(runner, command.documents, at);
    case "decide_verification":
      return decideVerification(runner, command, at);
    case "go_online": {
      const position = { last_lat: command.position.lat, last_lng: command.position.lng };
      // Only the offline → online move is an event; a repeat just refreshes the position.
      if (!mayLeave(MOVES.go_online, runner))
        return accept<Runner>({}, { ...position, updated_at: at });
      return accept<Runner>(
        { availability: runner.availability },
        { ...position, availability: MOVES.go_online.to, updated_at: at },
        [
          {
            type: MOVES.go_online.event,
            data: {
              runner_id: runner._id,
              latitude: command.position.lat,
              longitude: command.position.lng,
              occurred_at: at.toISOString(),
            },
          },
        ],
      );
    }
    case "go_offline":
      if (command.by === "runner" && runner.active_booking_id) {
        return reject("conflict", "Finish or cancel your active booking before going offline", {
          active_booking_id: runner.active_booking_id,
        });
      }
      if (!mayLeave(MOVES.go_offline, runner)) {
        return reject(
          "conflict",
          `${cap(withArticle(runner.availability))} runner cannot go offline`,
        );
      }
      return accept<Runner>(
        { availability: runner.availability },
        { availability: MOVES.go_offline.to, updated_at: at },
        [
          {
            type: MOVES.go_offline.event,
            data: { runner_id: runner._id, occurred_at: at.toISOString() },
          },
        ],
      );
    case "offer":
      if (!isFree(runner)) return reject("conflict", "The runner is not free");
      return accept<Runner>(
        { availability: runner.availability, offer: null, active_booking_id: null },
        {
          offer: {
            booking_id: command.booking_id,
            pickup: command.pickup,
            offered_at: at,
            expires_at: command.expires_at,
            ...(command.needs ? { needs: command.needs } : {}),
          },
          updated_at: at,
        },
      );
    case "release_offer":
      if (runner.offer?.booking_id !== command.booking_id) {
        return reject("conflict", "The runner holds no offer for this booking");
      }
      return accept<Runner>(
        { "offer.booking_id": command.booking_id },
        { offer: null, updated_at: at },
      );
    case "take_booking": {
      if (!mayLeave(MOVES.take_booking, runner)) {
        return reject("conflict", GO_ONLINE_TO_ACCEPT, { availability: runner.availability });
      }
      const again = runner.active_booking_id === command.booking_id;
      // Busy with another booking. On a claim, the booking service's one-booking slot let this
      // accept through, so that trip is over, and only its `booking.delivered` is still on the
      // way. An event may be the late one of a trip that is over, and the runner's real trip
      // the later booking: it moves no runner off another booking.
      if (command.by === "event" && runner.active_booking_id !== null && !again) {
        return reject("conflict", "The runner is on another booking", {
          active_booking_id: runner.active_booking_id,
        });
      }
      // The accept's event after the accept's own claim: the runner is on it already.
      if (again && runner.availability === "busy" && runner.offer === null) {
        return accept<Runner>({ availability: "busy", active_booking_id: command.booking_id }, {});
      }
      // Guarded on the availability read: a concurrent go_offline and this cannot both win.
      return accept<Runner>(
        {
          availability: runner.availability,
          active_booking_id: runner.active_booking_id,
          ...(runner.offer ? { "offer.booking_id": runner.offer.booking_id } : { offer: null }),
        },
        {
          availability: MOVES.take_booking.to,
          active_booking_id: command.booking_id,
          // A repeat (the accept's event after the accept's own claim) keeps the first time.
          active_since: again ? (runner.active_since ?? at) : at,
          offer: null,
          updated_at: at,
        },
      );
    }
    case "free":
      if (!mayLeave(MOVES.free, runner) || runner.active_booking_id !== command.booking_id) {
        return reject("conflict", "The runner is not on this booking");
      }
      return accept<Runner>(
        { active_booking_id: command.booking_id },
        {
          availability: MOVES.free.to,
          active_booking_id: null,
          active_since: null,
          updated_at: at,
        },
      );
    default:
      return unreachable(command);
  }
}

/**
 * Name, vehicle, payouts and capabilities. A change of capabilities is guarded on the
 * verification it was decided on; claiming more than a verified runner was verified for
 * withdraws the verification (the documents showed the vehicle as it was).
 */
function updateProfile(runner: Runner, profile: ProfileChanges, at: Date): Decision<Runner> {
  if (!CAPABILITY_FIELDS.some((field) => profile[field] !== undefined))
    return accept<Runner>({}, { ...profile, updated_at: at });
  const verification = verificationOf(runner);
  // null matches a document without a verification too.
  const expect: Expect<Runner> = { "verification.status": runner.verification?.status ?? null };
  if (verification.status !== "verified" || !widens(runner, profile))
    return accept<Runner>(expect, { ...profile, updated_at: at });
  return accept<Runner>(expect, {
    ...profile,
    verification: { ...UNVERIFIED, decided_at: at, note: VEHICLE_CHANGED },
    updated_at: at,
  });
}

/** The runner sends documents: pending, at the back of the queue (a new request replaces one). */
function requestVerification(runner: Runner, documents: string[], at: Date): Decision<Runner> {
  const verification = verificationOf(runner);
  if (verification.status === "verified") return reject("conflict", "You are verified already");
  const missing = missingCapabilities(runner);
  if (missing.length > 0) {
    return reject(
      "conflict",
      `Say what you carry (${missing.join(", ")}) before asking for verification`,
      { missing },
    );
  }
  return accept<Runner>(
    { "verification.status": runner.verification?.status ?? null },
    {
      verification: { ...UNVERIFIED, status: "pending", documents, requested_at: at },
      updated_at: at,
    },
  );
}

/** An admin decides a pending request, on the documents it saw: `runner.verification_decided`. */
function decideVerification(
  runner: Runner,
  command: Extract<RunnerCommand, { type: "decide_verification" }>,
  at: Date,
): Decision<Runner> {
  const verification = verificationOf(runner);
  if (verification.status !== "pending") {
    return reject(
      "conflict",
      `Only a pending verification can be decided; this runner is ${verification.status}`,
      { status: verification.status },
    );
  }
  const { decision, note, by } = command;
  return accept<Runner>(
    // A request sent again meanwhile brought other documents: the admin has not seen those.
    { "verification.status": "pending", "verification.requested_at": verification.requested_at },
    {
      verification: { ...verification, status: decision, decided_at: at, decided_by: by, note },
      updated_at: at,
    },
    [
      {
        type: "runner.verification_decided",
        data: {
          runner_id: runner._id,
          decision,
          ...(note ? { note } : {}),
          occurred_at: at.toISOString(),
        },
      },
    ],
  );
}
