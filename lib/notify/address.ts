import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/** Loopback, private, link-local (cloud metadata), unique-local and unspecified addresses. */
export function isInternalAddress(address: string): boolean {
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split(".").map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const v6 = address.toLowerCase();
  return v6 === "::" || v6 === "::1" || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6);
}

/**
 * Whether a webhook URL points inside the network it would be sent from: its host literal, or
 * any address the host resolves to. Checked when subscribing and again before every send (a
 * name can be re-pointed after it was checked).
 */
export async function pointsInside(url: string): Promise<boolean> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host)) return isInternalAddress(host);
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.some(({ address }) => isInternalAddress(address));
  } catch {
    return false; // unresolvable: the send will fail and be retried, nothing reached inside
  }
}
