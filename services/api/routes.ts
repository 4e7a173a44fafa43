import type { IncomingMessage, ServerResponse } from "node:http";
import { Errors, type Context } from "moleculer";
import type { ApiRouteSchema } from "moleculer-web";
import { PUBLIC_MOVES } from "../../contracts";
import type { KilatMeta } from "../../lib/action";
import { runtimeOf } from "../../lib/runtime";
import type { ApiThis } from "./context";
import { HTTP_STATUS, STATUS_OF_OUTCOME } from "../../lib/http-status";
import { documented, errorResponse } from "../../lib/openapi";
import { assetOf, pagesConfig, servePublic } from "./pages";
import { stripeWebhook } from "./stripe-webhook";
import { photoAnswer, photoUpload } from "./uploads";

/** What an Idempotency-Key may be: Stripe's rule, visible ASCII up to 255 characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** A page of public/ (`file` null: the pages' configuration), documented in the OpenAPI document. */
const page = (summary: string, file: (req: IncomingMessage) => string | null) =>
  documented(
    { summary, responses: { [HTTP_STATUS.OK]: { description: "HTML, CSS or JavaScript" } } },
    function (this: ApiThis, req: IncomingMessage, res: ServerResponse) {
      const { config } = runtimeOf(this.broker);
      const name = file(req);
      if (name === null) pagesConfig(config, res);
      else servePublic(config, name, res);
    },
  );

/**
 * A runner's buffered fixes: up to 500 in one request, about 105 kB with every field filled, so
 * this route alone reads JSON bodies up to 128 kB (as the socket's messages); the rest take 64 kB.
 */
const FIX_BATCH_ALIASES = { "POST runners/me/locations": "runner.uploadLocations" };

/** The public REST API: each path and the action that answers it. */
const API_ALIASES = {
  "POST bookings": "booking.create",
  "GET bookings": "booking.list",
  "GET bookings/:id": "booking.get",
  "POST bookings/:id/payment": "payment.create",
  "GET bookings/:id/payment": "payment.get",
  // The booking's moves, one path each, from the table of domain/booking.ts.
  ...Object.fromEntries(
    PUBLIC_MOVES.map((move) => [`POST bookings/:id/${move}`, `booking.${move}`]),
  ),
  "POST bookings/:id/decline": "runner.decline",
  "POST bookings/:id/arrive": "booking.arrive",
  "POST bookings/:id/no_show": "booking.noShow",
  "POST bookings/:id/return_pet": "booking.returnPet",
  "POST bookings/:id/handover/unlock": "booking.unlockHandover",
  "POST bookings/:id/share": "booking.shareCreate",
  "GET bookings/:id/share": "booking.shareList",
  "DELETE bookings/:id/share/:linkId": "booking.shareRevoke",
  "GET bookings/:id/photos/:photoId": "booking.photo",
  "POST bookings/:id/rating": "booking.rate",
  "GET bookings/:id/ratings": "booking.ratings",
  "GET bookings/:id/track": "tracking.get",
  "GET pets": "booking.petList",
  "POST pets": "booking.petCreate",
  "GET pets/:id": "booking.petGet",
  "PATCH pets/:id": "booking.petUpdate",
  "DELETE pets/:id": "booking.petDelete",
  "POST pets/:id/vaccinations": "booking.petVaccinate",
  "GET pets/:id/photos/:photoId": "booking.petPhoto",
  "POST runners/me/verification": "runner.requestVerification",
  "GET runners/verifications": "runner.verificationQueue",
  "POST runners/:id/verification": "runner.decideVerification",
  "GET runners/:id/documents/:photoId": "runner.document",
  "GET runners/me": "runner.me",
  "PATCH runners/me": "runner.updateProfile",
  "POST runners/me/online": "runner.online",
  "POST runners/me/offline": "runner.offline",
  "POST runners/me/location": "runner.location",
  "GET runners/me/offers": "runner.offers",
  "GET runners/nearby": "runner.nearby",
  "GET runners/online": "runner.listOnline",
  "POST webhooks": "notification.webhookCreate",
  "GET webhooks": "notification.webhookList",
  "DELETE webhooks/:id": "notification.webhookDelete",
  "GET webhooks/:id/deliveries": "notification.webhookDeliveries",
  "GET notifications": "notification.list",
  "POST notifications/read-all": "notification.readAll",
  "POST notifications/:id/read": "notification.read",
  "GET ops/welfare-alerts": "tracking.welfareAlerts",
  "GET ops/handover-locks": "booking.handoverLocks",
  "GET ops/disputes": "booking.disputes",
  "GET ops/payment-escalations": "payment.escalations",
  "GET ops/dead-letters": "api.dlqList",
  "GET ops/dead-letters/:topic/:offset": "api.dlqShow",
  "POST ops/dead-letters/replay": "api.dlqReplay",
};

/** Who may call the API from a browser: the origins of CORS_ORIGINS. */
const API_CORS = {
  origin(this: ApiThis, origin: string) {
    return runtimeOf(this.broker).config.http.corsOrigins.includes(origin);
  },
  methods: ["GET", "POST", "PATCH", "DELETE"],
  allowedHeaders: ["Authorization", "Content-Type", "Idempotency-Key"],
  maxAge: 600,
};

/**
 * A browser names the page's origin on every POST, PATCH and DELETE, its own pages' (the trip and
 * operations pages) too. Those are this gateway's own origin, not a cross-origin call: the Origin
 * is dropped before the CORS check, which is for other origins (CORS_ORIGINS). A page elsewhere
 * cannot claim this host: browsers set Origin themselves.
 */
function sameOriginIsNotCors(req: IncomingMessage, _res: ServerResponse, next: () => void) {
  const { origin, host } = req.headers;
  if (origin && host) {
    try {
      if (new URL(origin).host === host) delete req.headers.origin;
    } catch {
      // Not a URL ("null" from a sandboxed page): left for the CORS check to refuse.
    }
  }
  next();
}

/**
 * What an action's answer means on the wire: its outcome a status (201 created, 202 queued), and
 * a photo's bytes the image itself (uploads.ts).
 */
function answer(ctx: Context, _route: unknown, _req: unknown, _res: unknown, data: unknown) {
  const meta = ctx.meta as KilatMeta & { $statusCode?: number };
  if (meta.$outcome) meta.$statusCode = STATUS_OF_OUTCOME[meta.$outcome];
  return photoAnswer(meta, data);
}

/** What every route under /api is: its aliases only, authenticated, CORS as the API's. */
function apiRoute(name: string) {
  return {
    name,
    path: "/api",
    mappingPolicy: "restrict",
    authentication: true,
    authorization: true,
    cors: API_CORS,
    use: [sameOriginIsNotCors],
  } satisfies ApiRouteSchema;
}

/** A route of the JSON API: bodies up to `limit`, and an app's Idempotency-Key. */
function jsonApi(name: string, aliases: Record<string, string>, limit: string): ApiRouteSchema {
  return {
    ...apiRoute(name),
    bodyParsers: { json: { limit, strict: true } },
    aliases,
    /** An app's `Idempotency-Key`, for the actions that create something (README, "Retries"). */
    onBeforeCall(ctx: Context, _route: unknown, req: IncomingMessage) {
      const key = req.headers["idempotency-key"];
      if (key === undefined) return;
      if (typeof key !== "string" || !IDEMPOTENCY_KEY.test(key)) {
        throw new Errors.ValidationError("Invalid request: Idempotency-Key", "VALIDATION_ERROR", [
          {
            field: "Idempotency-Key",
            message: "expected 1-255 visible ASCII characters",
            type: "header",
          },
        ]);
      }
      (ctx.meta as KilatMeta).idempotencyKey = key;
    },
    onAfterCall: answer,
  };
}

/** The gateway's routes, in the order moleculer-web matches them. */
export const ROUTES: ApiRouteSchema[] = [
  {
    // Stripe calls this: no bearer token, the signature over the raw body authenticates it.
    path: "/api/webhooks/stripe",
    mappingPolicy: "restrict",
    bodyParsers: { json: false, raw: { type: () => true, limit: "256kb" } },
    aliases: {
      "POST /": documented(
        {
          summary: "Stripe webhook: the raw body, authenticated by its Stripe-Signature",
          requestBody: { content: { "application/json": { schema: { type: "object" } } } },
          responses: {
            [HTTP_STATUS.OK]: { description: "Applied (or a repeat)" },
            [HTTP_STATUS.BAD_REQUEST]: errorResponse(HTTP_STATUS.BAD_REQUEST),
          },
        },
        function (this: ApiThis, req: IncomingMessage & { body?: unknown }, res: ServerResponse) {
          stripeWebhook(this, req, res).catch((error: unknown) => {
            this.logger.error("stripe webhook failed", error);
            if (!res.headersSent) {
              const status = HTTP_STATUS.INTERNAL_SERVER_ERROR;
              res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
              res.end(JSON.stringify({ name: "ServerError", code: status, type: "SERVER_ERROR" }));
            }
          });
        },
      ),
    },
  },
  {
    path: "/",
    mappingPolicy: "restrict",
    bodyParsers: false,
    aliases: {
      "GET health": "api.health",
      "GET ready": "api.ready",
      "GET metrics": "api.metrics",
      "GET api/openapi.json": "api.openapi",
      "GET api/docs": "api.docs",
      "GET api/asyncapi.yaml": "api.asyncapi",
      // The pages and their assets (public/); their token comes in the link's fragment.
      "GET track/:id": page(
        "The owner's live trip: open as /track/<booking id>#token=<JWT>",
        () => "track.html",
      ),
      "GET ops": page("The operators' page (admins): open as /ops#token=<JWT>", () => "ops.html"),
      "GET share": page(
        "A trip shared by its owner, without a login: open as /share#<share token>",
        () => "share.html",
      ),
      // The share link's secret is the key: no bearer token.
      "GET api/shared/:token": "booking.shared",
      "GET pages/config.json": page("What the pages need of the configuration", () => null),
      "GET pages/:file": page("The pages' scripts and styles", (req) => assetOf(req)),
    },
  },
  {
    // Photos: the image's bytes as the body, read and cleaned by the gateway (uploads.ts) once
    // the caller is known to be allowed, then the action with the clean image.
    ...apiRoute("photo-uploads"),
    bodyParsers: false,
    aliases: {
      "POST bookings/:id/photos": photoUpload(
        "booking.uploadPhoto",
        "The booking's runner adds a photo of a handover: ?stage=pickup (accepted) or dropoff (picked up, in transit); its owner one of a problem: ?stage=dispute (delivered)",
        ["stage"],
      ),
      "POST pets/:id/photos": photoUpload(
        "booking.petPhotoUpload",
        "The pet's owner adds a photo of it or of its vaccination record",
      ),
      "POST runners/me/documents": photoUpload(
        "runner.uploadDocument",
        "A runner adds a photo of a document for its verification",
      ),
    },
    onAfterCall: answer,
  },
  jsonApi("fix-batches", FIX_BATCH_ALIASES, "128kb"),
  jsonApi("api", API_ALIASES, "64kb"),
];
