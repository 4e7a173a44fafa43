import { Errors, type ActionSchema, type Context } from "moleculer";
import type { z } from "zod";
import type { ActionContract } from "../contracts/action";
import type { Rejection, RejectionKind } from "../domain/decider";
import type { Outcome } from "./aggregate";
import { AuthUserSchema, type AuthUser } from "./auth";
import { HTTP_STATUS, STATUS_OF_ERROR_TYPE, type ActionOutcome } from "./http-status";
import { zodParams } from "./zod-validator";

/** What the gateway puts in ctx.meta for a call that came through the public API. */
export interface KilatMeta {
  user?: AuthUser | null;
  /** The request's `Idempotency-Key` header, where an app sent one. */
  idempotencyKey?: string;
  /** What the answer came to beyond its body; the gateway makes it a status (http-status.ts). */
  $outcome?: ActionOutcome;
  $location?: string;
  $responseType?: string;
  $responseHeaders?: Record<string, string>;
}

export type ActionContext<P> = Context<P, KilatMeta>;

/**
 * Typed actions for one service: `const action = actionsOf<BookingThis>();` then
 * `create: action(BOOKING_ACTIONS.create, handler)` — the contract (contracts/) names who may
 * call it and its zod schema; params are parsed by ZodValidator before the handler runs, so the
 * handler sees the schema's output type.
 */
export function actionsOf<TThis>() {
  return <C extends ActionContract, R>(
    contract: C,
    handler: (this: TThis, ctx: ActionContext<z.output<C["params"]>>) => Promise<R>,
  ): ActionSchema<TThis> => {
    const schema = {
      ...(contract.roles ? { roles: contract.roles } : {}),
      // "public": other services may call it; only "published" actions are the gateway's.
      ...(contract.internal ? { visibility: "public" as const } : {}),
      params: zodParams(contract.params),
      handler,
    };
    return schema;
  };
}

/**
 * The caller of a public action. The gateway sets it from a verified token; a call from
 * elsewhere (another service, the REPL) must pass a well-formed user too, or it is refused —
 * ownership checks never run on a half-filled identity.
 */
export function callerOf(ctx: ActionContext<unknown>): AuthUser {
  const user = AuthUserSchema.safeParse(ctx.meta.user);
  if (!user.success) throw clientError("UNAUTHORIZED", "Authentication required");
  return user.data;
}

/** The error types a caller can get for a refusal; the gateway maps each to a status code. */
export const REJECTION_TYPES: Record<RejectionKind, string> = {
  not_found: "NOT_FOUND",
  forbidden: "FORBIDDEN",
  conflict: "CONFLICT",
};

/** A caller's mistake, named by its type (NOT_FOUND, CONFLICT, RATE_LIMITED, …). */
export const clientError = (type: string, message: string, data?: unknown) =>
  new Errors.MoleculerClientError(
    message,
    STATUS_OF_ERROR_TYPE[type] ?? HTTP_STATUS.BAD_REQUEST,
    type,
    data,
  );

/** A domain refusal, thrown to the caller. */
export const rejected = (rejection: Rejection) =>
  clientError(REJECTION_TYPES[rejection.kind], rejection.message, rejection.data);

export const notFound = (what: string) => clientError("NOT_FOUND", `${what} not found`);

/** The stored aggregate, or the refusal thrown. */
export function orThrow<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw rejected(outcome.rejection);
  return outcome.state;
}
