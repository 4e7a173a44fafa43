import { z } from "zod";
import type { Availability } from "../domain/runner";
import { isoTime } from "../events/schemas";
import { contracts } from "./action";
import { IdParams, Latitude, Longitude, NoParams, Point, text } from "./common";

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

export const ProfileParams = z
  .object({
    name: text(80).optional(),
    vehicle: text(80).optional(),
    stripe_account_id: z
      .string()
      .regex(/^acct_[A-Za-z0-9]{1,64}$/, "expected a Stripe connected account id (acct_…)")
      .optional(),
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
  /** For the booking service's accept: the runner goes busy on the booking, if online. */
  claim: { params: RunnerBookingParams.extend({ accepted_at: isoTime }).strict(), internal: true },
  /** Gives back a claim whose accept lost its race. */
  release: { params: RunnerBookingParams, internal: true },
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

/** A runner as the API shows it. */
export interface RunnerEntity {
  runner_id: string;
  name: string | null;
  vehicle: string | null;
  stripe_account_id: string | null;
  availability: Availability;
  active_booking_id: string | null;
  position: { lat: number; lng: number; reported_at: string } | null;
}

export interface OfferEntity {
  booking_id: string;
  pickup: { lat: number; lng: number };
  offered_at: string;
  expires_at: string;
}
