import type { z } from "zod";
import type { Role } from "../domain/access";

/**
 * What callers rely on of an action: who may call it through the gateway (`roles`; the gateway
 * answers 403 to anyone else), what it takes (a zod schema, the one validation dialect), and
 * whether it is for other services only (`internal`: never reachable through the gateway). The
 * service gives it a handler; the gateway documents it (OpenAPI) from here.
 */
export interface ActionContract<S extends z.ZodType = z.ZodType> {
  roles?: readonly Role[];
  params: S;
  internal?: true;
  /**
   * Makes something new each time it runs (a booking, a webhook): the framework does not run it
   * again on another node when its node died mid-call — unless the app sent an Idempotency-Key,
   * which makes a second run find what the first made.
   */
  creates?: true;
}

/** Checks a service's table of contracts while keeping each one's own schema type. */
export const contracts = <T extends Record<string, ActionContract>>(table: T): T => table;
