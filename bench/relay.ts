/**
 * The tracking benchmark's baseline: a bare socket.io relay — runner socket → server → watcher
 * socket — with no Moleculer, Kafka or database. Run as its own process so it gets a core like
 * the gateway does: `tsx bench/relay.ts <port> [redis-url]` (with a URL, rooms go through the
 * same Redis streams adapter the gateway uses). Prints "ready" when listening.
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import Redis from "ioredis";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const redisUrl = process.argv[3];
const redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: null }) : undefined;
const http = createServer();
const io = new Server(http, {
  serveClient: false,
  ...(redis
    ? { adapter: createAdapter(redis, { streamName: `relay-${process.pid}`, maxLen: 100_000 }) }
    : {}),
});

io.on("connection", (socket) => {
  socket.on("track:subscribe", (payload: { booking_id: string }, ack: (r: unknown) => void) => {
    void socket.join(`booking:${payload.booking_id}`);
    ack({ ok: true });
  });
  socket.on("location", (fix: Record<string, unknown>, ack: (r: unknown) => void) => {
    io.to(`booking:${String(fix.booking_id)}`).emit("track:update", {
      booking_id: fix.booking_id,
      lat: fix.lat,
      lng: fix.lng,
      speed_kmh: fix.speed_kmh,
      heading_degrees: null,
      recorded_at: fix.timestamp,
      total_distance_km: 0,
      eta_seconds: null,
    });
    ack({ ok: true, accepted: true });
  });
});

http.listen(port, "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => {
  void io.close();
  redis?.disconnect();
  process.exit(0);
});
