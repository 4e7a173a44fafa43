import type { OfferEntity, RunnerEntity } from "../../contracts";
import { decide, type Runner, type RunnerCommand } from "../../domain/runner";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import type { GeoIndex } from "../../adapters/geo-index";
import type { LruCache } from "../../lib/lru-cache";
import type { RateLimiter } from "../../lib/rate-limit";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { dispatchModel, type DispatchDoc } from "../../models/dispatch.model";
import { runnerModel, type RunnerDoc } from "../../models/runner.model";

export const models = { runners: runnerModel, dispatches: dispatchModel };

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

/** Lost races (two consumers on one runner or booking) are decided again on what is stored then. */
export const RETRIES = 3;

export const runnersOf = (service: RunnerThis): AggregateStore<RunnerDoc> =>
  service.aggregate(service.models.runners, "runner");

export const dispatchesOf = (service: RunnerThis): AggregateStore<DispatchDoc> =>
  service.aggregate(service.models.dispatches, "dispatch");

/** One command to a runner's document, decided on what is stored (and again on a lost race). */
export function commandRunner(
  service: RunnerThis,
  runnerId: string,
  command: RunnerCommand,
  known?: RunnerDoc | null,
): Promise<Outcome<RunnerDoc>> {
  return runnersOf(service).execute(runnerId, decide, () => command, RETRIES, known);
}

/** The runner's document, created (offline) on first use. */
export async function ensureRunner(service: RunnerThis, runnerId: string): Promise<RunnerDoc> {
  const known = await runnersOf(service).load(runnerId);
  if (known) return known;
  const at = new Date();
  // Known missing: read just now, not again.
  const registered = await commandRunner(
    service,
    runnerId,
    { type: "register", runner_id: runnerId, at },
    null,
  );
  // Not registered: a concurrent first call registered it.
  return registered.ok
    ? registered.state
    : ((await runnersOf(service).load(runnerId)) as RunnerDoc);
}

export const toOffer = (doc: Runner): OfferEntity[] =>
  doc.offer
    ? [
        {
          booking_id: doc.offer.booking_id,
          pickup: { lat: doc.offer.pickup.lat, lng: doc.offer.pickup.lng },
          offered_at: doc.offer.offered_at.toISOString(),
          expires_at: doc.offer.expires_at.toISOString(),
        },
      ]
    : [];

/** A runner as the API shows it, with its live position from the geo index. */
export async function runnerEntity(service: RunnerThis, doc: Runner): Promise<RunnerEntity> {
  const live = doc.availability === "offline" ? null : await service.geo.get(doc._id);
  return {
    runner_id: doc._id,
    name: doc.name,
    vehicle: doc.vehicle,
    stripe_account_id: doc.stripe_account_id,
    availability: doc.availability,
    active_booking_id: doc.active_booking_id,
    position: live ? { lat: live.lat, lng: live.lng, reported_at: live.at.toISOString() } : null,
  };
}
