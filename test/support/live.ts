import { io, type Socket } from "socket.io-client";

/**
 * The sockets a test opens to one system, kept to close them all: `connect` opens one,
 * `handshake` says how a handshake ended ("connected", or the connect_error's message).
 */
export function socketsTo(url: () => string) {
  const open: Socket[] = [];
  const connect = async (token: string) => {
    const socket = await connectSocket(url(), token);
    open.push(socket);
    return socket;
  };
  const handshake = (token: string) =>
    connect(token).then(
      () => "connected",
      (error: Error) => error.message,
    );
  const closeAll = () => {
    for (const socket of open.splice(0)) socket.close();
  };
  return { open, connect, handshake, closeAll };
}

/** A socket.io client as an app opens one: websocket only, the JWT in the handshake. */
export function connectSocket(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
}

export interface Ack {
  ok: boolean;
  error?: { code?: number; message?: string; type?: string };
  [key: string]: unknown;
}

/** Emits and waits for the server's acknowledgement. */
export function request(socket: Socket, event: string, payload?: unknown): Promise<Ack> {
  return socket.timeout(5000).emitWithAck(event, payload) as Promise<Ack>;
}

/** Collects every payload of one socket event, in arrival order. */
export function collect<T>(socket: Socket, event: string): T[] {
  const received: T[] = [];
  socket.on(event, (payload: T) => received.push(payload));
  return received;
}

/** `count` points walking north from `start`, `stepKm` apart, one per second ending now. */
export function walk(
  start: { lat: number; lng: number },
  count: number,
  stepKm = 0.01,
  endAt = Date.now(),
): { lat: number; lng: number; speed_kmh: number; timestamp: string }[] {
  const degPerKm = 1 / 111.195;
  return Array.from({ length: count }, (_, i) => ({
    lat: start.lat + i * stepKm * degPerKm,
    lng: start.lng,
    speed_kmh: stepKm * 3600,
    timestamp: new Date(endAt - (count - 1 - i) * 1000).toISOString(),
  }));
}
