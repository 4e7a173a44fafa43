import type { ExtendedError, Socket } from "socket.io";
import { MAX_UPLOAD_FIXES } from "../../contracts";
import { userKey } from "../../domain/access";
import { AuthError, readToken, tokenPolicy, type AuthUser } from "../../lib/auth";
import { HTTP_STATUS } from "../../lib/http-status";
import { RateLimiter } from "../../lib/rate-limit";
import { runtimeOf } from "../../lib/runtime";
import { GATEWAY_TUNING } from "../../config/tuning";
import type { ServiceBroker } from "moleculer";
import type { IncomingMessage } from "node:http";

/**
 * What one user may take of a gateway's live channel: so many sockets (SOCKET_MAX_PER_USER),
 * so many events a second per socket (SOCKET_EVENTS_PER_SEC), so many booking rooms per socket
 * (SOCKET_MAX_ROOMS), a few room checks in flight at once; and a socket lives no longer than
 * its token. Counted per gateway: a user spread over N gateways may hold N times as many.
 */

/** What of the gateway the guard uses (the gateway's `this` has it). */
interface Gateway {
  broker: ServiceBroker;
  limiter: { admit(request: IncomingMessage): Promise<number | undefined> };
  sockets: SocketGuard;
}

/** What the handshake leaves on the socket. */
export interface SocketSession {
  user: AuthUser;
  expiresAtMs: number;
}

export const sessionOf = (socket: Socket) => socket.data as SocketSession;

/** How many GPS fixes an event carries: one `location`, or a `locations` batch's size. */
function fixesIn(args: unknown[]): number {
  const [event, body] = args;
  if (event === "location") return 1;
  if (event !== "locations") return 0;
  const fixes = (body as { fixes?: unknown } | null | undefined)?.fixes;
  // An oversized batch is refused by its schema (422) before any fix of it is read.
  return Array.isArray(fixes) && fixes.length <= MAX_UPLOAD_FIXES ? fixes.length : 0;
}

/** setTimeout's longest delay; a later expiry is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SocketGuard {
  private readonly sockets = new Map<string, number>();
  private readonly checks = new Map<string, number>();
  private readonly joining = new Map<string, number>();
  private readonly events: RateLimiter;
  private readonly fixes: RateLimiter;

  constructor(
    private readonly limits: {
      maxPerUser: number;
      maxRooms: number;
      eventsPerSec: number;
      /** GPS fixes per user per second as they arrive (LOCATION_ARRIVALS_PER_SEC). */
      fixesPerSec: number;
    },
    private readonly now: () => number = Date.now,
  ) {
    this.events = new RateLimiter({
      ratePerSec: limits.eventsPerSec,
      burst: Math.max(1, 2 * limits.eventsPerSec),
      maxKeys: GATEWAY_TUNING.socketsTracked,
    });
    // One full batch may come at once (a phone back in coverage), then the rate.
    this.fixes = new RateLimiter({
      ratePerSec: limits.fixesPerSec,
      burst: Math.max(MAX_UPLOAD_FIXES, 2 * limits.fixesPerSec),
      maxKeys: GATEWAY_TUNING.socketsTracked,
    });
  }

  /**
   * Whether a user may send this many GPS fixes now. A batch counts its size, and one over the
   * budget is refused whole, before any fix of it is read: an event is cheap to count, 500
   * fixes are not cheap to judge.
   */
  allowFixes(user: AuthUser, count: number): boolean {
    return this.fixes.allow(userKey(user), this.now(), count);
  }

  /** Takes one of the user's socket slots: the release, or undefined when all are taken. */
  open(user: AuthUser): (() => void) | undefined {
    return this.take(this.sockets, userKey(user), this.limits.maxPerUser);
  }

  /** Whether a socket may send one more event now (a token bucket per socket). */
  allowEvent(socketId: string): boolean {
    return this.events.allow(socketId, this.now());
  }

  /**
   * Takes a room slot of a socket that watches `watching` booking rooms, for a join about to be
   * checked: the release (once the join is done or refused), or undefined when the joins in
   * hand would take it past SOCKET_MAX_ROOMS. Counting only the rooms joined would let the
   * checks in flight all pass and join.
   */
  reserveRoom(socketId: string, watching: number): (() => void) | undefined {
    return this.take(this.joining, socketId, this.limits.maxRooms - watching);
  }

  /** The joins of a socket still being checked. */
  joiningRooms(socketId: string): number {
    return this.joining.get(socketId) ?? 0;
  }

  /** Takes one of the user's room checks in flight: the release, or undefined when all are. */
  beginCheck(user: AuthUser): (() => void) | undefined {
    return this.take(this.checks, userKey(user), GATEWAY_TUNING.roomChecksPerUser);
  }

  get maxPerUser() {
    return this.limits.maxPerUser;
  }

  get maxRooms() {
    return this.limits.maxRooms;
  }

  private take(counts: Map<string, number>, key: string, max: number) {
    const held = counts.get(key) ?? 0;
    if (held >= max) return undefined;
    counts.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (counts.get(key) ?? 1) - 1;
      if (left > 0) counts.set(key, left);
      else counts.delete(key);
    };
  }
}

/** An error a handshake is refused with: the client's `connect_error` carries message and data. */
function refusal(message: string, code: number): ExtendedError {
  return Object.assign(new Error(message), { data: { code, message } });
}

/**
 * The handshake: the token (as REST checks it), the address's request budget (the same
 * counters as REST), then a socket slot of the user, released when the connection closes.
 */
export function admitSocket(service: Gateway) {
  const { config } = runtimeOf(service.broker);
  const policy = tokenPolicy(config);
  return (socket: Socket, next: (error?: ExtendedError) => void) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    let session: SocketSession;
    try {
      const verified = readToken(typeof token === "string" ? token : undefined, policy);
      session = { user: verified.user, expiresAtMs: verified.expiresAtMs };
    } catch (error) {
      next(
        refusal(
          error instanceof AuthError ? error.message : "unauthorized",
          HTTP_STATUS.UNAUTHORIZED,
        ),
      );
      return;
    }
    void service.limiter.admit(socket.request).then((retryAfter) => {
      if (retryAfter !== undefined) {
        next(refusal(`Too many requests, retry in ${retryAfter} s`, HTTP_STATUS.TOO_MANY_REQUESTS));
        return;
      }
      const release = service.sockets.open(session.user);
      if (!release) {
        next(
          refusal(
            `Too many connections for this user (at most ${service.sockets.maxPerUser})`,
            HTTP_STATUS.TOO_MANY_REQUESTS,
          ),
        );
        return;
      }
      // A socket that never connects (its client left during the handshake) has no disconnect.
      socket.conn.once("close", release);
      socket.once("disconnect", release);
      Object.assign(socket.data as object, session);
      next();
    });
  };
}

/** The error acknowledgement of a refused event, if the sender asked for one. */
function refuse(args: unknown[], error: { message: string; code: number; type: string }) {
  const ack = args[args.length - 1];
  if (typeof ack === "function") (ack as (body: unknown) => void)({ ok: false, error });
}

/**
 * Every event of a connected socket: refused once its token has expired (the socket is then
 * closed, as it is when the expiry comes while it is quiet), or past its event rate.
 */
export function guardEvents(service: Gateway, socket: Socket) {
  const session = sessionOf(socket);
  const expire = () => {
    socket.emit("auth:expired", { code: HTTP_STATUS.UNAUTHORIZED, message: "token expired" });
    socket.disconnect(true);
  };
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = session.expiresAtMs - Date.now();
    if (left <= 0) return expire();
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  socket.once("disconnect", () => clearTimeout(timer));
  socket.use((args, next) => {
    if (Date.now() >= session.expiresAtMs) {
      refuse(args, {
        message: "token expired",
        code: HTTP_STATUS.UNAUTHORIZED,
        type: "TOKEN_EXPIRED",
      });
      expire();
      return;
    }
    if (!service.sockets.allowEvent(socket.id)) {
      refuse(args, {
        message: "Too many events on this socket, slow down",
        code: HTTP_STATUS.TOO_MANY_REQUESTS,
        type: "RATE_LIMITED",
      });
      return;
    }
    const fixes = fixesIn(args);
    if (fixes > 0 && !service.sockets.allowFixes(session.user, fixes)) {
      refuse(args, {
        message: "Too many GPS fixes for this runner, slow down",
        code: HTTP_STATUS.TOO_MANY_REQUESTS,
        type: "RATE_LIMITED",
      });
      return;
    }
    next();
  });
}
