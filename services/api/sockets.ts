import { createAdapter } from "@socket.io/redis-streams-adapter";
import { Server as SocketServer, type Socket } from "socket.io";
import { z } from "zod";
import { GATEWAY_TUNING } from "../../config/tuning";
import { UploadLocationsParams, type FixResult } from "../../contracts";
import type { AuthUser } from "../../lib/auth";
import { HTTP_STATUS } from "../../lib/http-status";
import { validationError } from "../../lib/zod-validator";
import { runtimeOf } from "../../lib/runtime";
import { ADMIN_RUNNERS_ROOM, bookingRoom, userRoom, type ApiThis } from "./context";
import { errorBody, type HttpError } from "./errors";
import { admitSocket, guardEvents } from "./socket-guard";

/**
 * The live channel: Socket.IO on the gateway's port, the JWT in the handshake
 * (`io(url, { auth: { token } })`). Every user joins a personal room (notifications); runners
 * send GPS fixes; participants watch a booking's room; admins the runners' dashboard.
 */

const SubscribeParams = z.object({ booking_id: z.string().min(1).max(64) });

/** Every socket acknowledgement: `{ ok: true, … }` or `{ ok: false, error }`. */
type SocketAck =
  { ok: true; [key: string]: unknown } | { ok: false; error: Record<string, unknown> };

const reply = (ack: unknown, body: SocketAck) => {
  if (typeof ack === "function") (ack as (body: SocketAck) => void)(body);
};

/** The booking a room message names, or undefined (and the sender told why). */
function bookingIn(payload: unknown, ack: unknown): string | undefined {
  const parsed = SubscribeParams.safeParse(payload);
  if (!parsed.success) {
    reply(ack, {
      ok: false,
      error: { message: "booking_id is required", code: HTTP_STATUS.UNPROCESSABLE_ENTITY },
    });
    return undefined;
  }
  return parsed.data.booking_id;
}

/** An error as an acknowledgement: the REST error body, with its status as the code. */
const failure = (error: unknown): SocketAck => {
  const { status, body } = errorBody(error as HttpError);
  return { ok: false, error: { ...body, code: status } };
};

export function attachSockets(service: ApiThis): SocketServer {
  const { config } = runtimeOf(service.broker);
  const io = new SocketServer(service.server, {
    // The pages load the client from here (/socket.io/socket.io.min.js): no CDN.
    serveClient: true,
    maxHttpBufferSize: GATEWAY_TUNING.socketMaxMessageBytes,
    cors: { origin: config.http.corsOrigins.length > 0 ? config.http.corsOrigins : false },
    // Several gateways share rooms through Redis. The streams adapter, not the pub/sub one: it
    // resumes its stream after a Redis reconnect instead of dropping what was sent meanwhile.
    ...(service.adapterRedis
      ? {
          adapter: createAdapter(service.adapterRedis, {
            streamName: `${config.mongoDbPrefix}:socket.io`,
            maxLen: GATEWAY_TUNING.socketStreamMaxLen,
          }),
        }
      : {}),
  });
  io.use(admitSocket(service));
  io.on("connection", (socket) => {
    const { user } = socket.data as { user: AuthUser };
    guardEvents(service, socket);
    void socket.join(userRoom(user));
    socket.on("location", (...args: unknown[]) => onLocation(service, user, args));
    socket.on("locations", (...args: unknown[]) => onLocations(service, user, args));
    socket.on(
      "track:subscribe",
      (payload: unknown, ack: unknown) => void watch(service, socket, user, payload, ack),
    );
    socket.on("track:unsubscribe", (payload: unknown, ack: unknown) => {
      const bookingId = bookingIn(payload, ack);
      if (!bookingId) return;
      void socket.leave(bookingRoom(bookingId));
      reply(ack, { ok: true });
    });
    socket.on("runners:subscribe", (_payload: unknown, ack: unknown) => {
      if (user.role !== "admin") {
        reply(ack, { ok: false, error: { message: "Admins only", code: HTTP_STATUS.FORBIDDEN } });
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
  return io;
}

/** One fix's answer, as the runner app reads it. */
const fixAck = (result: FixResult): SocketAck =>
  result.ok ? { ok: true, accepted: true, event_id: result.event_id } : failure(result.error);

/** A message's payload and acknowledgement (the last argument, also when no payload came). */
function splitAck(args: unknown[]): { payload: unknown; ack: unknown } {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : undefined;
  return { payload: args[0], ack };
}

/**
 * Takes `count` fixes of a runner in flight, and gives back the release; undefined when refused
 * at once: not a runner, or more fixes in flight than a gateway allows (overload sheds, the app
 * sends again; it does not pile up).
 */
function admitFixes(service: ApiThis, user: AuthUser, ack: unknown, count: number) {
  if (user.role !== "runner") {
    reply(ack, { ok: false, error: { message: "Runners only", code: HTTP_STATUS.FORBIDDEN } });
    return undefined;
  }
  if (service.fixesInFlight + count > GATEWAY_TUNING.maxFixesInFlight) {
    reply(ack, failure({ name: "QueueIsFull", message: "", type: "QUEUE_FULL" }));
    return undefined;
  }
  service.fixesInFlight += count;
  return () => void (service.fixesInFlight -= count);
}

/**
 * GPS from the runner app without an HTTP round trip per fix, judged as REST judges one; the
 * fixes of one event-loop turn go to the runner service as one call.
 */
function onLocation(service: ApiThis, user: AuthUser, args: unknown[]) {
  const { payload, ack } = splitAck(args);
  const release = admitFixes(service, user, ack, 1);
  if (!release) return;
  service.locations
    // null, not undefined, survives JSON: a missing fix is judged (422) as a bad one.
    .add({ runner_id: user.sub, fix: payload ?? null })
    .then((result) => reply(ack, fixAck(result)))
    .catch((error: unknown) => reply(ack, failure(error)))
    .finally(release);
}

/** A batch of buffered fixes (`{ fixes }`, oldest first), answered fix by fix, as REST does. */
function onLocations(service: ApiThis, user: AuthUser, args: unknown[]) {
  const { payload, ack } = splitAck(args);
  const parsed = UploadLocationsParams.safeParse(payload);
  if (!parsed.success) {
    reply(ack, failure(validationError(parsed.error)));
    return;
  }
  const release = admitFixes(service, user, ack, parsed.data.fixes.length);
  if (!release) return;
  const fixes = parsed.data.fixes.map((fix) => ({ runner_id: user.sub, fix: fix ?? null }));
  service.broker
    .call<{ results: FixResult[] }, { fixes: typeof fixes }>("runner.locations", { fixes })
    .then(({ results }) => reply(ack, { ok: true, results: results.map(fixAck) }))
    .catch((error: unknown) => reply(ack, failure(error)))
    .finally(release);
}

/** Joins a booking's live room, if the tracking service says the user may watch the trip. */
async function watch(
  service: ApiThis,
  socket: Socket,
  user: AuthUser,
  payload: unknown,
  ack: unknown,
) {
  const booking_id = bookingIn(payload, ack);
  if (!booking_id) return;
  const watching = [...socket.rooms].filter((room) => room.startsWith(bookingRoom(""))).length;
  const room = socket.rooms.has(bookingRoom(booking_id))
    ? () => undefined // watched already: joining again takes no room
    : service.sockets.reserveRoom(socket.id, watching);
  if (!room) {
    const joining = service.sockets.joiningRooms(socket.id);
    const held =
      joining > 0 ? `${watching} bookings and is joining ${joining}` : `${watching} bookings`;
    const message = `This socket watches ${held}, the most allowed: unsubscribe one first`;
    reply(ack, {
      ok: false,
      error: { message, code: HTTP_STATUS.TOO_MANY_REQUESTS, type: "TOO_MANY_ROOMS" },
    });
    return;
  }
  const release = service.sockets.beginCheck(user);
  if (!release) {
    room();
    reply(ack, failure({ name: "QueueIsFull", message: "", type: "QUEUE_FULL" }));
    return;
  }
  try {
    const { ok } = await service.broker.call<{ ok: boolean }, Record<string, string>>(
      "tracking.mayWatch",
      { booking_id, user_id: user.sub, role: user.role },
    );
    if (!ok) {
      reply(ack, {
        ok: false,
        error: { message: "Booking not found", code: HTTP_STATUS.NOT_FOUND },
      });
      return;
    }
    await socket.join(bookingRoom(booking_id));
    reply(ack, { ok: true });
  } catch (error) {
    reply(ack, failure(error));
  } finally {
    room();
    release();
  }
}
