/** A runner who could take a booking, and how far they are from its pickup. */
export interface Candidate {
  runnerId: string;
  distanceKm: number;
}

/**
 * The runner to offer a booking to next: nearest first (ties by runnerId) among candidates within
 * radiusKm, skipping runners already tried for this booking and runners that are not free (open
 * offer or active booking). null when none.
 *
 * Ties break on runnerId by code unit, not locale, so every instance picks the same runner. One
 * pass instead of a sort: it is called once per offer, and only the first is needed.
 */
export function nextCandidate(
  candidates: readonly Candidate[],
  options: { radiusKm: number; tried: ReadonlySet<string>; busy: ReadonlySet<string> },
): Candidate | null {
  let best: Candidate | null = null;
  for (const candidate of candidates) {
    const { runnerId, distanceKm } = candidate;
    // `>= 0` also drops NaN: a runner with no known position is not "near".
    if (!(distanceKm >= 0 && distanceKm <= options.radiusKm)) continue;
    if (options.tried.has(runnerId) || options.busy.has(runnerId)) continue;
    if (
      best === null ||
      distanceKm < best.distanceKm ||
      (distanceKm === best.distanceKm && runnerId < best.runnerId)
    ) {
      best = candidate;
    }
  }
  return best;
}
