import { MAX_ATTEMPTS, nextDelayMs, sign, verify } from "../../lib/notify/signature";

describe("webhook signatures", () => {
  const secret = "whsec_test";
  const body = '{"id":"1","type":"booking.requested"}';
  const t = 1_790_000_000;

  it("verifies its own signature, and nothing altered", () => {
    const header = sign(secret, body, t);
    expect(header).toMatch(/^t=1790000000,v1=[0-9a-f]{64}$/);
    expect(verify(secret, body, header, t)).toBe(true);
    expect(verify(secret, body.replace("1", "2"), header, t)).toBe(false);
    expect(verify("whsec_other", body, header, t)).toBe(false);
    expect(verify(secret, body, header.replace(`t=${t}`, `t=${t + 1}`), t)).toBe(false);
    expect(verify(secret, body, "garbage", t)).toBe(false);
  });

  it("refuses a signature older or newer than the tolerance (a replayed delivery)", () => {
    const header = sign(secret, body, t);
    expect(verify(secret, body, header, t + 300)).toBe(true);
    expect(verify(secret, body, header, t + 301)).toBe(false);
    expect(verify(secret, body, header, t - 301)).toBe(false);
  });

  it("backs off exponentially, bounded", () => {
    expect([1, 2, 3, 4].map(nextDelayMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(nextDelayMs(30)).toBe(300_000);
    expect(MAX_ATTEMPTS).toBeGreaterThan(3);
  });
});
