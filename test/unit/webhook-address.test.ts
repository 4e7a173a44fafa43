import {
  addressPolicy,
  isPublicAddress,
  pointsOutside,
  resolveTarget,
  systemResolve,
  type Resolve,
} from "../../adapters/notify/address";
import { ISSUE_19_INTERNAL_URLS } from "../support/internal-urls";

describe("isPublicAddress: may a webhook be sent to this address?", () => {
  it.each([
    // IPv4 special-purpose registry, multicast, reserved, broadcast
    ["0.0.0.0", false],
    ["0.1.2.3", false],
    ["10.1.2.3", false],
    ["100.64.0.1", false],
    ["100.127.255.255", false],
    ["127.0.0.1", false],
    ["127.255.0.9", false],
    ["169.254.169.254", false],
    ["172.16.0.1", false],
    ["172.31.255.255", false],
    ["192.0.0.8", false],
    ["192.0.2.10", false],
    ["192.88.99.1", false],
    ["192.168.1.1", false],
    ["198.18.0.1", false],
    ["198.19.255.254", false],
    ["198.51.100.7", false],
    ["203.0.113.9", false],
    ["224.0.0.1", false],
    ["239.255.255.250", false],
    ["240.0.0.1", false],
    ["255.255.255.255", false],
    // IPv4 public, including the neighbours of the ranges above
    ["8.8.8.8", true],
    ["1.1.1.1", true],
    ["100.63.255.255", true],
    ["100.128.0.1", true],
    ["172.15.255.255", true],
    ["172.32.0.1", true],
    ["198.17.255.255", true],
    ["198.20.0.1", true],
    ["223.255.255.254", true],
    // IPv6 special
    ["::", false],
    ["::1", false],
    ["fc00::1", false],
    ["fd00::1", false],
    ["fe80::1", false],
    ["fe80::1%eth0", false],
    ["fec0::1", false],
    ["ff02::1", false],
    ["ff0e::1", false],
    ["100::1", false],
    ["2001:db8::1", false],
    ["2001::1", false], // Teredo
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", false], // Teredo
    ["2001:2::1", false], // benchmarking
    ["3fff::1", false],
    ["64:ff9b:1::7f00:1", false], // local-use NAT64
    ["::ffff:0:7f00:1", false], // SIIT
    // IPv4 inside IPv6, judged by the IPv4 part: every form from issue 19
    ["::ffff:127.0.0.1", false],
    ["::ffff:7f00:1", false],
    ["0:0:0:0:0:ffff:127.0.0.1", false],
    ["::ffff:169.254.169.254", false],
    ["::ffff:a9fe:a9fe", false],
    ["::127.0.0.1", false],
    ["::7f00:1", false],
    ["64:ff9b::7f00:1", false],
    ["64:ff9b::127.0.0.1", false],
    ["64:ff9b::a00:1", false],
    ["2002:7f00:1::", false], // 6to4 of 127.0.0.1
    ["2002:c0a8:101::1", false], // 6to4 of 192.168.1.1
    ["::ffff:8.8.8.8", true],
    ["::ffff:808:808", true],
    ["64:ff9b::808:808", true],
    ["2002:808:808::1", true],
    // IPv6 global unicast
    ["2606:4700::1111", true],
    ["2a00:1450:4001:80b::200e", true],
    ["2001:4860:4860::8888", true],
    // not an address
    ["localhost", false],
    ["example.com", false],
    ["", false],
    ["1.2.3.04", false],
  ])("%s → %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

/** A deadline no test here comes near. */
const soon = () => AbortSignal.timeout(5000);

describe("resolveTarget: where a webhook URL may be sent", () => {
  const refusing = addressPolicy(false);

  it.each([
    ...ISSUE_19_INTERNAL_URLS,
    "http://127.0.0.1:8080/hook",
    "http://0x7f.1/hook",
    "http://2130706433/hook",
    "http://[::1]/hook",
    "http://localhost/hook",
    "http://localhost./hook",
    "http://api.localhost/hook",
  ])("given internal addresses refused, %s is refused", async (url) => {
    expect(await resolveTarget(new URL(url), refusing, soon())).toEqual({ kind: "refused" });
  });

  it("given a literal public address, when resolving, then it is the target and DNS is not asked", async () => {
    const resolve = jest.fn<ReturnType<Resolve>, Parameters<Resolve>>();
    expect(
      await resolveTarget(
        new URL("https://[2606:4700::1111]/hook"),
        addressPolicy(false, resolve),
        soon(),
      ),
    ).toEqual({ kind: "pinned", address: "2606:4700::1111" });
    expect(resolve).not.toHaveBeenCalled();
  });

  it("given a name with one internal address among public ones, when resolving, then it is refused", async () => {
    const resolve: Resolve = () => Promise.resolve(["8.8.8.8", "10.0.0.5"]);
    expect(
      await resolveTarget(
        new URL("https://partner.example/hook"),
        addressPolicy(false, resolve),
        soon(),
      ),
    ).toEqual({ kind: "refused" });
  });

  it("given a name with public addresses only, when resolving, then the first is pinned, asked once", async () => {
    const resolve = jest.fn<ReturnType<Resolve>, Parameters<Resolve>>(() =>
      Promise.resolve(["2606:4700::1111", "1.1.1.1"]),
    );
    expect(
      await resolveTarget(
        new URL("https://partner.example./hook"),
        addressPolicy(false, resolve),
        soon(),
      ),
    ).toEqual({ kind: "pinned", address: "2606:4700::1111" });
    expect(resolve.mock.calls).toEqual([["partner.example"]]);
  });

  it("given a name that does not resolve, or resolves to nothing, when resolving, then it is unresolved", async () => {
    const failing: Resolve = () => Promise.reject(new Error("ENOTFOUND"));
    const empty: Resolve = () => Promise.resolve([]);
    const url = new URL("https://partner.example/hook");
    expect(await resolveTarget(url, addressPolicy(false, failing), soon())).toEqual({
      kind: "unresolved",
    });
    expect(await resolveTarget(url, addressPolicy(false, empty), soon())).toEqual({
      kind: "unresolved",
    });
  });

  it("given internal addresses allowed, when resolving loopback, then it is pinned", async () => {
    expect(
      await resolveTarget(new URL("http://localhost:8080/hook"), addressPolicy(true), soon()),
    ).toEqual({ kind: "pinned", address: "127.0.0.1" });
  });

  it("resolves localhost names to loopback without asking DNS", async () => {
    expect(await systemResolve("api.localhost")).toEqual(["127.0.0.1"]);
  });
});

describe("pointsOutside: may a new subscription's URL be taken", () => {
  /** A DNS server that answers after `delayMs`, with a public address. */
  const slowDns =
    (delayMs: number): Resolve =>
    () =>
      new Promise((resolve) => setTimeout(() => resolve(["8.8.8.8"]), delayMs).unref());

  it("given a name resolving to public addresses in time, when checked, then it is taken", async () => {
    const url = new URL("https://partner.example/hook");
    expect(await pointsOutside(url, { timeoutMs: 500, resolve: slowDns(10) })).toEqual(true);
  });

  it("given a name whose DNS answers after the deadline, when checked, then it is refused at the deadline", async () => {
    const started = Date.now();
    const taken = await pointsOutside(new URL("https://slow.example/hook"), {
      timeoutMs: 100,
      resolve: slowDns(60_000),
    });
    const waitedMs = Date.now() - started;
    expect([taken, waitedMs >= 90 && waitedMs < 2000]).toEqual([false, true]);
  }, 5000);

  it("given a name that never answers, when checked, then it is refused like one that does not resolve", async () => {
    const never: Resolve = () => new Promise<string[]>(() => undefined);
    const failing: Resolve = () => Promise.reject(new Error("ENOTFOUND"));
    const url = new URL("https://partner.example/hook");
    expect([
      await pointsOutside(url, { timeoutMs: 50, resolve: never }),
      await pointsOutside(url, { timeoutMs: 50, resolve: failing }),
    ]).toEqual([false, false]);
  }, 5000);
});
