import { z } from "zod";
import { CRATE_SIZES, PET_TYPES, VEHICLE_KINDS } from "../config/defaults";
import type { PetNeeds } from "../domain/pets";
import { type Availability, type Capabilities, type VerificationStatus } from "../domain/runner";
import { isoTime } from "../events/schemas";
import { contracts } from "./action";
import { IdParams, Latitude, Longitude, NoParams, Point, text } from "./common";
import { CleanImageParams } from "./photo";
import type { RunnerRatingEntity } from "./rating";

export const LocationParams = z
  .object({
    lat: Latitude,
    lng: Longitude,
    speed_kmh: z.number().min(0).max(1000).optional(),
    heading_degrees: z.number().min(0).lt(360).optional(),
    timestamp: isoTime,
    booking_id: z.string().min(1).max(64).optional(),
  })
  .strict();

/** Fixes a gateway collected from runners' sockets in one tick; each is judged on its own. */
export const LocationBatchParams = z
  .object({
    fixes: z
      // `fix` is checked per fix: one bad fix must not fail the others of its batch.
      .array(
        z.object({ runner_id: z.string().min(1).max(128), fix: z.unknown().optional() }).strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

/** The most fixes one upload may carry. */
export const MAX_UPLOAD_FIXES = 500;

/** Fixes a runner's phone recorded while it could not send them, oldest first. */
export const UploadLocationsParams = z
  .object({
    // Each fix is checked on its own: one bad fix is refused alone, the others go on.
    fixes: z.array(z.unknown()).min(1).max(MAX_UPLOAD_FIXES),
  })
  .strict();

/** The most pets a booking may ever have (MAX_PETS_PER_BOOKING's ceiling): what a runner may carry. */
export const MAX_PETS_CARRIED = 10;

/** Photo ids, as the uploads answered them. */
const photoId = z.string().min(1).max(64);

export const ProfileParams = z
  .object({
    name: text(80).optional(),
    /** Free words about the vehicle (a plate, a colour); `vehicle_kind` is what dispatch reads. */
    vehicle: text(80).optional(),
    stripe_account_id: z
      .string()
      .regex(/^acct_[A-Za-z0-9]{1,64}$/, "expected a Stripe connected account id (acct_…)")
      .optional(),
    vehicle_kind: z.enum(VEHICLE_KINDS).optional(),
    crate_capacity: z
      .object({
        largest: z.enum(CRATE_SIZES),
        pets: z.number().int().min(1).max(MAX_PETS_CARRIED),
      })
      .strict()
      .optional(),
    species: z
      .array(z.enum(PET_TYPES))
      .min(1, "name at least one species")
      .refine((list) => new Set(list).size === list.length, "must not name a species twice")
      .optional(),
    air_conditioning: z.boolean().optional(),
  })
  .strict();

/** What carrying a booking's pets takes (domain/pets.ts), as the booking service passes it. */
export const PetNeedsParams = z
  .object({
    species: z.array(z.enum(PET_TYPES)).max(PET_TYPES.length),
    crate_size: z.enum(CRATE_SIZES).nullable(),
    count: z.number().int().min(1).max(MAX_PETS_CARRIED),
    needs_ac: z.boolean(),
  })
  .strict() satisfies z.ZodType<PetNeeds>;

export const RequestVerificationParams = z
  .object({
    /** Photos of the runner's documents (licence, vehicle, crate), uploaded first. */
    documents: z
      .array(photoId)
      .min(1, "send at least one document")
      .max(10)
      .refine((list) => new Set(list).size === list.length, "must not name a document twice"),
  })
  .strict();

export const DecideVerificationParams = IdParams.extend({
  decision: z.enum(["verified", "rejected"]),
  /** Told to the runner: why a rejection, what to send again. */
  note: text(500, { lines: true }).optional(),
}).strict();

/** The statuses of runners who asked for verification. */
export const ASKED_STATUSES = [
  "pending",
  "verified",
  "rejected",
] as const satisfies readonly VerificationStatus[];

export const VerificationQueueParams = z
  .object({
    /** Only this status; left out: every runner that asked, pending first. */
    status: z.enum(ASKED_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

export const NearbyParams = z
  .object({
    lat: z.coerce.number().pipe(Latitude),
    lng: z.coerce.number().pipe(Longitude),
    radius_km: z.coerce.number().positive().max(50).default(6),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

/** A runner and the booking it is claimed for (internal: the booking service's accept). */
const RunnerBookingParams = z
  .object({ runner_id: z.string().min(1).max(128), booking_id: z.string().min(1).max(64) })
  .strict();

export const RUNNER_ACTIONS = contracts({
  me: { roles: ["runner"], params: NoParams },
  updateProfile: { roles: ["runner"], params: ProfileParams },
  online: { roles: ["runner"], params: Point },
  offline: { roles: ["runner"], params: NoParams },
  location: { roles: ["runner"], params: LocationParams },
  uploadLocations: { roles: ["runner"], params: UploadLocationsParams },
  locations: { params: LocationBatchParams, internal: true },
  offers: { roles: ["runner"], params: NoParams },
  decline: { roles: ["runner"], params: IdParams },
  nearby: { roles: ["admin"], params: NearbyParams },
  listOnline: {
    roles: ["admin"],
    params: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict(),
  },
  payoutAccount: { params: z.object({ runner_id: z.string().min(1).max(128) }), internal: true },
  /** For a share link's page: the runner's first name, and nothing else of them. */
  firstName: { params: z.object({ runner_id: z.string().min(1).max(128) }), internal: true },
  /**
   * For the booking service's accept: the runner goes busy on the booking, if online, verified,
   * and (with `needs`, the booking's) able to carry its pets.
   */
  claim: {
    params: RunnerBookingParams.extend({
      accepted_at: isoTime,
      needs: PetNeedsParams.optional(),
    }).strict(),
    internal: true,
  },
  /** Gives back a claim whose accept lost its race. */
  release: { params: RunnerBookingParams, internal: true },
  /** A photo of one of the runner's documents; the gateway sends the cleaned image. */
  uploadDocument: { roles: ["runner"], params: z.object({ image: CleanImageParams }).strict() },
  /** A document's bytes: for that runner and admins. */
  document: {
    roles: ["runner", "admin"],
    params: IdParams.extend({ photoId }).strict(),
  },
  requestVerification: { roles: ["runner"], params: RequestVerificationParams },
  verificationQueue: { roles: ["admin"], params: VerificationQueueParams },
  decideVerification: { roles: ["admin"], params: DecideVerificationParams },
});

/**
 * One fix's answer in a batch: its event, or the error a single call would have thrown, as
 * plain fields (the gateway turns them into its usual error body).
 */
export type FixResult =
  | { ok: true; event_id: string }
  | {
      ok: false;
      error: {
        name: string;
        message: string;
        code?: number | string;
        type?: string;
        data?: unknown;
      };
    };

/** A runner's verification as the API shows it (the deciding admin only to admins). */
export interface VerificationEntity {
  status: VerificationStatus;
  documents: string[];
  requested_at: string | null;
  decided_at: string | null;
  note: string | null;
}

/** A runner as the API shows it. */
export interface RunnerEntity extends Capabilities {
  runner_id: string;
  name: string | null;
  vehicle: string | null;
  stripe_account_id: string | null;
  availability: Availability;
  active_booking_id: string | null;
  position: { lat: number; lng: number; reported_at: string } | null;
  verification: VerificationEntity;
  /** The owners' ratings of it. */
  rating: RunnerRatingEntity;
}

export interface OfferEntity {
  booking_id: string;
  pickup: { lat: number; lng: number };
  offered_at: string;
  expires_at: string;
  /** What carrying the pets takes; null when the booking does not say. */
  needs: PetNeeds | null;
  /** The runner's own rating, as the owners gave it. */
  runner_rating: RunnerRatingEntity;
}

/** One runner in the admins' verification queue. */
export interface VerificationRequestEntity extends Capabilities {
  runner_id: string;
  name: string | null;
  vehicle: string | null;
  verification: VerificationEntity & { decided_by: string | null };
}
