import { GATEWAY_TUNING } from "../../config/tuning";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import Redis from "ioredis";
import type { FixResult, LiveEvents } from "../../contracts";
import {
  AuthError,
  bearerToken,
  tokenPolicy,
  verifyToken,
  type AuthUser,
  type Role,
} from "../../lib/auth";
import { clientAddress, trustedProxies } from "../../lib/client-address";
import { isServerError } from "../../lib/http-status";
import {
  MemoryCounterStore,
  RedisCounterStore,
  rateLimiter,
  secureEveryAnswer,
} from "../../lib/http-limits";
import { LoadShedder, shedOverload } from "../../lib/load-shedding";
import { addCollector, measureRequests } from "../../lib/metrics";
import { metricsAccess } from "../../lib/metrics-exposure";
import { MicroBatcher } from "../../lib/micro-batch";
import { ReadinessProbe } from "../../lib/readiness";
import { runtimeOf } from "../../lib/runtime";
import { traceHttp } from "../../lib/tracing";
import { ADMIN_RUNNERS_ROOM, bookingRoom, userRoom, type ApiThis } from "./context";
import { bodyError, errorBody, OVERLOADED_BODY, type HttpError } from "./errors";
import * as ops from "./ops";
import { ROUTES } from "./routes";
import { SocketGuard } from "./socket-guard";
import { attachSockets } from "./sockets";

interface GatewayRequest extends IncomingMessage {
  $action?: { name?: string; roles?: readonly Role[] };
  parsedUrl?: string;
}

/** Who may read /metrics (lib/metrics-exposure.ts, the rule of every process); undefined when allowed. */
function metricsRefusal(service: ApiThis, authorization: string | undefined): Error | undefined {
  const access = metricsAccess(authorization, runtimeOf(service.broker).config);
  if (access === "allowed") return undefined;
  if (access === "forbidden") {
    return new ApiGateway.Errors.ForbiddenError("FORBIDDEN", { reason: "requires role admin" });
  }
  return new ApiGateway.Errors.UnAuthorizedError(
    bearerToken(authorization)
      ? ApiGateway.Errors.ERR_INVALID_TOKEN
      : ApiGateway.Errors.ERR_NO_TOKEN,
    { reason: "metrics need METRICS_TOKEN or an admin token" },
  );
}

/**
 * The gateway: REST (routes.ts: every path and the action behind it), errors (errors.ts: the one
 * table from a refusal to a status code), the live channel (sockets.ts), the Stripe webhook, and
 * its own ops actions (ops.ts).
 */
const ApiService: ServiceSchema<ApiSettingsSchema, object, object, ApiThis> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: 3000,
    ip: "0.0.0.0",
    log4XXResponses: false,
    // Every route, after its body parser: body errors as the 4xx they are, then the per-token
    // and per-address limits, then who may read /metrics (the security headers are set before
    // any of this: `secureEveryAnswer`). Functions read what `created` built, since routes are
    // made before it runs.
    use: [
      // Four parameters: moleculer-web calls it with the error of what ran before.
      function readBodyErrors(
        this: ApiThis,
        error: unknown,
        req: IncomingMessage,
        _res: ServerResponse,
        next: (error?: unknown) => void,
      ) {
        next(bodyError(error as HttpError, req));
      },
      function limit(this: ApiThis, req: IncomingMessage, res: ServerResponse, next: () => void) {
        this.limiter(req, res, next);
      },
      function metricsAccess(
        this: ApiThis,
        req: GatewayRequest,
        _res: ServerResponse,
        next: (error?: unknown) => void,
      ) {
        const found = this.resolveAlias(req.parsedUrl ?? "", req.method);
        if (found?.alias?.action !== "api.metrics") return next();
        next(metricsRefusal(this, req.headers.authorization));
      },
    ],
    logRequestParams: null,
    logResponseData: null,
    routes: ROUTES,
    onError(this: ApiThis, req: IncomingMessage, res: ServerResponse, error: HttpError) {
      const { status, body } = errorBody(error);
      if (isServerError(status)) this.logger.error(`${req.method} ${req.url} failed`, error);
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      res.writeHead(status);
      res.end(JSON.stringify(body));
    },
  },

  actions: {
    /**
     * moleculer-web's handler of every REST request (its body is the mixin's). Never retried as
     * a whole: the calls it makes retry on their own, and a second run would answer one request
     * twice.
     */
    rest: { retryPolicy: { enabled: false } },
    /** Liveness: the process answers. */
    health: ops.health,
    /** Readiness: every configured component answers. */
    ready: ops.ready,
    /** Prometheus text. */
    metrics: ops.metrics,
    /** The OpenAPI 3.1 document. */
    openapi: ops.openapi,
    /** The same, as a readable page. */
    docs: ops.docs,
    /** The event catalog as AsyncAPI 3.0. */
    asyncapi: ops.asyncapi,
    /** Ops (REPL `dlq list`): dead letters of one topic or all. */
    dlqList: ops.dlqList,
    /** Ops (REPL `dlq show`): one dead letter whole. */
    dlqShow: ops.dlqShow,
    /** Ops (REPL `dlq replay`): dead letters back to their original topic. */
    dlqReplay: ops.dlqReplay,
  },

  events: {
    /**
     * Accepted GPS fixes: to each booking's watchers on this gateway. Broadcast to every
     * gateway, so each emits only locally: the hot path skips the adapter's Redis round trip.
     */
    "live.tracks"(ctx: Context<LiveEvents["live.tracks"]>) {
      for (const fix of ctx.params.fixes) {
        this.io?.local.to(bookingRoom(fix.booking_id)).emit("track:update", fix);
      }
    },
    /** Runners going online/offline and their positions: to the admin dashboard (broadcast too). */
    "live.runners"(ctx: Context<LiveEvents["live.runners"]>) {
      for (const { kind, ...payload } of ctx.params.changes) {
        this.io?.local.to(ADMIN_RUNNERS_ROOM).emit(`runner:${kind}`, payload);
      }
    },
    /** A new inbox entry: to its recipient's sockets on this gateway (every device). */
    "live.notification"(ctx: Context<LiveEvents["live.notification"]>) {
      this.io?.local
        .to(userRoom(ctx.params.recipient))
        .emit("notification", ctx.params.notification);
    },
    /** A booking moved: to its watchers on this gateway. */
    "live.booking"(ctx: Context<LiveEvents["live.booking"]>) {
      this.io?.local.to(bookingRoom(ctx.params.booking_id)).emit("booking:status", ctx.params);
    },
  },

  methods: {
    /** Bearer JWT → ctx.meta.user; 401 when it is missing, forged or expired. */
    authenticate(_ctx: Context, _route: unknown, req: IncomingMessage): AuthUser {
      try {
        return verifyToken(
          bearerToken(req.headers.authorization),
          tokenPolicy(runtimeOf(this.broker).config),
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
    authorize(ctx: Context<unknown, { user?: AuthUser }>, _route: unknown, req: GatewayRequest) {
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
    const proxies = trustedProxies(config.http.trustedProxies);
    this.clientAddressOf = (req) =>
      clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], proxies);
    this.limiter = rateLimiter(
      this.limiterRedis
        ? new RedisCounterStore(this.limiterRedis, `${config.mongoDbPrefix}:ratelimit`)
        : new MemoryCounterStore(),
      {
        perToken: config.http.ratePerTokenPerMinute,
        perIp: config.http.ratePerIpPerMinute,
        windowMs: GATEWAY_TUNING.rateWindowMs,
      },
      this.logger,
      this.clientAddressOf,
    );
    this.sockets = new SocketGuard({
      ...config.sockets,
      fixesPerSec: config.tracking.locationArrivalsPerSec,
    });
    this.shedder = new LoadShedder(config.http.maxInFlight);
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.http.shed.total",
      labelNames: ["kind"],
      description: "Requests the gateway answered 503 under overload (request, handshake)",
    });
    this.broker.metrics.register({
      type: "gauge",
      name: "kilat.http.in.flight",
      description: "REST requests the gateway is answering (shed beyond API_MAX_IN_FLIGHT)",
    });
    addCollector(this.broker, "http-in-flight", async () => {
      this.broker.metrics.set("kilat.http.in.flight", this.shedder.inFlight);
    });
    this.settings.port = config.port;
    this.probe = new ReadinessProbe(this.broker, runtimeOf(this.broker));
  },

  started() {
    this.io = attachSockets(this);
    // Before the wrappers that must see every answer, the shed ones included.
    shedOverload(this.server, {
      shedder: this.shedder,
      retryAfterSeconds: GATEWAY_TUNING.shedRetryAfterS,
      body: JSON.stringify(OVERLOADED_BODY),
      onShed: (kind) => this.broker.metrics.increment("kilat.http.shed.total", { kind }),
    });
    secureEveryAnswer(this.server);
    measureRequests(this.server, this.broker.metrics);
    // Last: it wraps the request listeners attached so far (REST, Socket.IO polling).
    traceHttp(this.server);
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
