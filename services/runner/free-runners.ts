import { nextCandidate, type Candidate } from "../../domain/dispatch";
import { mayCarry } from "../../domain/eligibility";
import type { PetNeeds } from "../../domain/pets";
import type { RunnerDoc } from "../../models/runner.model";
import type { RunnerThis } from "./models";

/**
 * What one round of tries (a runner coming online, a sweep) has learnt of the runners near its
 * bookings: a runner's document while free, null once not (busy, offered, or taken by this round).
 * The next booking of the round asks the database only about runners not known yet.
 */
export type RunnerSnapshot = Map<string, RunnerDoc | null>;

/**
 * The nearest of `near` that is free and may carry the booking's pets (`needs`: verified, and
 * able to), learning runners one at a time, nearest first, by `_id` (FerretDB narrows by `_id`
 * alone: a query for several runners reads the whole collection, however many runners it
 * holds); a runner found taken, or unable to carry these pets, joins `busy` (this booking's).
 * A runner unable to carry them stays free in `seen` for the round's other bookings.
 */
export async function firstFree(
  service: RunnerThis,
  near: readonly Candidate[],
  options: {
    radiusKm: number;
    tried: ReadonlySet<string>;
    busy: Set<string>;
    needs: PetNeeds | undefined;
  },
  seen: RunnerSnapshot,
): Promise<Candidate | null> {
  for (;;) {
    const candidate = nextCandidate(near, options);
    if (!candidate) return null;
    if (!seen.has(candidate.runnerId)) {
      const free = await service.models.runners
        .findOne(
          { _id: candidate.runnerId, availability: "online", offer: null, active_booking_id: null },
          { outbox: 0 },
        )
        .lean<RunnerDoc>();
      seen.set(candidate.runnerId, free);
    }
    const free = seen.get(candidate.runnerId);
    if (free && mayCarry(free, options.needs) === null) return candidate;
    options.busy.add(candidate.runnerId);
  }
}
