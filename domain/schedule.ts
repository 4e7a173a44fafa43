/**
 * Bookings made ahead: when their pickup may be, how their payment follows the lead time, and
 * the deadlines that follow from the pickup. Pure: every time is given, none is read.
 *
 * Within the authorisation window a booking's card is held when it is paid for; beyond it the
 * card is saved, and held off-session `holdLeadMs` before the pickup. A hold that fails leaves the
 * owner until `payBy` to pay; a hold that would expire before its capture is renewed.
 */
export interface SchedulePolicy {
  /** How far ahead a pickup may be (BOOKING_MAX_LEAD_DAYS). */
  maxLeadMs: number;
  /** A pickup this far in the past is still "now": the caller's clock may run behind. */
  skewMs: number;
  /** A pickup within this is held at once (AUTH_WINDOW_HOURS). */
  authWindowMs: number;
  /** A saved card is held this long before the pickup (HOLD_LEAD_HOURS). */
  holdLeadMs: number;
  /** After a failed off-session hold, the owner has this long to pay (HOLD_RETRY_HOURS). */
  holdRetryMs: number;
  /** An authorisation lasts this long at the provider (AUTH_HOLD_DAYS). */
  authHoldMs: number;
  /** A hold expiring within this is renewed (RENEW_MARGIN_HOURS). */
  renewMarginMs: number;
  /** Dispatch of a scheduled booking starts this long before its pickup (DISPATCH_LEAD_MINUTES). */
  dispatchLeadMs: number;
  /** A held scheduled booking no runner took is cancelled this long after its pickup (ACCEPT_GRACE_MINUTES). */
  acceptGraceMs: number;
}

/** Two minutes: a phone's clock, and the time between a screen and the request. */
export const PICKUP_SKEW_MS = 2 * 60_000;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The policy from the configured numbers (config/defaults.ts SCHEDULE). */
export function schedulePolicy(numbers: {
  maxLeadDays: number;
  authWindowHours: number;
  holdLeadHours: number;
  holdRetryHours: number;
  authHoldDays: number;
  renewMarginHours: number;
  dispatchLeadMinutes: number;
  acceptGraceMinutes: number;
}): SchedulePolicy {
  return {
    maxLeadMs: numbers.maxLeadDays * DAY,
    skewMs: PICKUP_SKEW_MS,
    authWindowMs: numbers.authWindowHours * HOUR,
    holdLeadMs: numbers.holdLeadHours * HOUR,
    holdRetryMs: numbers.holdRetryHours * HOUR,
    authHoldMs: numbers.authHoldDays * DAY,
    renewMarginMs: numbers.renewMarginHours * HOUR,
    dispatchLeadMs: numbers.dispatchLeadMinutes * 60_000,
    acceptGraceMs: numbers.acceptGraceMinutes * 60_000,
  };
}

/** What is wrong with a pickup time asked for at `now`, or null. */
export function pickupProblem(pickupAt: Date, now: Date, policy: SchedulePolicy): string | null {
  const ahead = pickupAt.getTime() - now.getTime();
  if (ahead < -policy.skewMs) return "must not be in the past";
  if (ahead > policy.maxLeadMs) {
    return `at most ${Math.round(policy.maxLeadMs / DAY)} days ahead`;
  }
  return null;
}

/** How a booking is paid for at `now`: its card held, or saved to be held later. */
export type PaymentMode = "hold" | "save_card";

export function paymentMode(pickupAt: Date | null, now: Date, policy: SchedulePolicy): PaymentMode {
  if (!pickupAt) return "hold";
  return pickupAt.getTime() - now.getTime() > policy.authWindowMs ? "save_card" : "hold";
}

/** When a saved card is held off-session: HOLD_LEAD before the pickup. */
export const holdAt = (pickupAt: Date, policy: SchedulePolicy): Date =>
  new Date(pickupAt.getTime() - policy.holdLeadMs);

/** Until when the owner may pay after the off-session hold failed: never after the pickup. */
export const payBy = (failedAt: Date, pickupAt: Date, policy: SchedulePolicy): Date =>
  new Date(Math.min(failedAt.getTime() + policy.holdRetryMs, pickupAt.getTime()));

/** When a hold placed at `heldAt` lapses at the provider. */
export const holdExpiresAt = (heldAt: Date, policy: SchedulePolicy): Date =>
  new Date(heldAt.getTime() + policy.authHoldMs);

/** Whether a hold lapsing at `expiresAt` must be renewed at `now`. */
export const renewalDue = (expiresAt: Date, now: Date, policy: SchedulePolicy): boolean =>
  expiresAt.getTime() - now.getTime() <= policy.renewMarginMs;

/**
 * An hour beyond the renewal margin: no sweep, on any instance's clock, renews a hold lapsing
 * later than this from now.
 */
export const RENEWAL_CLOCK_SLACK_MS = 3_600_000;

/**
 * Whether a renewal may be replacing a hold lapsing at `expiresAt` (null: never renewed) while it
 * is settled at `now`: only then must a capture or release claim it first. Most holds are settled
 * days before they lapse, and skip the claim's write.
 */
export const renewalMayRace = (
  expiresAt: Date | null | undefined,
  now: Date,
  policy: Pick<SchedulePolicy, "renewMarginMs">,
): boolean =>
  expiresAt != null &&
  expiresAt.getTime() - now.getTime() <= policy.renewMarginMs + RENEWAL_CLOCK_SLACK_MS;

/** When a hold lapsing at `expiresAt` is renewed: RENEW_MARGIN before (what the sweep looks for). */
export const renewFrom = (now: Date, policy: SchedulePolicy): Date =>
  new Date(now.getTime() + policy.renewMarginMs);

/** When dispatch of a booking starts: at once (null) without a pickup time, else DISPATCH_LEAD before. */
export const dispatchStartsAt = (pickupAt: Date | null, policy: SchedulePolicy): Date | null =>
  pickupAt ? new Date(pickupAt.getTime() - policy.dispatchLeadMs) : null;

/**
 * When a held booking no runner accepted is cancelled: ACCEPT_TIMEOUT after its hold, or for a
 * scheduled one, ACCEPT_GRACE after its pickup.
 */
export const acceptDueAt = (
  heldAt: Date,
  pickupAt: Date | null,
  acceptTimeoutMs: number,
  policy: Pick<SchedulePolicy, "acceptGraceMs">,
): Date =>
  pickupAt
    ? new Date(pickupAt.getTime() + policy.acceptGraceMs)
    : new Date(heldAt.getTime() + acceptTimeoutMs);

/** Why a scheduled booking whose card could not be charged by its deadline is cancelled. */
export const CARD_NOT_CHARGED = "the card could not be charged for the scheduled trip";
