/** Crockford base32 without I, L, O, U: unambiguous when read over the phone. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** `KLT-20261126-7Q4M2C`: the day (UTC) and six random symbols (~1e9 per day). */
export function bookingNumber(now: Date, random: (size: number) => Uint8Array): string {
  const day = now.toISOString().slice(0, 10).replaceAll("-", "");
  const suffix = Array.from(random(6), (byte) => ALPHABET[byte % ALPHABET.length]).join("");
  return `KLT-${day}-${suffix}`;
}
