import type { Logger, ServiceBroker } from "moleculer";
import type { LiveEvent, LiveEvents } from "../contracts/live";

/**
 * Sends a live event to the gateways, best effort: the event stream is the record, a socket push
 * only a courtesy, so a failure is logged and never thrown. `broadcast` reaches every gateway
 * (each pushes to its own sockets); `emit` one of them (it pushes through the socket.io adapter).
 */
export function pushLive<E extends LiveEvent>(
  broker: ServiceBroker,
  logger: Logger,
  how: "emit" | "broadcast",
  event: E,
  payload: LiveEvents[E],
): void {
  broker[how](event, payload).catch((error: unknown) => logger.warn("live push failed", error));
}
