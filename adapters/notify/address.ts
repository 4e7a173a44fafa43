import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Which addresses a webhook may be sent to. An allow-list, not a deny-list: an IPv6 address must
 * be global unicast (2000::/3) outside the special-purpose blocks, and every form that carries
 * an IPv4 address (mapped, compatible, NAT64, 6to4) is judged by that IPv4 address, because
 * that is where the packets end up.
 */

const subnets = (type: "ipv4" | "ipv6", list: [string, number][]) => {
  const blocks = new BlockList();
  for (const [network, prefix] of list) blocks.addSubnet(network, prefix, type);
  return blocks;
};

/** IANA IPv4 special-purpose registry (and multicast, reserved, broadcast): never a receiver. */
const SPECIAL_V4 = subnets("ipv4", [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and 255.255.255.255
]);

const GLOBAL_UNICAST_V6 = subnets("ipv6", [["2000::", 3]]);

/** The special-purpose blocks inside 2000::/3 (6to4, 2002::/16, is judged by its IPv4 part). */
const SPECIAL_V6 = subnets("ipv6", [
  ["2001::", 23], // IETF protocol assignments, Teredo (2001::/32) among them
  ["2001:db8::", 32], // documentation
  ["3fff::", 20], // documentation
]);

/** An IPv6 address (already checked by isIPv6, no zone) as its eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...fill, ...right].map((group) => parseInt(group, 16));
}

const ipv4Of = (high: number, low: number) =>
  [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");

/** The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one. */
function embeddedIPv4(groups: number[]): string | undefined {
  const zeros = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  if (zeros(0, 5) && groups[5] === 0xffff) return ipv4Of(groups[6], groups[7]); // ::ffff:a.b.c.d
  if (zeros(0, 6)) return ipv4Of(groups[6], groups[7]); // ::a.b.c.d, and :: and ::1
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) {
    return ipv4Of(groups[6], groups[7]); // NAT64 well-known prefix 64:ff9b::/96
  }
  if (groups[0] === 0x2002) return ipv4Of(groups[1], groups[2]); // 6to4
  return undefined;
}

/**
 * Whether an address is a public unicast one that a webhook may be sent to. False for anything
 * that is not an IP address, and for scoped (`%zone`) addresses, which are never global.
 */
export function isPublicAddress(address: string): boolean {
  switch (isIP(address)) {
    case 4:
      return !SPECIAL_V4.check(address, "ipv4");
    case 6: {
      if (address.includes("%")) return false;
      const groups = ipv6Groups(address);
      const v4 = embeddedIPv4(groups);
      if (v4 !== undefined) return isPublicAddress(v4);
      const canonical = groups.map((group) => group.toString(16)).join(":");
      return GLOBAL_UNICAST_V6.check(canonical, "ipv6") && !SPECIAL_V6.check(canonical, "ipv6");
    }
    default:
      return false;
  }
}

/** Every address a host name stands for, in the resolver's order. */
export type Resolve = (hostname: string) => Promise<string[]>;

/**
 * The system resolver, except that localhost names are loopback without asking (RFC 6761):
 * a resolver that does not know `api.localhost` must not make it look like a public name.
 */
export const systemResolve: Resolve = async (hostname) => {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) return ["127.0.0.1"];
  return (await lookup(hostname, { all: true, verbatim: true })).map(({ address }) => address);
};

/** How a webhook's host is resolved and which of its addresses may be connected to. */
export interface AddressPolicy {
  resolve: Resolve;
  permits: (address: string) => boolean;
}

export const addressPolicy = (
  allowInternal: boolean,
  resolve: Resolve = systemResolve,
): AddressPolicy => ({ resolve, permits: allowInternal ? () => true : isPublicAddress });

/**
 * Where a webhook may be sent: the one address to connect to, checked — so the connection goes
 * exactly where the check looked, and a name re-pointed in between (DNS rebinding) changes
 * nothing. A name is refused if any of its addresses is refused; `unresolved` if it has none.
 */
export type Target =
  { kind: "pinned"; address: string } | { kind: "refused" } | { kind: "unresolved" };

/** A URL's host as an address or a name: IPv6 without brackets, a name without the root dot. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");

export async function resolveTarget(
  url: URL,
  policy: AddressPolicy,
  deadline: AbortSignal,
): Promise<Target> {
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      // A name whose DNS answers slowly must not hold the caller: past the deadline it counts
      // as not resolving (the lookup itself runs on until the OS resolver gives up).
      addresses = await Promise.race([policy.resolve(host), abortion(deadline)]);
    } catch {
      return { kind: "unresolved" };
    }
  }
  if (addresses.length === 0) return { kind: "unresolved" };
  if (!addresses.every((address) => isIP(address) && policy.permits(address))) {
    return { kind: "refused" };
  }
  return { kind: "pinned", address: addresses[0] };
}

/** Rejects once `signal` aborts (at once if it has). */
function abortion(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason as Error);
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

/**
 * Whether a new subscription's URL may be taken with internal addresses refused: its host
 * resolves, within `timeoutMs`, to allowed addresses only.
 */
export async function pointsOutside(
  url: URL,
  { timeoutMs, resolve }: { timeoutMs: number; resolve?: Resolve },
): Promise<boolean> {
  const target = await resolveTarget(
    url,
    addressPolicy(false, resolve),
    AbortSignal.timeout(timeoutMs),
  );
  return target.kind === "pinned";
}
