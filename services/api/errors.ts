import type { IncomingMessage } from "node:http";
import { Errors } from "moleculer";
import { HTTP_STATUS, isClientError, isErrorStatus, isServerError } from "../../lib/http-status";

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

const UNAVAILABLE = "Service temporarily unavailable";
const TIMED_OUT = "Upstream timeout";

/** Moleculer's own errors: they name actions and nodes, so callers get a generic answer. */
const TRANSIENT_ERRORS: Record<string, { status: number; message: string }> = {
  SERVICE_NOT_FOUND: { status: HTTP_STATUS.SERVICE_UNAVAILABLE, message: UNAVAILABLE },
  SERVICE_NOT_AVAILABLE: { status: HTTP_STATUS.SERVICE_UNAVAILABLE, message: UNAVAILABLE },
  REQUEST_REJECTED: { status: HTTP_STATUS.SERVICE_UNAVAILABLE, message: UNAVAILABLE },
  REQUEST_SKIPPED: { status: HTTP_STATUS.GATEWAY_TIMEOUT, message: TIMED_OUT },
  REQUEST_TIMEOUT: { status: HTTP_STATUS.GATEWAY_TIMEOUT, message: TIMED_OUT },
  QUEUE_FULL: { status: HTTP_STATUS.TOO_MANY_REQUESTS, message: "Too many requests, retry later" },
};

/** The status and body of every error answer: Moleculer's shape, without stacks or internal names. */
export function errorBody(error: HttpError): { status: number; body: Record<string, unknown> } {
  const transient = error.type ? TRANSIENT_ERRORS[error.type] : undefined;
  if (transient) {
    const limited = transient.status === HTTP_STATUS.TOO_MANY_REQUESTS;
    const type = limited ? "RATE_LIMITED" : "SERVER_ERROR";
    const name = limited ? "TooManyRequests" : "ServerError";
    return {
      status: transient.status,
      body: { name, message: transient.message, code: transient.status, type },
    };
  }
  if (error.type === "entity.parse.failed") {
    const status = HTTP_STATUS.BAD_REQUEST;
    return {
      status,
      body: {
        name: "BadRequest",
        message: "Malformed JSON body",
        code: status,
        type: "INVALID_JSON",
      },
    };
  }
  if (error.type === "entity.too.large") {
    const status = HTTP_STATUS.PAYLOAD_TOO_LARGE;
    return {
      status,
      body: {
        name: "PayloadTooLarge",
        message: "Request body too large",
        code: status,
        type: "PAYLOAD_TOO_LARGE",
      },
    };
  }
  const raw = typeof error.code === "number" ? error.code : error.status;
  const status =
    typeof raw === "number" && isErrorStatus(raw) ? raw : HTTP_STATUS.INTERNAL_SERVER_ERROR;
  if (isServerError(status)) {
    const message =
      status === HTTP_STATUS.SERVICE_UNAVAILABLE
        ? UNAVAILABLE
        : status === HTTP_STATUS.GATEWAY_TIMEOUT
          ? TIMED_OUT
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

/**
 * What a request shed under overload gets (lib/load-shedding.ts), with its Retry-After: the 503
 * of the error shape, with a type of its own, so an app tells "the gateway is full, retry
 * shortly" from a failure (SERVER_ERROR) and from its own excess (429 RATE_LIMITED).
 */
export const OVERLOADED_BODY = {
  name: "ServiceUnavailable",
  message: "The server is overloaded: retry after the Retry-After seconds",
  code: HTTP_STATUS.SERVICE_UNAVAILABLE,
  type: "OVERLOADED",
};

/** An error of body-parser (http-errors): its status, and its kind when it names one. */
interface BodyParserError extends Error {
  status?: number;
  type?: string;
  encoding?: string;
  charset?: string;
}

const clientError = (status: number, name: string, type: string, message: string): HttpError =>
  Object.assign(new Errors.MoleculerClientError(message, status, type), { name });

/**
 * What a body that could not be read means to the client. moleculer-web would wrap these into
 * errors without their status (a zlib error keeps its string code, so a 500 and two stack
 * traces per request); here each becomes the 4xx it is. Other errors pass unchanged.
 */
export function bodyError(error: BodyParserError, req: IncomingMessage): HttpError {
  const status = error.status;
  if (typeof status !== "number" || !isClientError(status)) return error;
  switch (error.type) {
    case "entity.parse.failed":
    case "entity.too.large":
      return error;
    case "encoding.unsupported":
      return clientError(
        HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        "UNSUPPORTED_ENCODING",
        `Content-Encoding ${JSON.stringify((error.encoding ?? "").slice(0, 40))} is not supported: send the body as identity, gzip, deflate or br`,
      );
    case "charset.unsupported":
      return clientError(
        HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        "UNSUPPORTED_CHARSET",
        `charset ${JSON.stringify(error.charset ?? "")} is not supported: send utf-8`,
      );
  }
  const encoding = req.headers["content-encoding"];
  if (encoding && encoding.toLowerCase() !== "identity") {
    return clientError(
      HTTP_STATUS.BAD_REQUEST,
      "BadRequest",
      "INVALID_BODY_ENCODING",
      `Request body is not valid ${encoding} data, as its Content-Encoding says`,
    );
  }
  return clientError(
    HTTP_STATUS.BAD_REQUEST,
    "BadRequest",
    "INVALID_BODY",
    "Request body could not be read",
  );
}
