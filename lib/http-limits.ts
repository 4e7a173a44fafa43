import { createHash } from "node:crypto";
import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type Redis from "ioredis";
import { HTTP_STATUS } from "./http-status";

/** Fixed-window counters: how many hits a key had in the current window, and when it ends. */
export interface CounterStore {
  hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
}

/** One gateway's counters. */
export class MemoryCounterStore implements CounterStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async hit(key: string, windowMs: number) {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.windows.size > 100_000) this.prune(now);
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  private prune(now: number) {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/** INCR and, on a window's first hit, its expiry — atomically, in one round trip. */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
`;

/** Counters shared by every gateway on one Redis. */
export class RedisCounterStore implements CounterStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async hit(key: string, windowMs: number) {
    const [count, ttl] = (await this.redis.eval(
      HIT_SCRIPT,
      1,
      `${this.prefix}:${key}`,
      String(windowMs),
    )) as [number, number];
    return { count, resetInMs: ttl > 0 ? ttl : windowMs };
  }
}

export interface RateLimits {
  /** Requests per window per bearer token (any token: a forged one is limited too). */
  perToken: number;
  /** Requests per window per client address. */
  perIp: number;
  windowMs: number;
}

export class RateLimitedError extends Error {
  readonly code = HTTP_STATUS.TOO_MANY_REQUESTS;
  readonly type = "RATE_LIMITED";
  constructor(readonly retryAfterSeconds: number) {
    super("Too many requests, retry later");
    this.name = "TooManyRequests";
  }
}

/**
 * A moleculer-web middleware: counts the request against its token and its client address (see
 * `addressOf`: behind trusted proxies, the forwarded one), and answers 429 with `Retry-After`
 * once either is over its limit. A store failure lets the request through (logged): a Redis
 * hiccup must not take the API down. `admit` is the same count for a socket's handshake.
 */
export function rateLimiter(
  store: CounterStore,
  limits: RateLimits,
  logger: { warn(...args: unknown[]): void },
  addressOf: (req: IncomingMessage) => string = (req) => req.socket.remoteAddress ?? "unknown",
) {
  /** The seconds to wait when over a limit, else undefined. */
  const admit = (req: IncomingMessage): Promise<number | undefined> => {
    // The token itself, however the header spells "Bearer": one counter per credential.
    const token = req.headers.authorization?.replace(/^\s*bearer\s+/i, "").trim();
    const ip = addressOf(req);
    const checks: Promise<{ count: number; resetInMs: number; limit: number }>[] = [
      store.hit(`ip:${ip}`, limits.windowMs).then((hit) => ({ ...hit, limit: limits.perIp })),
    ];
    if (token) {
      const digest = createHash("sha256").update(token).digest("base64url").slice(0, 22);
      checks.push(
        store.hit(`token:${digest}`, limits.windowMs).then((hit) => ({
          ...hit,
          limit: limits.perToken,
        })),
      );
    }
    return Promise.all(checks).then(
      (hits) => {
        const over = hits.filter((hit) => hit.count > hit.limit);
        if (over.length === 0) return undefined;
        return Math.max(1, Math.ceil(Math.max(...over.map((h) => h.resetInMs)) / 1000));
      },
      (error: unknown) => {
        logger.warn("rate-limit store failed, letting the request through", error);
        return undefined;
      },
    );
  };
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (e?: unknown) => void) => {
    void admit(req).then((retryAfter) => {
      if (retryAfter === undefined) return next();
      res.setHeader("Retry-After", String(retryAfter));
      next(new RateLimitedError(retryAfter));
    });
  };
  return Object.assign(middleware, { admit });
}

/** Headers every answer carries: no sniffing, no framing, no referrer, no caching of API data. */
function setSecurityHeaders(res: ServerResponse) {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  res.setHeader("Cache-Control", "no-store");
  // Only the docs page is HTML, and it needs nothing but its own inline style.
  res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
}

/**
 * Puts the security headers on every answer of the server, before any handler runs: REST routes,
 * errors raised before a route's middlewares (a body that fails to parse), and socket.io's
 * own answers (its client script, its polling transport), which never pass moleculer-web. Call
 * it after every request handler is attached: socket.io re-wraps the ones it finds.
 */
export function secureEveryAnswer(server: Server) {
  const handlers = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    setSecurityHeaders(res);
    for (const handler of handlers) handler.call(server, req, res);
  });
}
