import type { LiveEvents } from "./live";

/**
 * Every Moleculer broadcast, by name, with its payload: the one place they are declared. Unlike
 * domain events they are not stored: best effort, each one a hint that some instances' copies
 * in memory are stale, or a push to the gateways' sockets (`LiveEvents`).
 */
export interface Broadcasts extends LiveEvents {
  /** A trip's state changed: every tracking instance drops its cached track of the booking. */
  "tracking.forget": { booking_id: string; runner_id?: string };
  /** A webhook was added or removed: every notification instance reads the subscriptions again. */
  "notification.webhooksChanged": Record<string, never>;
}

export type Broadcast = keyof Broadcasts;
