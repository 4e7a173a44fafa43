/**
 * The one mapping from what an action's answer came to, to the HTTP status the API answers
 * (REST and socket acknowledgements alike). Services and domain rules never name a status:
 * they refuse with a type (a domain rejection, a validation error, a rate limit) or report an
 * outcome, and the error or the gateway takes its status from here.
 */
export const STATUS_OF_ERROR_TYPE: Record<string, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  VALIDATION_ERROR: 422,
  RATE_LIMITED: 429,
};

/** A new resource, or a request taken that settles later. */
export const STATUS_OF_OUTCOME = { created: 201, queued: 202 } as const;
export type ActionOutcome = keyof typeof STATUS_OF_OUTCOME;
