import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { z } from "zod";
import { ROLES, type Role, type User } from "../domain/access";

export { ROLES, type Role };
/** Who is calling: the verified claims of a bearer token. */
export type AuthUser = User;

/**
 * A subject is an identifier, shown as `owner_id` and on the operations page: no white space,
 * control, format (bidi, zero-width) or half-surrogate characters in it.
 */
export const AuthUserSchema = z.object({
  sub: z
    .string()
    .min(1)
    .max(128)
    .regex(
      /^[^\p{Cc}\p{Cf}\p{Cs}\p{Z}]+$/u,
      "expected an identifier without spaces or control characters",
    ),
  role: z.enum(ROLES),
});

export class AuthError extends Error {
  constructor(
    readonly reason: "missing" | "invalid" | "expired",
    detail?: string,
  ) {
    super(
      detail ??
        (reason === "missing"
          ? "missing bearer token"
          : reason === "expired"
            ? "token expired"
            : "invalid token"),
    );
    this.name = "AuthError";
  }
}

/** What a token must satisfy besides its signature (JWT_MAX_TTL, JWT_ISSUER, JWT_AUDIENCE). */
export interface TokenPolicy {
  secret: string;
  /** The longest lifetime (exp - iat) accepted: a stolen long-lived token stays useful for long. */
  maxTtlSeconds: number;
  issuer?: string;
  audience?: string;
}

/** Clocks of the issuer and ours drift: an `iat` this far ahead of ours is still taken. */
export const CLOCK_SKEW_SECONDS = 60;

/** A token's claims: who, and until when (a token without an expiry is refused). */
const ClaimsSchema = AuthUserSchema.extend({ exp: z.number(), iat: z.number().optional() });

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

export function signToken(
  user: AuthUser,
  secret: string,
  expiresIn: string | number = "12h",
  claims: { issuer?: string; audience?: string } = {},
) {
  return jwt.sign({ role: user.role }, keyOf(secret), {
    algorithm: "HS256",
    subject: user.sub,
    expiresIn: expiresIn as jwt.SignOptions["expiresIn"],
    ...(claims.issuer ? { issuer: claims.issuer } : {}),
    ...(claims.audience ? { audience: claims.audience } : {}),
  });
}

/** A verified token: who, and when it stops being valid (a socket is closed then). */
export interface VerifiedToken {
  user: AuthUser;
  expiresAtMs: number;
}

/**
 * Verifies an HS256 token (the only algorithm accepted) against the policy: signature, expiry,
 * issuer and audience when configured, a bounded lifetime, and an issue time not in the future.
 */
export function readToken(
  token: string | undefined,
  policy: TokenPolicy,
  nowMs: number = Date.now(),
): VerifiedToken {
  if (!token) throw new AuthError("missing");
  let payload: string | jwt.JwtPayload;
  try {
    const verified = jwt.verify(token, keyOf(policy.secret), {
      algorithms: ["HS256"],
      clockTimestamp: Math.floor(nowMs / 1000),
      complete: true,
      ...(policy.issuer ? { issuer: policy.issuer } : {}),
      ...(policy.audience ? { audience: policy.audience } : {}),
    });
    // RFC 7515 §4.1.11: a token naming extensions it must be understood with is refused by a
    // reader that understands none.
    if ((verified.header as { crit?: unknown }).crit !== undefined) {
      throw new AuthError("invalid", "token names critical extensions (crit)");
    }
    payload = verified.payload;
  } catch (error) {
    if (error instanceof AuthError) throw error;
    if (error instanceof jwt.TokenExpiredError) throw new AuthError("expired");
    const claim = /jwt (issuer|audience) invalid/.exec((error as Error).message)?.[1];
    throw new AuthError("invalid", claim ? `token ${claim} not accepted` : undefined);
  }
  const claims = ClaimsSchema.safeParse(payload);
  if (!claims.success) {
    const noExpiry = typeof payload === "object" && payload.exp === undefined;
    throw new AuthError("invalid", noExpiry ? "token has no expiry (exp)" : undefined);
  }
  const { sub, role, exp, iat } = claims.data;
  const now = nowMs / 1000;
  if (iat !== undefined && iat > now + CLOCK_SKEW_SECONDS) {
    throw new AuthError("invalid", "token issued in the future (iat)");
  }
  if (iat !== undefined && iat > exp)
    throw new AuthError("invalid", "token expires before it was issued");
  // Without an iat, the lifetime left is what counts.
  if (exp - (iat ?? now) > policy.maxTtlSeconds) {
    throw new AuthError(
      "invalid",
      `token lifetime longer than the ${policy.maxTtlSeconds} s allowed (JWT_MAX_TTL)`,
    );
  }
  return { user: { sub, role }, expiresAtMs: exp * 1000 };
}

/** The caller a token names (see `readToken`). */
export function verifyToken(token: string | undefined, policy: TokenPolicy): AuthUser {
  return readToken(token, policy).user;
}

/** The token of an `Authorization: Bearer …` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1];
}

/** The token policy a configuration sets. */
export function tokenPolicy(config: {
  jwtSecret: string;
  jwt: { maxTtlMs: number; issuer: string | undefined; audience: string | undefined };
}): TokenPolicy {
  return {
    secret: config.jwtSecret,
    maxTtlSeconds: config.jwt.maxTtlMs / 1000,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  };
}
