import type { TrackState, TrackingPolicy } from "../../domain/tracking";
import type { Welfare, WelfarePolicy } from "../../domain/welfare";
import type { DomainEvent } from "../../events/envelope";
import type { GroupCommit } from "../../lib/group-commit";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { trackModel, waypointModel, type WaypointDoc } from "../../models/track.model";

export const models = { tracks: trackModel, waypoints: waypointModel };

export interface Progress {
  state: TrackState;
  eta: number | null;
}

/** An active track as the fix path keeps it in memory. */
export interface CachedTrack {
  id: string;
  bookingId: string;
  runnerId: string;
  dropoff: { lat: number; lng: number } | null;
  /** After the last judged fix: the next fix is judged against it. */
  live: Progress;
  /** After the last stored fix: what a checkpoint saves. */
  stored: Progress;
  /**
   * The welfare watch after the last judged fix (domain/welfare.ts); null before the pickup. Its
   * alerts are stored as they open and close; the rest goes with each checkpoint.
   */
  welfare: Welfare | null;
  loadedAt: number;
  /** Stored fixes since its last checkpoint. */
  dirty: boolean;
}

/** One batch's writes: its waypoints, its `tracking.updated` events, where it leaves its tracks. */
export interface FixWrites {
  waypoints: WaypointDoc[];
  updates: DomainEvent[];
  progress: Map<CachedTrack, Progress>;
}

export type TrackingThis = DomainServiceThis<
  typeof models,
  {
    policy: TrackingPolicy;
    welfarePolicy: WelfarePolicy;
    /** booking id → active track; runner id → its latest active booking. */
    active: Map<string, CachedTrack>;
    byRunner: Map<string, string>;
    /** runner id → when its position last went to the admin room. */
    lastAdminPush: Map<string, number>;
    fixWriter: GroupCommit<FixWrites>;
  }
>;
