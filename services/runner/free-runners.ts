import { nextCandidate, type Candidate } from "../../domain/dispatch";
import type { RunnerDoc } from "../../models/runner.model";
import type { RunnerThis } from "./models";

/**
 * What one round of tries (a runner coming online, a sweep) has learnt of the runners near its
 * bookings: a runner's document while free, null once not (busy, offered, or taken by this round).
 * The next booking of the round asks the database only about runners not known yet.
 */
export type RunnerSnapshot = Map<string, RunnerDoc | null>;

/**
 * The nearest of `near` that is free, learning runners one at a time, nearest first, by `_id`
 * (FerretDB narrows by `_id` alone: a query for several runners reads the whole collection,
 * however many runners it holds); a runner found taken joins `busy`.
 */
export async function firstFree(
  service: RunnerThis,
  near: readonly Candidate[],
  options: { radiusKm: number; tried: ReadonlySet<string>; busy: Set<string> },
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
    if (seen.get(candidate.runnerId)) return candidate;
    options.busy.add(candidate.runnerId);
  }
}
