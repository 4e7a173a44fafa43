import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { z } from "zod";
import { ROLES, type Role, type User } from "../domain/access";

export { ROLES, type Role };
/** Who is calling: the verified claims of a bearer token. */
export type AuthUser = User;

export const AuthUserSchema = z.object({ sub: z.string().min(1).max(128), role: z.enum(ROLES) });

export class AuthError extends Error {
  constructor(readonly reason: "missing" | "invalid" | "expired") {
    super(
      reason === "missing"
        ? "missing bearer token"
        : reason === "expired"
          ? "token expired"
          : "invalid token",
    );
    this.name = "AuthError";
  }
}

/** A token's claims: who, and until when (a token without an expiry is refused). */
const ClaimsSchema = AuthUserSchema.extend({ exp: z.number() });

const keys = new Map<string, KeyObject>();
/**
 * The secret as a key object, made once: given a string, jsonwebtoken first tries to read it as
 * a public key and makes the secret key from the failure, on every call.
 */
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = createSecretKey(Buffer.from(secret))));
  return key;
}

export function signToken(user: AuthUser, secret: string, expiresIn: string | number = "12h") {
  return jwt.sign({ role: user.role }, keyOf(secret), {
    algorithm: "HS256",
    subject: user.sub,
    expiresIn: expiresIn as jwt.SignOptions["expiresIn"],
  });
}

/** Verifies an HS256 token (the only algorithm accepted) and returns its claims. */
export function verifyToken(token: string | undefined, secret: string): AuthUser {
  if (!token) throw new AuthError("missing");
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, keyOf(secret), { algorithms: ["HS256"] });
  } catch (error) {
    throw new AuthError(error instanceof jwt.TokenExpiredError ? "expired" : "invalid");
  }
  const claims = ClaimsSchema.safeParse(payload);
  if (!claims.success) throw new AuthError("invalid");
  return { sub: claims.data.sub, role: claims.data.role };
}

/** The token of an `Authorization: Bearer …` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1];
}
