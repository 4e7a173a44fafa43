import { isInternalAddress, pointsInside } from "../../lib/notify/address";

describe("webhook address checks", () => {
  it.each([
    ["127.0.0.1", true],
    ["10.1.2.3", true],
    ["172.16.0.1", true],
    ["172.31.255.255", true],
    ["192.168.1.1", true],
    ["169.254.169.254", true],
    ["100.64.0.1", true],
    ["0.0.0.0", true],
    ["::1", true],
    ["fd00::1", true],
    ["fe80::1", true],
    ["::ffff:10.0.0.1", true],
    ["8.8.8.8", false],
    ["172.32.0.1", false],
    ["2606:4700::1111", false],
  ])("%s internal: %s", (address, internal) => {
    expect(isInternalAddress(address)).toBe(internal);
  });

  it("looks at the URL's host: literals, localhost names, and what a name resolves to", async () => {
    expect(await pointsInside("http://127.0.0.1:8080/hook")).toBe(true);
    expect(await pointsInside("http://[::1]/hook")).toBe(true);
    expect(await pointsInside("http://localhost/hook")).toBe(true);
    expect(await pointsInside("http://api.localhost/hook")).toBe(true);
    expect(await pointsInside("https://93.184.216.34/hook")).toBe(false);
  });
});
