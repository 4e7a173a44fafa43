import type { Logger, ServiceBroker } from "moleculer";
import type { Broadcast, Broadcasts } from "../contracts/broadcasts";

/**
 * Sends a broadcast (contracts/broadcasts.ts) to every instance that listens, best effort: the
 * event stream is the record, a broadcast only a hint or a courtesy, so a failure is logged and
 * never thrown. A live event goes to every gateway, which pushes to its own sockets: through the
 * socket.io adapter instead, each push cost a write to its Redis stream and a read by every
 * gateway.
 */
export function broadcast<E extends Broadcast>(
  broker: ServiceBroker,
  logger: Logger,
  event: E,
  payload: Broadcasts[E],
): void {
  broker
    .broadcast(event, payload)
    .catch((error: unknown) => logger.warn(`broadcast ${event} failed`, error));
}
