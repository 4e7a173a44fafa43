import { BlockList, isIP } from "node:net";

/**
 * Who the client is when proxies stand in front of the gateway (TRUSTED_PROXIES). Only a peer we
 * trust may tell us, in X-Forwarded-For, whom it forwards for; anything else in that header is
 * what the client wrote, and must not pick its own rate-limit bucket.
 */

/** An IPv4 address as IPv6 shows it (`::ffff:1.2.3.4`), as plain IPv4; other text unchanged. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/** An X-Forwarded-For entry without its port or brackets (`[::1]:80`, `1.2.3.4:5678`). */
function entryAddress(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1];
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4WithPort ? v4WithPort[1] : entry;
}

/** The proxies to trust, from addresses and CIDR ranges; a problem names the entry. */
export function trustedProxies(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const [address, prefix, extra] = raw.split("/");
    const family = isIP(plain(address));
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined) throw new RangeError(`not an address or CIDR: ${raw}`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) {
      list.addAddress(plain(address), type);
      continue;
    }
    const length = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!(length >= 0 && length <= bits)) throw new RangeError(`not an address or CIDR: ${raw}`);
    list.addSubnet(plain(address), length, type);
  }
  return list;
}

function isTrusted(address: string, trusted: BlockList): boolean {
  const family = isIP(address);
  return family !== 0 && trusted.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: the direct peer, unless the peer is a trusted proxy; then the right-most
 * X-Forwarded-For entry that is not a trusted proxy (the left part is the client's to write). An
 * entry that is no address stops the walk at the last trusted hop: junk makes no new bucket.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList,
): string {
  let client = plain(peer ?? "unknown");
  if (!isTrusted(client, trusted) || forwardedFor === undefined) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
    .split(",")
    .map((entry) => plain(entryAddress(entry.trim())))
    .filter((entry) => entry !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    if (isIP(hops[i]) === 0) return client;
    client = hops[i];
    if (!isTrusted(client, trusted)) return client;
  }
  return client;
}
