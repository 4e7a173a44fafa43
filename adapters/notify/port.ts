import type { OutgoingNotification } from "../../domain/notifications";
import type { DomainEvent } from "../../events/envelope";

/** What an outbound channel gets for one consumed event. */
export interface Dispatch {
  event: DomainEvent;
  /** One message per recipient, from the event's template. */
  messages: OutgoingNotification[];
  /** Everyone the event is about (recipients, owner, runner), as user keys (`<role>:<sub>`). */
  parties: string[];
}

/**
 * An outbound channel of the notification service: in-app (inbox + socket push, always on) and
 * integrator webhooks today; e-mail or push would be two more. `send` must be idempotent for a
 * repeated event, and must not wait on anything slow outside (queue, then deliver).
 */
export interface OutboundChannel {
  readonly name: string;
  send(dispatch: Dispatch): Promise<void>;
}
