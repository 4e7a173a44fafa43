import { z } from "zod";
import { ROLES } from "../domain/access";
import { contracts } from "./action";

export const TrackParams = z
  .object({
    id: z.string().min(1).max(64),
    limit: z.coerce.number().int().min(1).max(2000).default(500),
  })
  .strict();

/** For the gateway: may this user watch the booking's live room? */
export const MayWatchParams = z.object({
  booking_id: z.string().min(1).max(64),
  user_id: z.string().min(1).max(128),
  role: z.enum(ROLES),
});

export const TRACKING_ACTIONS = contracts({
  get: { roles: ["owner", "runner", "admin"], params: TrackParams },
  mayWatch: { params: MayWatchParams, internal: true },
});

/** What the live channel pushes for every accepted fix (`track:update`). */
export interface LiveFix {
  booking_id: string;
  lat: number;
  lng: number;
  speed_kmh: number;
  heading_degrees: number | null;
  recorded_at: string;
  total_distance_km: number;
  eta_seconds: number | null;
}

/** A runner going online or offline, or where it is: for the admin dashboard. */
export interface LiveRunnerChange {
  kind: "online" | "offline" | "location";
  runner_id: string;
  lat?: number;
  lng?: number;
  at: string;
}
