import { STATUS_CODES } from "node:http";

/**
 * The one place HTTP statuses are written (test/unit/http-status-source.test.ts holds the rest
 * of the server to it): REST answers, socket acknowledgements, the probes, the API document.
 */
export const HTTP_STATUS = {
  OK: 200,
  CREATED: 201,
  ACCEPTED: 202,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_ENTITY: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;

export type HttpStatus = (typeof HTTP_STATUS)[keyof typeof HTTP_STATUS];

/**
 * The one mapping from what an action's answer came to, to the HTTP status the API answers
 * (REST and socket acknowledgements alike). Services and domain rules never name a status:
 * they refuse with a type (a domain rejection, a validation error, a rate limit) or report an
 * outcome, and the error or the gateway takes its status from here.
 */
export const STATUS_OF_ERROR_TYPE: Record<string, number> = {
  UNAUTHORIZED: HTTP_STATUS.UNAUTHORIZED,
  FORBIDDEN: HTTP_STATUS.FORBIDDEN,
  NOT_FOUND: HTTP_STATUS.NOT_FOUND,
  CONFLICT: HTTP_STATUS.CONFLICT,
  VALIDATION_ERROR: HTTP_STATUS.UNPROCESSABLE_ENTITY,
  RATE_LIMITED: HTTP_STATUS.TOO_MANY_REQUESTS,
};

/** A new resource, or a request taken that settles later. */
export const STATUS_OF_OUTCOME = {
  created: HTTP_STATUS.CREATED,
  queued: HTTP_STATUS.ACCEPTED,
} as const;
export type ActionOutcome = keyof typeof STATUS_OF_OUTCOME;

/** The caller's fault: a 4xx. */
export const isClientError = (status: number): boolean =>
  status >= HTTP_STATUS.BAD_REQUEST && status < HTTP_STATUS.INTERNAL_SERVER_ERROR;

/** The server's fault (or a server it called): a 5xx, or a code beyond. */
export const isServerError = (status: number): boolean =>
  status >= HTTP_STATUS.INTERNAL_SERVER_ERROR;

/** A status an error answer may carry: a 4xx or a 5xx. */
export const isErrorStatus = (status: number): boolean =>
  isClientError(status) || (isServerError(status) && status < 600);

/** The first line of a raw HTTP/1.1 answer, for a socket written to by hand. */
export const statusLine = (status: HttpStatus): string =>
  `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`;
