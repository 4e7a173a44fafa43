import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Service } from "moleculer";
import type { ApiSettingsSchema } from "moleculer-web";
import type Redis from "ioredis";
import type { Server as SocketServer } from "socket.io";
import type { FixResult } from "../../contracts";
import { userKey, type User } from "../../domain/access";
import type { rateLimiter } from "../../lib/http-limits";
import type { LoadShedder } from "../../lib/load-shedding";
import type { MicroBatcher } from "../../lib/micro-batch";
import type { ReadinessProbe } from "../../lib/readiness";
import type { SocketGuard } from "./socket-guard";

export type ApiThis = Service<ApiSettingsSchema> & {
  server: HttpServer;
  io: SocketServer | undefined;
  adapterRedis: Redis | undefined;
  limiterRedis: Redis | undefined;
  limiter: ReturnType<typeof rateLimiter>;
  /** REST requests in flight on this gateway, and whether the next one is shed. */
  shedder: LoadShedder;
  openApiDocument: Record<string, unknown> | undefined;
  probe: ReadinessProbe;
  /** The GPS fixes of one tick, from every runner socket of this gateway, in one call. */
  locations: MicroBatcher<{ runner_id: string; fix: unknown }, FixResult>;
  fixesInFlight: number;
  /** What one user may take of the live channel (socket-guard.ts). */
  sockets: SocketGuard;
  /** The client's address: the peer, or behind TRUSTED_PROXIES the forwarded one. */
  clientAddressOf: (req: IncomingMessage) => string;
  /** moleculer-web's own alias lookup (its typings omit it): what a path and method lead to. */
  resolveAlias(url: string, method?: string): { alias?: { action?: string } } | undefined;
};

export const bookingRoom = (bookingId: string) => `booking:${bookingId}`;
/** A user's own room (their notifications): by role and sub, never the sub alone. */
export const userRoom = (user: User) => `user:${userKey(user)}`;
export const ADMIN_RUNNERS_ROOM = "admin:runners";
