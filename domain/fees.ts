/** The platform's share of a captured amount, in basis points; the runner gets the rest, so the two always add up. */
export function splitFee(
  capturedCents: number,
  feeBps: number,
): { platformFeeCents: number; runnerPayoutCents: number } {
  const platformFeeCents = Math.round((capturedCents * feeBps) / 10_000);
  return { platformFeeCents, runnerPayoutCents: capturedCents - platformFeeCents };
}
