import type { GeoIndex } from "../../adapters/geo-index";
import type { LruCache } from "../../lib/lru-cache";
import type { RateLimiter } from "../../lib/rate-limit";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { dispatchModel, type DispatchDoc } from "../../models/dispatch.model";
import { runnerRatingModel } from "../../models/runner-rating.model";
import { runnerModel } from "../../models/runner.model";

export const models = {
  runners: runnerModel,
  dispatches: dispatchModel,
  runnerRatings: runnerRatingModel,
};

export type RunnerThis = DomainServiceThis<
  typeof models,
  {
    geo: GeoIndex;
    closeGeo: () => Promise<void>;
    /** Fixes per runner by the time they were recorded (LOCATION_RATE_LIMIT). */
    limiter: RateLimiter;
    /** Fixes per runner by the time they arrive, a batch by its size (LOCATION_ARRIVALS_PER_SEC). */
    arrivals: RateLimiter;
    /** Each runner's active booking as last read, for the age of the fixes naming it. */
    trips: LruCache<string, ActiveTrip>;
    /** When searching bookings were last tried again by the sweep. */
    lastSearchRetry: number;
    /** The dispatch try running here per booking, and the one queued behind it. */
    dispatching: Map<string, DispatchTry>;
  }
>;

/** A booking's dispatch try in this instance; `next`: the one every caller meanwhile shares. */
export interface DispatchTry {
  running: Promise<Tried>;
  next: Promise<Tried> | null;
}

/** The runner offered (or null), and the dispatch as the try left it (null: not known). */
export interface Tried {
  runnerId: string | null;
  state: DispatchDoc | null;
}

/** A runner's active booking and when it was accepted (epoch ms), as read at `checkedAt`. */
export interface ActiveTrip {
  booking_id: string | null;
  since: number | null;
  checkedAt: number;
}
