import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Context, Service, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import Redis from "ioredis";
import { Server as SocketServer } from "socket.io";
import Stripe from "stripe";
import { z } from "zod";
import { actionsOf, notFound } from "../lib/action";
import { listDeadLetters, replayDeadLetters, showDeadLetter } from "../lib/dlq";
import { AuthError, bearerToken, verifyToken, type AuthUser, type Role } from "../lib/auth";
import type { PrometheusTextReporter } from "../lib/metrics";
import { ReadinessProbe } from "../lib/readiness";
import {
  MemoryCounterStore,
  RedisCounterStore,
  rateLimiter,
  securityHeaders,
} from "../lib/http-limits";
import { buildOpenApi, docsPage } from "../lib/openapi";
import { MicroBatcher } from "../lib/micro-batch";
import { runtimeOf } from "../lib/runtime";
import { renderAsyncApi } from "../events/describe";
import type { FixResult } from "./runner.service";
import type { LiveFix, LiveRunnerChange } from "./tracking.service";

interface GatewayRequest extends IncomingMessage {
  $action?: { name?: string; roles?: readonly Role[] };
}

interface HttpError extends Error {
  code?: number | string;
  status?: number;
  type?: string;
  data?: unknown;
}

interface ApiVars {
  stripeWebhook(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void>;
  server: HttpServer;
  io: SocketServer | undefined;
  adapterRedis: Redis | undefined;
  limiterRedis: Redis | undefined;
  limiter: ReturnType<typeof rateLimiter>;
  openApiDocument: Record<string, unknown> | undefined;
  openApi(): Promise<Record<string, unknown>>;
  probe: ReadinessProbe;
  locations: MicroBatcher<{ runner_id: string; fix: unknown }, FixResult>;
  fixesInFlight: number;
}
type ApiThis = Service<ApiSettingsSchema> & ApiVars;

const action = actionsOf<ApiThis>();

const bookingRoom = (bookingId: string) => `booking:${bookingId}`;
const ADMIN_RUNNERS_ROOM = "admin:runners";
/**
 * GPS fixes a gateway has sent on and not yet answered. Beyond it a fix is refused at once
 * (429, the app sends its next one) rather than queued: overload sheds, it does not pile up.
 */
const MAX_FIXES_IN_FLIGHT = 2000;
const SubscribeParams = z.object({ booking_id: z.string().min(1).max(64) });

/** Every socket acknowledgement: `{ ok: true, … }` or `{ ok: false, error }`. */
type SocketAck =
  { ok: true; [key: string]: unknown } | { ok: false; error: Record<string, unknown> };
/** Signature checks need no API key: an instance only for its webhooks helper. */
const webhookVerifier = new Stripe("sk_test_signature_checks_only");
const NoParams = z.object({}).passthrough();

/** The body of every error answer: Moleculer's shape, without stacks or internal names. */
/** Moleculer's own errors: they name actions and nodes, so callers get a generic answer. */
const TRANSIENT_ERRORS: Record<string, { status: number; message: string }> = {
  SERVICE_NOT_FOUND: { status: 503, message: "Service temporarily unavailable" },
  SERVICE_NOT_AVAILABLE: { status: 503, message: "Service temporarily unavailable" },
  REQUEST_REJECTED: { status: 503, message: "Service temporarily unavailable" },
  REQUEST_SKIPPED: { status: 504, message: "Upstream timeout" },
  REQUEST_TIMEOUT: { status: 504, message: "Upstream timeout" },
  QUEUE_FULL: { status: 429, message: "Too many requests, retry later" },
};

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
  const raw = typeof error.code === "number" ? error.code : error.status;
  const status = typeof raw === "number" && raw >= 400 && raw < 600 ? raw : 500;
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

const ApiService: ServiceSchema<ApiSettingsSchema, Record<string, never>, ApiVars> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: 3000,
    ip: "0.0.0.0",
    log4XXResponses: false,
    // Every route: security headers, then the per-token and per-address limits. Functions
    // read what `created` built, since routes are made before it runs.
    use: [
      securityHeaders,
      function limit(this: ApiThis, req: IncomingMessage, res: ServerResponse, next: () => void) {
        this.limiter(req, res, next);
      },
    ],
    logRequestParams: null,
    logResponseData: null,
    routes: [
      {
        // Stripe calls this: no bearer token, the signature over the raw body authenticates it.
        path: "/api/webhooks/stripe",
        mappingPolicy: "restrict",
        bodyParsers: { json: false, raw: { type: () => true, limit: "256kb" } },
        aliases: {
          "POST /"(this: ApiThis, req: IncomingMessage & { body?: unknown }, res: ServerResponse) {
            void this.stripeWebhook(req, res);
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
        aliases: {
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
        },
      },
    ],
    onError(this: Service, req: IncomingMessage, res: ServerResponse, error: HttpError) {
      const { status, body } = errorBody(error);
      if (status >= 500) this.logger.error(`${req.method} ${req.url} failed`, error);
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      res.writeHead(status);
      res.end(JSON.stringify(body));
    },
  },

  actions: {
    /** Liveness: the process answers. */
    health: action({
      params: NoParams,
      async handler() {
        return { status: "ok", node: this.broker.nodeID, uptime_s: Math.round(process.uptime()) };
      },
    }),

    /** Readiness: every configured component (MongoDB, Kafka, Redis, transporter) answers. */
    ready: action({
      params: NoParams,
      async handler(ctx) {
        const readiness = await this.probe.check();
        if (readiness.status !== "ready") ctx.meta.$statusCode = 503;
        return readiness;
      },
    }),

    /** The OpenAPI 3.1 document, from the routes and the actions' zod schemas. */
    openapi: action({
      params: NoParams,
      async handler() {
        return this.openApi();
      },
    }),

    /** The same, as a readable page. */
    docs: action({
      params: NoParams,
      async handler(ctx) {
        ctx.meta.$responseType = "text/html; charset=utf-8";
        return docsPage(await this.openApi());
      },
    }),

    /** The event catalog as AsyncAPI 3.0 (the same text as docs/asyncapi.yaml). */
    asyncapi: action({
      params: NoParams,
      async handler(ctx) {
        ctx.meta.$responseType = "application/yaml; charset=utf-8";
        return renderAsyncApi();
      },
    }),

    /** Ops (REPL `dlq list`): dead letters of one topic or all; not on the public API. */
    dlqList: {
      visibility: "public",
      params: { topic: { type: "string", optional: true } },
      async handler(this: ApiThis, ctx: Context<{ topic?: string }>) {
        return listDeadLetters(runtimeOf(this.broker).bus, ctx.params.topic);
      },
    },

    /** Ops (REPL `dlq show`): one dead letter whole. */
    dlqShow: {
      visibility: "public",
      params: { topic: "string", offset: "string" },
      async handler(this: ApiThis, ctx: Context<{ topic: string; offset: string }>) {
        const letter = await showDeadLetter(
          runtimeOf(this.broker).bus,
          ctx.params.topic,
          ctx.params.offset,
        );
        if (!letter) throw notFound("Dead letter");
        return letter;
      },
    },

    /** Ops (REPL `dlq replay`): dead letters back to their original topic. */
    dlqReplay: {
      visibility: "public",
      params: {
        topic: "string",
        offset: { type: "string", optional: true },
        all: { type: "boolean", optional: true },
      },
      async handler(
        this: ApiThis,
        ctx: Context<{ topic: string; offset?: string; all?: boolean }>,
      ) {
        return replayDeadLetters(runtimeOf(this.broker).bus, ctx.params.topic, ctx.params);
      },
    },

    /** Moleculer's metrics in Prometheus text format. */
    metrics: action({
      params: NoParams,
      async handler(ctx) {
        const reporters =
          (this.broker.metrics as unknown as { reporter?: unknown[] }).reporter ?? [];
        const prometheus = reporters.find(
          (reporter): reporter is PrometheusTextReporter =>
            typeof (reporter as Partial<PrometheusTextReporter>).text === "function",
        );
        ctx.meta.$responseType = "text/plain; version=0.0.4; charset=utf-8";
        return prometheus ? prometheus.text() : "";
      },
    }),
  },

  methods: {
    async openApi(this: ApiThis) {
      // Imported when first asked for: services/index imports this file.
      const { SERVICE_SCHEMAS } = await import("./index");
      this.openApiDocument ??= buildOpenApi(this.settings.routes ?? [], SERVICE_SCHEMAS, {
        title: "Kilat",
        version: "0.1.0",
      });
      return this.openApiDocument;
    },

    /** Verifies a Stripe webhook's signature, then hands the event to the payment service. */
    async stripeWebhook(
      this: ApiThis,
      req: IncomingMessage & { body?: unknown },
      res: ServerResponse,
    ) {
      const reply = (status: number, body: unknown) => {
        res.setHeader("Content-Type", "application/json; charset=utf-8");
        res.writeHead(status);
        res.end(JSON.stringify(body));
      };
      const { stripe } = runtimeOf(this.broker).config;
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let event: Stripe.Event;
      try {
        event = webhookVerifier.webhooks.constructEvent(
          raw,
          String(req.headers["stripe-signature"] ?? ""),
          stripe.webhookSecret,
        );
      } catch {
        reply(400, {
          name: "BadRequest",
          message: "Invalid Stripe signature",
          code: 400,
          type: "INVALID_SIGNATURE",
        });
        return;
      }
      try {
        const result = await this.broker.call("payment.stripeEvent", {
          id: event.id,
          type: event.type,
          object: event.data.object as unknown as Record<string, unknown>,
        });
        reply(200, result);
      } catch (error) {
        const { status, body } = errorBody(error as HttpError);
        if (status >= 500) this.logger.error("stripe webhook failed", error);
        reply(status, body); // Stripe retries anything that is not 2xx
      }
    },

    /** Bearer JWT → ctx.meta.user; 401 when it is missing, forged or expired. */
    authenticate(this: ApiThis, _ctx: Context, _route: unknown, req: IncomingMessage): AuthUser {
      try {
        return verifyToken(
          bearerToken(req.headers.authorization),
          runtimeOf(this.broker).config.jwtSecret,
        );
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        throw new ApiGateway.Errors.UnAuthorizedError(
          error.reason === "missing"
            ? ApiGateway.Errors.ERR_NO_TOKEN
            : ApiGateway.Errors.ERR_INVALID_TOKEN,
          { reason: error.message },
        );
      }
    },

    /** 403 unless the action declares the caller's role (an action without roles is not public). */
    authorize(
      this: ApiThis,
      ctx: Context<unknown, { user?: AuthUser }>,
      _route: unknown,
      req: GatewayRequest,
    ) {
      const roles = req.$action?.roles;
      const user = ctx.meta.user;
      if (!roles || !user || !roles.includes(user.role)) {
        throw new ApiGateway.Errors.ForbiddenError("FORBIDDEN", {
          reason: roles ? `requires role ${roles.join(" or ")}` : "not a public action",
        });
      }
    },
  },

  created() {
    const { config } = runtimeOf(this.broker);
    // The fixes of one tick, from every runner socket of this gateway, in one call.
    this.fixesInFlight = 0;
    this.locations = new MicroBatcher(
      async (fixes) =>
        (
          await this.broker.call<
            { results: FixResult[] },
            { fixes: { runner_id: string; fix: unknown }[] }
          >("runner.locations", { fixes })
        ).results,
    );
    this.adapterRedis = config.redisUrl
      ? new Redis(config.redisUrl, { maxRetriesPerRequest: null })
      : undefined;
    // The limiter's own client fails fast while Redis is away (the request then goes through)
    // instead of queueing every API call behind the reconnect, as the adapter's client would.
    this.limiterRedis = config.redisUrl
      ? new Redis(config.redisUrl, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: 500,
          enableAutoPipelining: true,
        })
      : undefined;
    this.limiterRedis?.on("error", () => undefined); // reconnects by itself; requests go through
    this.limiter = rateLimiter(
      this.limiterRedis
        ? new RedisCounterStore(this.limiterRedis, `${config.mongoDbPrefix}:ratelimit`)
        : new MemoryCounterStore(),
      {
        perToken: config.http.ratePerTokenPerMinute,
        perIp: config.http.ratePerIpPerMinute,
        windowMs: 60_000,
      },
      this.logger,
    );
    this.settings.port = config.port;
    this.probe = new ReadinessProbe(this.broker, runtimeOf(this.broker));
  },

  events: {
    /**
     * Accepted GPS fixes from the tracking service: to each booking's watchers on this gateway.
     * Broadcast to every gateway, so each emits only locally: the stream's hot path skips the
     * adapter's Redis round trip, the costliest step of a room emit (see the tracking bench).
     */
    "live.tracks"(this: ApiThis, ctx: Context<{ fixes: LiveFix[] }>) {
      for (const fix of ctx.params.fixes) {
        this.io?.local.to(bookingRoom(fix.booking_id)).emit("track:update", fix);
      }
    },
    /** Runners going online/offline and their positions: to the admin dashboard (broadcast too). */
    "live.runners"(this: ApiThis, ctx: Context<{ changes: LiveRunnerChange[] }>) {
      for (const change of ctx.params.changes) {
        const { kind, ...payload } = change;
        this.io?.local.to(ADMIN_RUNNERS_ROOM).emit(`runner:${kind}`, payload);
      }
    },
    /** A new inbox entry: to its recipient's sockets (every device). */
    "live.notification"(
      this: ApiThis,
      ctx: Context<{ recipient_id: string; notification: Record<string, unknown> }>,
    ) {
      this.io?.to(`user:${ctx.params.recipient_id}`).emit("notification", ctx.params.notification);
    },
    /** A booking moved: to its watchers. */
    "live.booking"(this: ApiThis, ctx: Context<{ booking_id: string; status: string }>) {
      this.io?.to(bookingRoom(ctx.params.booking_id)).emit("booking:status", ctx.params);
    },
  },

  started() {
    const { config } = runtimeOf(this.broker);
    const io = new SocketServer(this.server, {
      serveClient: false,
      cors: { origin: config.http.corsOrigins.length > 0 ? config.http.corsOrigins : false },
      // Several gateways share rooms through Redis. The streams adapter, not the pub/sub one:
      // it resumes its stream after a Redis reconnect instead of dropping what was sent meanwhile.
      ...(this.adapterRedis
        ? {
            adapter: createAdapter(this.adapterRedis, {
              streamName: `${config.mongoDbPrefix}:socket.io`,
              maxLen: 100_000,
            }),
          }
        : {}),
    });
    // The handshake carries the same JWT as REST: `io(url, { auth: { token } })`.
    io.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: unknown }).token;
      try {
        (socket.data as { user: AuthUser }).user = verifyToken(
          typeof token === "string" ? token : undefined,
          config.jwtSecret,
        );
        next();
      } catch (error) {
        next(new Error(error instanceof AuthError ? error.message : "unauthorized"));
      }
    });
    io.on("connection", (socket) => {
      const { user } = socket.data as { user: AuthUser };
      void socket.join(`user:${user.sub}`);
      const reply = (ack: unknown, body: SocketAck) => {
        if (typeof ack === "function") (ack as (body: SocketAck) => void)(body);
      };
      const failure = (error: unknown): SocketAck => {
        const { status, body } = errorBody(error as HttpError);
        return { ok: false, error: { ...body, code: status } };
      };

      // GPS from the runner app without an HTTP round trip per fix, judged as REST judges one;
      // the fixes of one event-loop turn go to the runner service as one call.
      socket.on("location", (...args: unknown[]) => {
        // The acknowledgement is the last argument, also when the app sent no fix at all.
        const ack = typeof args[args.length - 1] === "function" ? args.pop() : undefined;
        const payload = args[0];
        if (user.role !== "runner") {
          reply(ack, { ok: false, error: { message: "Runners only", code: 403 } });
          return;
        }
        if (this.fixesInFlight >= MAX_FIXES_IN_FLIGHT) {
          reply(ack, failure({ name: "QueueIsFull", message: "", type: "QUEUE_FULL" }));
          return;
        }
        this.fixesInFlight++;
        this.locations
          // null, not undefined, survives JSON: a missing fix is judged (422) as a bad one.
          .add({ runner_id: user.sub, fix: payload ?? null })
          .then((result) =>
            reply(
              ack,
              result.ok
                ? { ok: true, accepted: true, event_id: result.event_id }
                : failure(result.error),
            ),
          )
          .catch((error: unknown) => reply(ack, failure(error)))
          .finally(() => this.fixesInFlight--);
      });

      socket.on("track:subscribe", (payload: unknown, ack: unknown) => {
        const parsed = SubscribeParams.safeParse(payload);
        if (!parsed.success) {
          reply(ack, { ok: false, error: { message: "booking_id is required", code: 422 } });
          return;
        }
        const { booking_id } = parsed.data;
        this.broker
          .call<{ ok: boolean }, Record<string, string>>("tracking.mayWatch", {
            booking_id,
            user_id: user.sub,
            role: user.role,
          })
          .then(async ({ ok }) => {
            if (!ok) {
              reply(ack, { ok: false, error: { message: "Booking not found", code: 404 } });
              return;
            }
            await socket.join(bookingRoom(booking_id));
            reply(ack, { ok: true });
          })
          .catch((error: unknown) => reply(ack, failure(error)));
      });

      socket.on("track:unsubscribe", (payload: unknown, ack: unknown) => {
        const parsed = SubscribeParams.safeParse(payload);
        if (!parsed.success) {
          reply(ack, { ok: false, error: { message: "booking_id is required", code: 422 } });
          return;
        }
        void socket.leave(bookingRoom(parsed.data.booking_id));
        reply(ack, { ok: true });
      });

      socket.on("runners:subscribe", (_payload: unknown, ack: unknown) => {
        if (user.role !== "admin") {
          reply(ack, { ok: false, error: { message: "Admins only", code: 403 } });
          return;
        }
        void socket.join(ADMIN_RUNNERS_ROOM);
        reply(ack, { ok: true });
      });

      socket.on("runners:unsubscribe", (_payload: unknown, ack: unknown) => {
        void socket.leave(ADMIN_RUNNERS_ROOM);
        reply(ack, { ok: true });
      });
    });
    this.io = io;
  },

  async stopped() {
    this.io?.disconnectSockets(true);
    await new Promise<void>((resolve) =>
      this.io ? void this.io.close(() => resolve()) : resolve(),
    );
    this.adapterRedis?.disconnect();
    this.limiterRedis?.disconnect();
    await this.probe.close();
  },
};

export default ApiService;
