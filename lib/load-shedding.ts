import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/**
 * How a request counts against the gateway's load:
 * - `exempt`: never shed and not counted: the probes (a readiness probe failing under load takes
 *   every busy gateway out of rotation at once, which only moves the overload), /metrics (what
 *   an operator looks at during the overload), the Stripe webhook (Stripe ignores Retry-After and
 *   backs off for up to an hour, so a shed `payment_intent.amount_capturable_updated` keeps an
 *   owner's escrow unconfirmed and the runner unable to accept long after the overload ended;
 *   they come one per payment step, a small fraction of the load), and the traffic of an open
 *   Socket.IO session (its long polls wait by design and would fill the count).
 * - `handshake`: a new Socket.IO session; shed when the gateway is full, never counted (a socket
 *   lives for minutes, not for one request).
 * - `request`: everything else; counted while in flight, shed beyond the limit.
 */
export type RequestKind = "exempt" | "handshake" | "request";

/** The exempt paths, exactly (a trailing slash reaches the same route). */
const EXEMPT_PATHS = new Set(["/health", "/ready", "/metrics", "/api/webhooks/stripe"]);
const SOCKET_PATH = "/socket.io/";

/** What kind a request is, from its URL alone: decided before anything is parsed or called. */
export function requestKind(url: string): RequestKind {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  const bare = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (EXEMPT_PATHS.has(bare)) return "exempt";
  if (path === SOCKET_PATH) {
    const sid = new URLSearchParams(query === -1 ? "" : url.slice(query + 1)).get("sid");
    return sid ? "exempt" : "handshake";
  }
  return "request";
}

/**
 * Whether a request of `kind` is shed when `inFlight` counted requests are being answered and the
 * limit is `maxInFlight` (0: no limit). At the limit the gateway already holds as much work as it
 * finishes within the latency it is sized for: one more would only wait behind the others.
 */
export function shouldShed(kind: RequestKind, inFlight: number, maxInFlight: number): boolean {
  if (maxInFlight === 0) return false;
  switch (kind) {
    case "exempt":
      return false;
    case "handshake":
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
    if (kind === "request") this.count++;
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
    const kind = requestKind(req.url ?? "/");
    if (kind !== "exempt" && !shedder.admit(kind)) {
      onShed(kind);
      res.writeHead(503, {
        "Content-Type": "application/json; charset=utf-8",
        "Retry-After": String(retryAfterSeconds),
      });
      res.end(body);
      return;
    }
    if (kind === "request") res.once("close", () => shedder.release());
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
        "HTTP/1.1 503 Service Unavailable\r\n" +
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
