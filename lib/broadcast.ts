import type { Logger, ServiceBroker } from "moleculer";
import type { LiveEvent, LiveEvents } from "../contracts/live";

/**
 * Sends a live event to every gateway, best effort: the event stream is the record, a socket
 * push only a courtesy, so a failure is logged and never thrown. Each gateway pushes to its own
 * sockets: through the socket.io adapter instead, each push cost a write to its Redis stream and
 * a read by every gateway.
 */
export function pushLive<E extends LiveEvent>(
  broker: ServiceBroker,
  logger: Logger,
  event: E,
  payload: LiveEvents[E],
): void {
  broker
    .broadcast(event, payload)
    .catch((error: unknown) => logger.warn("live push failed", error));
}
