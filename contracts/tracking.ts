import { z } from "zod";
import { ROLES } from "../domain/access";
import type { ClearedBy, WelfareReason } from "../domain/welfare";
import { isoTime } from "../events/schemas";
import { contracts } from "./action";
import { NoParams } from "./common";

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

/** For the booking service: where the trip's runner was at a handover. */
export const PositionAtParams = z
  .object({ booking_id: z.string().min(1).max(64), at: isoTime })
  .strict();

export const TRACKING_ACTIONS = contracts({
  get: { roles: ["owner", "runner", "admin"], params: TrackParams },
  mayWatch: { params: MayWatchParams, internal: true },
  welfareAlerts: { roles: ["admin"], params: NoParams },
  positionAt: { params: PositionAtParams, internal: true },
});

/** A welfare alert as a trip's page shows it. */
export interface WelfareEntity {
  reason: WelfareReason;
  /** stationary: when the runner stopped; silent: when it was last heard from. */
  since: string;
  raised_at: string;
  /** Where the runner stopped (or was last seen still); null before any fix since the pickup. */
  position: { lat: number; lng: number } | null;
}

/** A welfare alert on the operations page: the trip, its parties, where the runner was last. */
export interface WelfareAlertEntity extends WelfareEntity {
  booking_id: string;
  booking_number: string;
  runner_id: string | null;
  owner_id: string;
  pet_name: string | null;
  last_position: { lat: number; lng: number; recorded_at: string } | null;
}

export interface ClearedWelfareAlertEntity extends WelfareAlertEntity {
  cleared_at: string;
  cleared_by: ClearedBy;
}

/** `GET /api/ops/welfare-alerts`: the open alerts and those cleared in the last hour, newest first. */
export interface WelfareAlertsEntity {
  open: WelfareAlertEntity[];
  cleared: ClearedWelfareAlertEntity[];
}

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
