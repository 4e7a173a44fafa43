import {
  RATING_TIE_LOOKS,
  nextCandidate,
  preferRated,
  type Candidate,
} from "../../domain/dispatch";
import { mayCarry } from "../../domain/eligibility";
import type { PetNeeds } from "../../domain/pets";
import { MAX_STARS, averageOf } from "../../domain/ratings";
import type { RunnerDoc } from "../../models/runner.model";
import type { RunnerThis } from "./models";

/**
 * What one round of tries (a runner coming online, a sweep) has learnt of the runners near its
 * bookings: a runner's document while free, null once not (busy, offered, or taken by this round).
 * The next booking of the round asks the database only about runners not known yet.
 */
export type RunnerSnapshot = Map<string, RunnerDoc | null>;

interface FreeOptions {
  radiusKm: number;
  tried: ReadonlySet<string>;
  busy: Set<string>;
  needs: PetNeeds | undefined;
  /**
   * With DISPATCH_PREFER_RATED: among the free runners within this of the nearest free one, the
   * best rated (domain/dispatch.ts `preferRated`).
   */
  preferRatedWithinKm?: number | null;
}

/**
 * The runner to offer the booking to: the nearest free one that may carry its pets
 * (`nearestFree`), or, when better rated runners are preferred, the best rated of it and the free
 * ones among the next RATING_TIE_LOOKS about as near. Those compared and not chosen stay free, for
 * this booking too.
 */
export async function firstFree(
  service: RunnerThis,
  near: readonly Candidate[],
  options: FreeOptions,
  seen: RunnerSnapshot,
): Promise<Candidate | null> {
  const first = await nearestFree(service, near, options, seen);
  const tieKm = options.preferRatedWithinKm;
  if (!first || tieKm === undefined || tieKm === null) return first;
  const rated = (candidate: Candidate) => ({
    ...candidate,
    average: averageOf(seen.get(candidate.runnerId)?.rating),
  });
  const tied = [rated(first)];
  // Looked at: passed over while looking further, for this search only.
  const looked = new Set([...options.busy, first.runnerId]);
  const within = { ...options, radiusKm: Math.min(options.radiusKm, first.distanceKm + tieKm) };
  // A perfect rating is never beaten by a runner further away: no need to read on.
  const unbeatable = () => tied.some((candidate) => candidate.average === MAX_STARS);
  for (let looks = 0; looks < RATING_TIE_LOOKS && !unbeatable(); looks++) {
    const next = nextCandidate(near, { ...within, busy: looked });
    if (!next) break;
    looked.add(next.runnerId);
    const free = await freeRunner(service, next.runnerId, seen);
    if (free && mayCarry(free, options.needs) === null) tied.push(rated(next));
  }
  const [best] = preferRated(tied, tieKm);
  return near.find((candidate) => candidate.runnerId === best.runnerId) ?? first;
}

/**
 * The nearest of `near` that is free and may carry the booking's pets (`needs`: verified, and
 * able to), learning runners one at a time, nearest first, by `_id` (FerretDB narrows by `_id`
 * alone: a query for several runners reads the whole collection, however many runners it
 * holds); a runner found taken, or unable to carry these pets, joins `busy` (this booking's).
 * A runner unable to carry them stays free in `seen` for the round's other bookings.
 */
async function nearestFree(
  service: RunnerThis,
  near: readonly Candidate[],
  options: FreeOptions,
  seen: RunnerSnapshot,
): Promise<Candidate | null> {
  for (;;) {
    const candidate = nextCandidate(near, options);
    if (!candidate) return null;
    const free = await freeRunner(service, candidate.runnerId, seen);
    if (free && mayCarry(free, options.needs) === null) return candidate;
    options.busy.add(candidate.runnerId);
  }
}

/** The runner's document if it is free (online, no offer, no booking), as the round knows it. */
async function freeRunner(
  service: RunnerThis,
  runnerId: string,
  seen: RunnerSnapshot,
): Promise<RunnerDoc | null> {
  if (!seen.has(runnerId)) {
    const free = await service.models.runners
      .findOne(
        { _id: runnerId, availability: "online", offer: null, active_booking_id: null },
        { outbox: 0 },
      )
      .lean<RunnerDoc>();
    seen.set(runnerId, free);
  }
  return seen.get(runnerId) ?? null;
}
