/** The platform's share of a captured amount, in basis points; the runner gets the rest, so the two always add up. */
export function splitFee(
  capturedCents: number,
  feeBps: number,
): { platformFeeCents: number; runnerPayoutCents: number } {
  const platformFeeCents = Math.round((capturedCents * feeBps) / 10_000);
  return { platformFeeCents, runnerPayoutCents: capturedCents - platformFeeCents };
}

/**
 * A hold of `heldCents` settled with `refundCents` going back to the owner: the rest is captured
 * and split (the fee is taken on the captured part only), so payout + fee + refunded = held.
 */
export function splitHold(
  heldCents: number,
  refundCents: number,
  feeBps: number,
): {
  capturedCents: number;
  platformFeeCents: number;
  runnerPayoutCents: number;
  refundedCents: number;
} {
  const capturedCents = heldCents - refundCents;
  return { capturedCents, ...splitFee(capturedCents, feeBps), refundedCents: refundCents };
}
