/**
 * Secrets in the configuration: what production takes as strong enough, and how a problem with
 * one is reported without its value (an error message ends up in logs and terminals).
 */

export const SECRET_MIN_LENGTH = 32;
export const SECRET_MIN_DISTINCT = 12;

/** The rule, as an operator reads it. */
export const SECRET_RULE = `at least ${SECRET_MIN_LENGTH} characters, at least ${SECRET_MIN_DISTINCT} of them different (e.g. \`openssl rand -base64 32\`)`;

/** Why a production secret is too weak to guess-proof a signature, or undefined when it is not. */
export function secretWeakness(secret: string): string | undefined {
  if (secret.length < SECRET_MIN_LENGTH) return `too short (${secret.length} characters)`;
  const distinct = new Set(secret).size;
  if (distinct < SECRET_MIN_DISTINCT) return `too repetitive (${distinct} different characters)`;
  return undefined;
}

/** Variables whose values are never shown (RATE_LIMIT_PER_TOKEN is a number, not a token). */
export function isSecretName(name: string): boolean {
  return /SECRET|PASSWORD|_KEY$/.test(name) || name === "METRICS_TOKEN";
}

/** What a config error says of a value: a secret's length only; a URL without its password. */
export function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return "(not set)";
  if (isSecretName(name)) return `(value hidden, ${value.length} characters)`;
  return `(got ${JSON.stringify(value.replace(/\/\/[^/@\s]*@/, "//***@"))})`;
}
