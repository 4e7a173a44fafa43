import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { HTTP_STATUS, statusLine } from "./http-status";

/**
 * How a request counts against the gateway's load:
 * - `exempt`: never shed and not counted: the probes (a readiness probe failing under load takes
 *   every busy gateway out of rotation at once, which only moves the overload), /metrics (what
 *   an operator looks at during the overload), the Stripe webhook (Stripe ignores Retry-After and
 *   backs off for up to an hour, so a shed `payment_intent.amount_capturable_updated` keeps an
 *   owner's escrow unconfirmed and the runner unable to accept long after the overload ended;
 *   they come one per payment step, a small fraction of the load), and the traffic of an open
 *   Socket.IO session (its long polls wait by design and would fill the count).
 * - `handshake`: a new Socket.IO session; shed once the gateway is half full (see `entry`),
 *   never counted (a socket lives for minutes, not for one request).
 * - `entry`: a request that starts new work, a booking (`POST /api/bookings`); counted, and shed
 *   once the gateway is half full: the other half is kept for the bookings under way, whose
 *   earlier requests' work a shed step would throw away (measured: at twice the sustainable
 *   load, shedding any request alike completed fewer lifecycles than it admitted).
 * - `request`: everything else; counted while in flight, shed beyond the limit.
 */
export type RequestKind = "exempt" | "handshake" | "entry" | "request";

/** The share of `maxInFlight` beyond which new work (`entry`, `handshake`) is shed. */
export const ENTRY_SHARE = 0.5;

/** The exempt paths, exactly (a trailing slash reaches the same route). */
const EXEMPT_PATHS = new Set(["/health", "/ready", "/metrics", "/api/webhooks/stripe"]);
const SOCKET_PATH = "/socket.io/";

/** What kind a request is, from its URL alone: decided before anything is parsed or called. */
export function requestKind(url: string, method = "GET"): RequestKind {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  const bare = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (EXEMPT_PATHS.has(bare)) return "exempt";
  if (path === SOCKET_PATH) {
    const sid = new URLSearchParams(query === -1 ? "" : url.slice(query + 1)).get("sid");
    return sid ? "exempt" : "handshake";
  }
  return method === "POST" && bare === "/api/bookings" ? "entry" : "request";
}

/**
 * Whether a request of `kind` is shed when `inFlight` counted requests are being answered and the
 * limit is `maxInFlight` (0: no limit). At the limit the gateway already holds as much work as it
 * finishes within the latency it is sized for: one more would only wait behind the others. New
 * work stops at `ENTRY_SHARE` of the limit, so the work under way keeps the rest.
 */
export function shouldShed(kind: RequestKind, inFlight: number, maxInFlight: number): boolean {
  if (maxInFlight === 0) return false;
  switch (kind) {
    case "exempt":
      return false;
    case "entry":
    case "handshake":
      return inFlight >= Math.max(1, Math.floor(maxInFlight * ENTRY_SHARE));
    case "request":
      return inFlight >= maxInFlight;
  }
}

/** The gateway's count of requests in flight, and of those it shed. */
export class LoadShedder {
  private count = 0;

  constructor(readonly maxInFlight: number) {}

  /** true: go on (a `request` is counted until `release`); false: answer it as shed. */
  admit(kind: RequestKind): boolean {
    if (shouldShed(kind, this.count, this.maxInFlight)) return false;
    if (kind === "request" || kind === "entry") this.count++;
    return true;
  }

  release(): void {
    this.count--;
  }

  /** Counted requests being answered now. */
  get inFlight(): number {
    return this.count;
  }
}

export interface SheddingOptions {
  shedder: LoadShedder;
  retryAfterSeconds: number;
  /** The JSON body of the 503 (the gateway's error shape). */
  body: string;
  onShed: (kind: Exclude<RequestKind, "exempt">) => void;
}

/**
 * Puts the shedder in front of every request listener of the server (REST and Socket.IO alike)
 * and of its WebSocket upgrades: a shed request is answered 503 with `Retry-After` before its
 * body is read, its route resolved or any limit store or service is asked. Call it after the
 * listeners are attached, before the ones that must see every answer (security headers, timing).
 */
export function shedOverload(server: Server, options: SheddingOptions): void {
  const { shedder, retryAfterSeconds, body, onShed } = options;
  const handlers = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const kind = requestKind(req.url ?? "/", req.method);
    if (kind !== "exempt" && !shedder.admit(kind)) {
      onShed(kind);
      res.writeHead(HTTP_STATUS.SERVICE_UNAVAILABLE, {
        "Content-Type": "application/json; charset=utf-8",
        "Retry-After": String(retryAfterSeconds),
      });
      res.end(body);
      return;
    }
    if (kind === "request" || kind === "entry") res.once("close", () => shedder.release());
    for (const handler of handlers) handler.call(server, req, res);
  });

  type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  const upgrades = server.listeners("upgrade") as UpgradeListener[];
  server.removeAllListeners("upgrade");
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Every upgrade is a Socket.IO transport: a new one, or an open session's (with its sid).
    const kind = requestKind(req.url ?? "/") === "exempt" ? "exempt" : "handshake";
    if (kind !== "exempt" && !shedder.admit(kind)) {
      onShed(kind);
      socket.end(
        `${statusLine(HTTP_STATUS.SERVICE_UNAVAILABLE)}\r\n` +
          "Content-Type: application/json; charset=utf-8\r\n" +
          `Retry-After: ${retryAfterSeconds}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          "Connection: close\r\n\r\n" +
          body,
      );
      return;
    }
    // A handshake is never counted: nothing to release.
    for (const listener of upgrades) listener.call(server, req, socket, head);
  });
}
