import jwt from "jsonwebtoken";
import { callerOf } from "../../lib/action";
import {
  AuthError,
  bearerToken,
  readToken,
  signToken,
  verifyToken,
  type TokenPolicy,
} from "../../lib/auth";

const SECRET = "unit-test-secret-0123456789";
const POLICY: TokenPolicy = { secret: SECRET, maxTtlSeconds: 24 * 3600 };
const NOW_S = 1_800_000_000;
/** A token with exactly the claims given, signed with the test secret. */
const withClaims = (claims: Record<string, unknown>, options: jwt.SignOptions = {}) =>
  jwt.sign({ sub: "a", role: "owner", ...claims }, SECRET, {
    // jsonwebtoken stamps the real time as iat unless told not to (and drops a given one then).
    noTimestamp: claims.iat === undefined,
    ...options,
  });
/** The reason and message a token is refused with, as of NOW_S. */
const refusal = (token: string, policy: TokenPolicy = POLICY) => {
  try {
    readToken(token, policy, NOW_S * 1000);
  } catch (error) {
    if (error instanceof AuthError) return [error.reason, error.message];
    throw error;
  }
  return ["accepted"];
};

describe("JWT auth", () => {
  it("given a signed token, returns its subject and role", () => {
    expect(verifyToken(signToken({ sub: "owner-1", role: "owner" }, SECRET), POLICY)).toEqual({
      sub: "owner-1",
      role: "owner",
    });
  });

  it.each([
    ["missing", undefined, "missing"],
    [
      "signed with another secret",
      signToken({ sub: "a", role: "admin" }, "another-secret-0123456789"),
      "invalid",
    ],
    ["expired", signToken({ sub: "a", role: "owner" }, SECRET, -10), "expired"],
    ["with an unknown role", jwt.sign({ role: "root" }, SECRET, { subject: "a" }), "invalid"],
    ["without a subject", jwt.sign({ role: "owner" }, SECRET), "invalid"],
    [
      "unsigned (alg none)",
      jwt.sign({ role: "admin", sub: "a" }, "", { algorithm: "none" }),
      "invalid",
    ],
    [
      "signed with HS512",
      jwt.sign({ role: "owner" }, SECRET, { subject: "a", algorithm: "HS512" }),
      "invalid",
    ],
  ])("rejects a token that is %s", (_label, token, reason) => {
    expect(() => verifyToken(token, POLICY)).toThrow(AuthError);
    try {
      verifyToken(token, POLICY);
    } catch (error) {
      expect((error as AuthError).reason).toEqual(reason);
    }
  });

  it("given a token within its lifetime, returns who and until when", () => {
    const token = withClaims({ iat: NOW_S - 60, exp: NOW_S + 3600 });
    expect(readToken(token, POLICY, NOW_S * 1000)).toEqual({
      user: { sub: "a", role: "owner" },
      expiresAtMs: (NOW_S + 3600) * 1000,
    });
  });

  it.each([
    [
      "living ten years",
      { iat: NOW_S, exp: NOW_S + 10 * 365 * 86400 },
      "token lifetime longer than the 86400 s allowed (JWT_MAX_TTL)",
    ],
    [
      "a day and a second long",
      { iat: NOW_S - 10, exp: NOW_S + 86391 },
      "token lifetime longer than the 86400 s allowed (JWT_MAX_TTL)",
    ],
    [
      "without iat, living longer than allowed from now",
      { exp: NOW_S + 86401 },
      "token lifetime longer than the 86400 s allowed (JWT_MAX_TTL)",
    ],
    [
      "issued a year in the future",
      { iat: NOW_S + 365 * 86400, exp: NOW_S + 365 * 86400 + 60 },
      "token issued in the future (iat)",
    ],
    [
      "issued 61 s ahead of our clock",
      { iat: NOW_S + 61, exp: NOW_S + 3600 },
      "token issued in the future (iat)",
    ],
    ["without an expiry", { iat: NOW_S }, "token has no expiry (exp)"],
    [
      "expiring before it was issued",
      { iat: NOW_S + 30, exp: NOW_S + 10 },
      "token expires before it was issued",
    ],
  ])("refuses a token %s", (_label, claims, message) => {
    expect(refusal(withClaims(claims))).toEqual(["invalid", message]);
  });

  it.each([
    ["a bidi override", "owner\u202E1"],
    ["a NUL", "owner\u00001"],
    ["a space", "owner 1"],
    ["a zero-width space", "owner\u200B1"],
  ])("refuses a subject with %s", (_label, sub) => {
    expect(refusal(withClaims({ sub, iat: NOW_S, exp: NOW_S + 60 }))).toEqual([
      "invalid",
      "invalid token",
    ]);
  });

  it("refuses a token that names critical header extensions (crit)", () => {
    const token = withClaims(
      { iat: NOW_S, exp: NOW_S + 60 },
      { header: { alg: "HS256", crit: ["exp2"] } },
    );
    expect(refusal(token)).toEqual(["invalid", "token names critical extensions (crit)"]);
  });

  it("given a token issued 60 s ahead of our clock (skew), accepts it", () => {
    expect(refusal(withClaims({ iat: NOW_S + 60, exp: NOW_S + 3600 }))).toEqual(["accepted"]);
  });

  it("given JWT_ISSUER and JWT_AUDIENCE, accepts only tokens that carry both", () => {
    const policy = { ...POLICY, issuer: "kilat", audience: "kilat-app" };
    const claims = { iat: NOW_S, exp: NOW_S + 3600 };
    expect(refusal(withClaims(claims, { issuer: "kilat", audience: "kilat-app" }), policy)).toEqual(
      ["accepted"],
    );
    expect(refusal(withClaims(claims, { audience: "kilat-app" }), policy)).toEqual([
      "invalid",
      "token issuer not accepted",
    ]);
    expect(refusal(withClaims(claims, { issuer: "kilat", audience: "other" }), policy)).toEqual([
      "invalid",
      "token audience not accepted",
    ]);
    expect(refusal(withClaims(claims), POLICY)).toEqual(["accepted"]);
  });

  it("signs the configured issuer and audience into a token", () => {
    const token = signToken({ sub: "a", role: "admin" }, SECRET, "1h", {
      issuer: "kilat",
      audience: "kilat-app",
    });
    expect(jwt.decode(token)).toEqual(
      expect.objectContaining({ iss: "kilat", aud: "kilat-app", sub: "a", role: "admin" }),
    );
  });

  it("reads only Bearer authorization headers", () => {
    expect(bearerToken("Bearer abc.def.ghi")).toEqual("abc.def.ghi");
    expect(bearerToken("bearer abc")).toEqual("abc");
    expect(bearerToken("Basic dXNlcjpwYXNz")).toEqual(undefined);
    expect(bearerToken(undefined)).toEqual(undefined);
  });
});

describe("callerOf", () => {
  const ctx = (user: unknown) => ({ meta: { user } }) as unknown as Parameters<typeof callerOf>[0];

  it("returns a well-formed caller", () => {
    expect(callerOf(ctx({ sub: "owner-1", role: "owner" }))).toEqual({
      sub: "owner-1",
      role: "owner",
    });
  });

  it.each([
    [undefined],
    [null],
    [{ sub: "owner-1" }],
    [{ sub: "", role: "owner" }],
    [{ sub: "x", role: "root" }],
  ])("refuses %j with a 401: no ownership check runs on a half-filled identity", (user) => {
    expect(() => callerOf(ctx(user))).toThrow(
      expect.objectContaining({ code: 401, type: "UNAUTHORIZED" }) as Error,
    );
  });
});
