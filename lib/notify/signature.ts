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

/** Attempts before a delivery is given up (and marked failed). */
export const MAX_ATTEMPTS = 8;
