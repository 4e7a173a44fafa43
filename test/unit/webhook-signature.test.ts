import {
  MAX_ATTEMPTS,
  nextDelayMs,
  retryDueAt,
  settledAt,
  sign,
  verify,
} from "../../adapters/notify/signature";

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

  it("given an attempt's start, when scheduling the retry, then it is due after the deadline and the backoff, with at most a quarter more at random", () => {
    const started = new Date("2030-01-01T00:00:00.000Z");
    const at = (failed: number, random: number) =>
      retryDueAt(started, failed, 5000, () => random).toISOString();
    expect([at(1, 0), at(1, 0.999), at(3, 0.5)]).toEqual([
      "2030-01-01T00:00:07.000Z", // settled at 6 s, then 1 s
      "2030-01-01T00:00:07.249Z",
      "2030-01-01T00:00:10.500Z", // settled at 6 s, then 4 s and an eighth of it
    ]);
    expect(settledAt(started, 5000)).toEqual(started.getTime() + 6000);
  });
});
