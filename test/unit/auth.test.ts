import jwt from "jsonwebtoken";
import { callerOf } from "../../lib/action";
import { AuthError, bearerToken, signToken, verifyToken } from "../../lib/auth";

const SECRET = "unit-test-secret-0123456789";

describe("JWT auth", () => {
  it("given a signed token, returns its subject and role", () => {
    expect(verifyToken(signToken({ sub: "owner-1", role: "owner" }, SECRET), SECRET)).toEqual({
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
    expect(() => verifyToken(token, SECRET)).toThrow(AuthError);
    try {
      verifyToken(token, SECRET);
    } catch (error) {
      expect((error as AuthError).reason).toEqual(reason);
    }
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
