import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "moleculer";
import type { ApiRouteSchema } from "moleculer-web";
import type { KilatMeta } from "../../lib/action";
import { runtimeOf } from "../../lib/runtime";
import type { ApiThis } from "./context";
import { STATUS_OF_OUTCOME } from "../../lib/http-status";
import { stripeWebhook } from "./stripe-webhook";

/** The public REST API: each path and the action that answers it. */
const API_ALIASES = {
  "POST bookings": "booking.create",
  "GET bookings": "booking.list",
  "GET bookings/:id": "booking.get",
  "POST bookings/:id/payment": "payment.create",
  "GET bookings/:id/payment": "payment.get",
  "POST bookings/:id/accept": "booking.accept",
  "POST bookings/:id/pickup": "booking.pickup",
  "POST bookings/:id/depart": "booking.depart",
  "POST bookings/:id/deliver": "booking.deliver",
  "POST bookings/:id/confirm": "booking.confirm",
  "POST bookings/:id/cancel": "booking.cancel",
  "POST bookings/:id/decline": "runner.decline",
  "GET bookings/:id/track": "tracking.get",
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
};

/** The gateway's routes, in the order moleculer-web matches them. */
export const ROUTES: ApiRouteSchema[] = [
  {
    // Stripe calls this: no bearer token, the signature over the raw body authenticates it.
    path: "/api/webhooks/stripe",
    mappingPolicy: "restrict",
    bodyParsers: { json: false, raw: { type: () => true, limit: "256kb" } },
    aliases: {
      "POST /"(this: ApiThis, req: IncomingMessage & { body?: unknown }, res: ServerResponse) {
        void stripeWebhook(this, req, res);
      },
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
    },
  },
  {
    path: "/api",
    mappingPolicy: "restrict",
    authentication: true,
    authorization: true,
    cors: {
      origin(this: ApiThis, origin: string) {
        return runtimeOf(this.broker).config.http.corsOrigins.includes(origin);
      },
      methods: ["GET", "POST", "PATCH", "DELETE"],
      allowedHeaders: ["Authorization", "Content-Type"],
      maxAge: 600,
    },
    bodyParsers: { json: { limit: "64kb", strict: true } },
    aliases: API_ALIASES,
    /** What an action's outcome means on the wire: 201 created, 202 queued. */
    onAfterCall(ctx: Context, _route: unknown, _req: unknown, _res: unknown, data: unknown) {
      const meta = ctx.meta as KilatMeta & { $statusCode?: number };
      if (meta.$outcome) meta.$statusCode = STATUS_OF_OUTCOME[meta.$outcome];
      return data;
    },
  },
];
