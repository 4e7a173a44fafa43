import { createHmac, timingSafeEqual } from "node:crypto";

/** The header a delivery carries: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = "kilat-signature";

export function sign(secret: string, body: string, timestamp: number): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/**
 * What a receiver runs (the README shows it): the signature matches the body, and the
 * timestamp is recent, so a captured delivery cannot be replayed later.
 */
export function verify(
  secret: string,
  body: string,
  header: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(
    header.split(",").map((part) => part.split("=", 2) as [string, string]),
  );
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
    return false;
  }
  const expected = Buffer.from(sign(secret, body, timestamp).split("v1=")[1], "hex");
  const given = Buffer.from(parts.v1 ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Exponential backoff for delivery attempts: 1 s, 2 s, 4 s … capped at 5 min. */
export function nextDelayMs(failedAttempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, failedAttempts - 1));
}

/**
 * An attempt is written within a moment of its deadline (the lookup and the POST share it); from
 * then on it is settled: listed, and counted from for the retry.
 */
export const SETTLE_MARGIN_MS = 1000;

/** When an attempt that started at `startedAt`, under a `deadlineMs` time limit, is settled. */
export const settledAt = (startedAt: Date, deadlineMs: number) =>
  startedAt.getTime() + deadlineMs + SETTLE_MARGIN_MS;

/**
 * When the next attempt is due after `failedAttempts` failed ones, the last started at
 * `startedAt`: the backoff after it settled, plus up to a quarter of it at random. Counted from
 * the start and the deadline, never from when the attempt ended, so neither the schedule nor the
 * next attempt's time tells a refused connection from a timeout; the random part keeps retries
 * to one receiver out of step.
 */
export function retryDueAt(
  startedAt: Date,
  failedAttempts: number,
  deadlineMs: number,
  random: () => number = Math.random,
): Date {
  const backoff = nextDelayMs(failedAttempts);
  return new Date(
    settledAt(startedAt, deadlineMs) + backoff + Math.floor((random() * backoff) / 4),
  );
}

/** Attempts before a delivery is given up (and marked failed). */
export const MAX_ATTEMPTS = 8;
