import type { User } from "../domain/access";
import type { BookingMoved } from "./booking";
import type { NotificationEntity } from "./notification";
import type { LiveFix, LiveRunnerChange } from "./tracking";

/**
 * The Moleculer events the services broadcast to the gateways, which push them to sockets: the
 * one place their names and payloads are written.
 */
export interface LiveEvents {
  /** Accepted GPS fixes: to each booking's watchers (`track:update`). */
  "live.tracks": { fixes: LiveFix[] };
  /** Runners online, offline, moving: to the admin dashboard. */
  "live.runners": { changes: LiveRunnerChange[] };
  /** A new inbox entry: to its recipient's sockets (the role too: an owner's, not a runner's). */
  "live.notification": { recipient: User; notification: NotificationEntity };
  /** A booking moved: to its watchers (`booking:status`). */
  "live.booking": BookingMoved;
}

export type LiveEvent = keyof LiveEvents;
