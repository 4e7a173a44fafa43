import type { Server as HttpServer } from "node:http";
import type { Service } from "moleculer";
import type { ApiSettingsSchema } from "moleculer-web";
import type Redis from "ioredis";
import type { Server as SocketServer } from "socket.io";
import type { FixResult } from "../../contracts";
import type { rateLimiter } from "../../lib/http-limits";
import type { MicroBatcher } from "../../lib/micro-batch";
import type { ReadinessProbe } from "../../lib/readiness";

export type ApiThis = Service<ApiSettingsSchema> & {
  server: HttpServer;
  io: SocketServer | undefined;
  adapterRedis: Redis | undefined;
  limiterRedis: Redis | undefined;
  limiter: ReturnType<typeof rateLimiter>;
  openApiDocument: Record<string, unknown> | undefined;
  probe: ReadinessProbe;
  /** The GPS fixes of one tick, from every runner socket of this gateway, in one call. */
  locations: MicroBatcher<{ runner_id: string; fix: unknown }, FixResult>;
  fixesInFlight: number;
};

export const bookingRoom = (bookingId: string) => `booking:${bookingId}`;
export const userRoom = (userId: string) => `user:${userId}`;
export const ADMIN_RUNNERS_ROOM = "admin:runners";
