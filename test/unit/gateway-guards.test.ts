import { clientAddress, trustedProxies } from "../../lib/client-address";
import { publicExposition } from "../../lib/metrics-exposure";
import { secretWeakness, shownValue } from "../../lib/secrets";
import { SocketGuard } from "../../services/api/socket-guard";

describe("client address behind proxies (TRUSTED_PROXIES)", () => {
  const trusted = trustedProxies(["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);

  it("given an untrusted peer, ignores X-Forwarded-For", () => {
    expect(clientAddress("203.0.113.9", "198.51.100.1", trusted)).toEqual("203.0.113.9");
  });

  it("given no trusted proxies at all, uses the peer", () => {
    expect(clientAddress("127.0.0.1", "198.51.100.1", trustedProxies([]))).toEqual("127.0.0.1");
  });

  it("given a trusted peer, takes the right-most entry that is not a trusted proxy", () => {
    expect(clientAddress("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9", trusted)).toEqual(
      "198.51.100.7",
    );
  });

  it("given a spoofed left part, still takes what the trusted proxy saw", () => {
    expect(clientAddress("::ffff:127.0.0.1", "1.1.1.1, 2.2.2.2, 198.51.100.7", trusted)).toEqual(
      "198.51.100.7",
    );
  });

  it("given repeated headers, ports and IPv6 brackets, reads the addresses", () => {
    expect(clientAddress("10.0.0.1", ["1.1.1.1", "198.51.100.7:5555"], trusted)).toEqual(
      "198.51.100.7",
    );
    expect(clientAddress("fd00::1", "[2001:db8::5]:443", trusted)).toEqual("2001:db8::5");
  });

  it("given junk where an address should be, stays with the last trusted hop", () => {
    expect(clientAddress("10.0.0.1", "198.51.100.7, not-an-ip", trusted)).toEqual("10.0.0.1");
  });

  it("given only trusted hops, takes the left-most", () => {
    expect(clientAddress("10.0.0.1", "10.0.0.5, 10.0.0.6", trusted)).toEqual("10.0.0.5");
  });

  it.each([["10.0.0.0/33"], ["example.com"], ["1.2.3.4/8/1"], ["::1/129"]])(
    "refuses %s as a proxy entry",
    (entry) => {
      expect(() => trustedProxies([entry])).toThrow(`not an address or CIDR: ${entry}`);
    },
  );
});

describe("secret strength in production", () => {
  it.each([
    ["MyRealSecret123", "too short (15 characters)"],
    ["a".repeat(16), "too short (16 characters)"],
    ["a".repeat(64), "too repetitive (1 different characters)"],
    ["abcabcabcabcabcabcabcabcabcabcabcabc", "too repetitive (3 different characters)"],
  ])("refuses %s", (secret, weakness) => {
    expect(secretWeakness(secret)).toEqual(weakness);
  });

  it("accepts 32 random base64 characters", () => {
    expect(secretWeakness("q3V8pXk2Lr9TmWc4Zs7Yb1Nd6Hf0Jg5E")).toEqual(undefined);
  });

  it("never shows a secret's value, nor a URL's password", () => {
    expect(shownValue("JWT_SECRET", "MyRealSecret123")).toEqual("(value hidden, 15 characters)");
    expect(shownValue("METRICS_TOKEN", "x")).toEqual("(value hidden, 1 characters)");
    expect(shownValue("MONGO_URL", "http://user:pw@db:1")).toEqual('(got "http://***@db:1")');
    expect(shownValue("PORT", "eighty")).toEqual('(got "eighty")');
    expect(shownValue("PORT", undefined)).toEqual("(not set)");
  });
});

describe("the metrics exposition", () => {
  const text = [
    "# HELP os_hostname Hostname",
    "# TYPE os_hostname info",
    'os_hostname{value="vm"} 1',
    'os_user_homedir{value="/root"} 1',
    'os_network_mac{value="02:fc:00:00:00:01"} 1',
    'process_arguments{index="0",value="/usr/bin/node"} 1',
    'process_pid{value="1"} 1',
    "# TYPE process_memory_rss gauge",
    "process_memory_rss 1000",
    'moleculer_node_versions_moleculer{value="0.15.2"} 1',
    'moleculer_request_total{action="booking.get"} 3',
    'kilat_tracking_fixes_total{result="accepted"} 2',
  ].join("\n");

  it("keeps process numbers, request counters and Kilat's own; drops what describes the host", () => {
    expect(publicExposition(text)).toEqual(
      [
        "# TYPE process_memory_rss gauge",
        "process_memory_rss 1000",
        'moleculer_request_total{action="booking.get"} 3',
        'kilat_tracking_fixes_total{result="accepted"} 2',
      ].join("\n"),
    );
  });
});

describe("socket limits of one gateway", () => {
  const owner = { role: "owner" as const, sub: "u1" };

  it("gives a user at most SOCKET_MAX_PER_USER sockets, and a slot back when one closes", () => {
    const guard = new SocketGuard({
      maxPerUser: 2,
      maxRooms: 5,
      eventsPerSec: 10,
      fixesPerSec: 100,
    });
    const first = guard.open(owner);
    const second = guard.open(owner);
    expect([typeof first, typeof second, guard.open(owner)]).toEqual([
      "function",
      "function",
      undefined,
    ]);
    expect(typeof guard.open({ role: "runner", sub: "u1" })).toEqual("function");
    first?.();
    first?.();
    expect(typeof guard.open(owner)).toEqual("function");
    expect(guard.open(owner)).toEqual(undefined);
  });

  it("lets a socket send a burst of twice its rate, then its rate", () => {
    let now = 0;
    const guard = new SocketGuard(
      { maxPerUser: 2, maxRooms: 5, eventsPerSec: 10, fixesPerSec: 100 },
      () => now,
    );
    const burst = Array.from({ length: 25 }, () => guard.allowEvent("s1"));
    expect(burst.filter(Boolean)).toHaveLength(20);
    expect(guard.allowEvent("s2")).toEqual(true);
    now = 1000;
    expect(Array.from({ length: 12 }, () => guard.allowEvent("s1")).filter(Boolean)).toHaveLength(
      10,
    );
  });

  it("given a runner's fix budget, counts a batch by its size and refuses one that does not fit whole", () => {
    let now = 0;
    const runner = { role: "runner" as const, sub: "r1" };
    const guard = new SocketGuard(
      { maxPerUser: 2, maxRooms: 5, eventsPerSec: 10, fixesPerSec: 100 },
      () => now,
    );
    // One full batch at once, then nothing more until the rate refills it.
    expect([guard.allowFixes(runner, 500), guard.allowFixes(runner, 1)]).toEqual([true, false]);
    now = 1000;
    expect([guard.allowFixes(runner, 101), guard.allowFixes(runner, 100)]).toEqual([false, true]);
    expect(guard.allowFixes({ role: "runner", sub: "r2" }, 500)).toEqual(true);
  });

  it("caps the rooms of a socket", () => {
    const guard = new SocketGuard({
      maxPerUser: 2,
      maxRooms: 3,
      eventsPerSec: 10,
      fixesPerSec: 100,
    });
    expect([typeof guard.reserveRoom("s1", 2), guard.reserveRoom("s2", 3)]).toEqual([
      "function",
      undefined,
    ]);
  });

  it("given joins still being checked, when another comes, then they count as rooms taken", () => {
    const guard = new SocketGuard({
      maxPerUser: 2,
      maxRooms: 3,
      eventsPerSec: 10,
      fixesPerSec: 100,
    });
    const first = guard.reserveRoom("s1", 1);
    const second = guard.reserveRoom("s1", 1);
    expect([guard.reserveRoom("s1", 1), guard.joiningRooms("s1")]).toEqual([undefined, 2]);
    expect(typeof guard.reserveRoom("s2", 1)).toEqual("function");
    // A refused check gives its slot back; a second release changes nothing.
    first?.();
    first?.();
    expect(guard.joiningRooms("s1")).toEqual(1);
    expect(typeof guard.reserveRoom("s1", 1)).toEqual("function");
    second?.();
  });
});
