import { Errors, type ActionSchema, type Context } from "moleculer";
import type { z } from "zod";
import { AuthUserSchema, type AuthUser, type Role } from "./auth";
import { zodParams } from "./zod-validator";

/** What the gateway puts in ctx.meta for a call that came through the public API. */
export interface KilatMeta {
  user?: AuthUser | null;
  $statusCode?: number;
  $location?: string;
  $responseType?: string;
  $responseHeaders?: Record<string, string>;
}

export type ActionContext<P> = Context<P, KilatMeta>;

export interface ActionDefinition<TThis, S extends z.ZodType, R> {
  /** Who may call it through the gateway; the gateway answers 403 to anyone else. */
  roles?: readonly Role[];
  params: S;
  handler: (this: TThis, ctx: ActionContext<z.output<S>>) => Promise<R>;
}

/**
 * Typed actions for one service: `const action = actionsOf<BookingThis>();` then
 * `create: action({ roles, params: zodSchema, handler })` — params are parsed by ZodValidator
 * before the handler runs, so the handler sees the schema's output type.
 */
export function actionsOf<TThis>() {
  return <S extends z.ZodType, R>(definition: ActionDefinition<TThis, S, R>): ActionSchema<TThis> =>
    ({ ...definition, params: zodParams(definition.params) }) as unknown as ActionSchema<TThis>;
}

/**
 * The caller of a public action. The gateway sets it from a verified token; a call from
 * elsewhere (another service, the REPL) must pass a well-formed user too, or it is refused —
 * ownership checks never run on a half-filled identity.
 */
export function callerOf(ctx: ActionContext<unknown>): AuthUser {
  const user = AuthUserSchema.safeParse(ctx.meta.user);
  if (!user.success) {
    throw new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
  }
  return user.data;
}

export const notFound = (what: string) =>
  new Errors.MoleculerClientError(`${what} not found`, 404, "NOT_FOUND");

export const conflict = (message: string, data?: unknown) =>
  new Errors.MoleculerClientError(message, 409, "CONFLICT", data);
