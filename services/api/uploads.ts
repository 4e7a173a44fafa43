import type { IncomingMessage, ServerResponse } from "node:http";
import { Errors } from "moleculer";
import { PHOTO_TYPES, type PhotoBytes } from "../../contracts";
import type { KilatMeta } from "../../lib/action";
import { HTTP_STATUS } from "../../lib/http-status";
import { cleanImage, type ImageRefusalReason } from "../../lib/images";
import { documented, errorResponse } from "../../lib/openapi";
import { runtimeOf } from "../../lib/runtime";
import type { ApiThis } from "./context";

/** A request as moleculer-web hands it to an alias's middleware: the action's params so far. */
interface UploadRequest extends IncomingMessage {
  $params: Record<string, unknown>;
}

type Next = (error?: unknown) => void;

const refusal = (status: number, name: string, type: string, message: string) =>
  Object.assign(new Errors.MoleculerClientError(message, status, type), { name });

const tooLarge = (message: string) =>
  refusal(HTTP_STATUS.PAYLOAD_TOO_LARGE, "PayloadTooLarge", "PAYLOAD_TOO_LARGE", message);

/** Each reason an upload is not a photo, as the API answers it. */
const REFUSALS: Record<ImageRefusalReason, (message: string) => Error> = {
  too_large: tooLarge,
  not_an_image: (message) =>
    refusal(
      HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE,
      "UnsupportedMediaType",
      "UNSUPPORTED_MEDIA_TYPE",
      `The body is ${message}: send the photo's bytes as they are`,
    ),
  undecodable: (message) =>
    refusal(HTTP_STATUS.UNPROCESSABLE_ENTITY, "UnprocessableEntity", "INVALID_IMAGE", message),
  too_many_pixels: (message) =>
    refusal(HTTP_STATUS.UNPROCESSABLE_ENTITY, "UnprocessableEntity", "INVALID_IMAGE", message),
};

const megabytes = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;

/**
 * The request's body, or "too_large" once it passes `limit` bytes (what it declares, or what
 * arrives). A refused body is still read to its end, unkept, as body-parser does: the client
 * then reads the answer instead of a connection reset.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too_large"> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    const parts: Buffer[] = [];
    let size = 0;
    let over = declared > limit;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) parts.push(chunk);
    });
    req.on("end", () => resolve(over ? "too_large" : Buffer.concat(parts, size)));
    const cut = () =>
      reject(
        refusal(HTTP_STATUS.BAD_REQUEST, "BadRequest", "INVALID_BODY", "The upload was cut short"),
      );
    req.on("error", cut);
    req.on("aborted", cut);
  });
}

/**
 * Reads an upload's body and makes it a photo (lib/images.ts), as the action's `image`. Runs as
 * the alias's middleware: after authentication and authorization, so nothing is read or decoded
 * for a caller who may not upload. Any refusal is the 4xx it is: 413 too large, 415 not an
 * image, 422 not decodable.
 */
function readPhoto(this: ApiThis, req: UploadRequest, _res: ServerResponse, next: Next) {
  const { maxBytes } = runtimeOf(this.broker).config.photos;
  const encoding = req.headers["content-encoding"];
  if (encoding && encoding.toLowerCase() !== "identity") {
    // Photos are compressed already: an encoded body only hides its size.
    return next(
      refusal(
        HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        "UNSUPPORTED_ENCODING",
        "Send the photo without a Content-Encoding",
      ),
    );
  }
  if (/^multipart\//i.test(req.headers["content-type"] ?? "")) {
    return next(
      refusal(
        HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        "UNSUPPORTED_MEDIA_TYPE",
        "The body is a form: send the photo's bytes alone as the body",
      ),
    );
  }
  readBody(req, maxBytes)
    .then(async (body) => {
      if (body === "too_large")
        return next(tooLarge(`A photo may be at most ${megabytes(maxBytes)}`));
      const cleaned = await cleanImage(body, { maxBytes });
      if (!cleaned.ok) return next(REFUSALS[cleaned.reason](cleaned.message));
      req.$params.image = cleaned.image;
      next();
    })
    .catch(next);
}

const IMAGE_BODY = {
  required: true,
  description: "The photo's bytes, as they are: JPEG, PNG or WebP, at most PHOTO_MAX_BYTES",
  content: Object.fromEntries(
    PHOTO_TYPES.map((type) => [type, { schema: { type: "string", format: "binary" } }]),
  ),
};

/**
 * An upload path: the photo's bytes as the body, made a photo here (`readPhoto`), then the
 * action with `image` beside the path's and query's parameters. The action says what the photo
 * is of, and who may add it.
 */
export const photoUpload = (action: string, summary: string, query: string[] = []) =>
  documented(
    {
      operationId: action,
      summary,
      parameters: query.map((name) => ({ name, in: "query", required: true, schema: {} })),
      requestBody: IMAGE_BODY,
      security: [{ bearerAuth: [] }],
      responses: {
        [HTTP_STATUS.CREATED]: { description: "Stored: the photo's id, type, size and dimensions" },
        ...Object.fromEntries(
          [
            HTTP_STATUS.UNAUTHORIZED,
            HTTP_STATUS.FORBIDDEN,
            HTTP_STATUS.NOT_FOUND,
            HTTP_STATUS.CONFLICT,
            HTTP_STATUS.PAYLOAD_TOO_LARGE,
            HTTP_STATUS.TOO_MANY_REQUESTS,
          ].map((status) => [status, errorResponse(status)]),
        ),
        [HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE]: {
          ...errorResponse(HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE),
          description: "Not a JPEG, PNG or WebP image (by its bytes)",
        },
        [HTTP_STATUS.UNPROCESSABLE_ENTITY]: {
          ...errorResponse(HTTP_STATUS.UNPROCESSABLE_ENTITY),
          description: "The image does not decode, has too many pixels, or a parameter is wrong",
        },
      },
    },
    [readPhoto, action],
  );

/** The headers a photo is served with: cached by the one user's browser, shown, never sniffed. */
const PHOTO_HEADERS = {
  "Cache-Control": "private, max-age=3600",
  Vary: "Authorization",
  "X-Content-Type-Options": "nosniff",
  "Content-Disposition": "inline",
};

const PHOTO_TYPE_SET: ReadonlySet<string> = new Set(PHOTO_TYPES);

/** An action's answer that is a photo's bytes (contracts/photo.ts `PhotoBytes`). */
function isPhotoBytes(data: unknown): data is PhotoBytes {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return false;
  const { content_type, data: bytes, ...rest } = data as Record<string, unknown>;
  return (
    typeof content_type === "string" &&
    PHOTO_TYPE_SET.has(content_type) &&
    typeof bytes === "string" &&
    Object.keys(rest).length === 0
  );
}

/**
 * A photo's bytes as the answer: the raw image with its Content-Type and Content-Length
 * (moleculer-web sends a Buffer as it is), not JSON. Any other answer passes unchanged.
 */
export function photoAnswer(meta: KilatMeta, data: unknown): unknown {
  if (!isPhotoBytes(data)) return data;
  meta.$responseType = data.content_type;
  meta.$responseHeaders = { ...PHOTO_HEADERS };
  return Buffer.from(data.data, "base64");
}
