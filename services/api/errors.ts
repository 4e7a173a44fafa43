/**
 * The one shape of what the API answers when something went wrong: every REST error and every
 * socket acknowledgement goes through `errorBody`.
 */
export interface HttpError extends Error {
  code?: number | string;
  status?: number;
  type?: string;
  data?: unknown;
}

/** Moleculer's own errors: they name actions and nodes, so callers get a generic answer. */
const TRANSIENT_ERRORS: Record<string, { status: number; message: string }> = {
  SERVICE_NOT_FOUND: { status: 503, message: "Service temporarily unavailable" },
  SERVICE_NOT_AVAILABLE: { status: 503, message: "Service temporarily unavailable" },
  REQUEST_REJECTED: { status: 503, message: "Service temporarily unavailable" },
  REQUEST_SKIPPED: { status: 504, message: "Upstream timeout" },
  REQUEST_TIMEOUT: { status: 504, message: "Upstream timeout" },
  QUEUE_FULL: { status: 429, message: "Too many requests, retry later" },
};

/** The status and body of every error answer: Moleculer's shape, without stacks or internal names. */
export function errorBody(error: HttpError): { status: number; body: Record<string, unknown> } {
  const transient = error.type ? TRANSIENT_ERRORS[error.type] : undefined;
  if (transient) {
    const type = transient.status === 429 ? "RATE_LIMITED" : "SERVER_ERROR";
    const name = transient.status === 429 ? "TooManyRequests" : "ServerError";
    return {
      status: transient.status,
      body: { name, message: transient.message, code: transient.status, type },
    };
  }
  if (error.type === "entity.parse.failed") {
    return {
      status: 400,
      body: { name: "BadRequest", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" },
    };
  }
  if (error.type === "entity.too.large") {
    return {
      status: 413,
      body: {
        name: "PayloadTooLarge",
        message: "Request body too large",
        code: 413,
        type: "PAYLOAD_TOO_LARGE",
      },
    };
  }
  const raw = typeof error.code === "number" ? error.code : error.status;
  const status = typeof raw === "number" && raw >= 400 && raw < 600 ? raw : 500;
  if (status >= 500) {
    const message =
      status === 503
        ? "Service temporarily unavailable"
        : status === 504
          ? "Upstream timeout"
          : "Internal server error";
    return { status, body: { name: "ServerError", message, code: status, type: "SERVER_ERROR" } };
  }
  return {
    status,
    body: {
      name: error.name,
      message: error.message,
      code: status,
      type: error.type ?? null,
      data: error.data ?? null,
    },
  };
}
