/**
 * kafkajs 2.2.4 (the latest release) keeps every broker connection's request queue awake: after
 * each check for pending requests it schedules the next one, and with no throttle in force the
 * delay it computes is negative, so the check runs again about every millisecond for as long as
 * the connection lives (tulios/kafkajs#1556, #1704). Each producer, consumer and admin client
 * holds such a queue per broker: an idle Kilat process spent 5–9 % of a core on these timers.
 *
 * `quietRequestQueues()` replaces that one method: a check is scheduled only while requests
 * wait, at the end of the throttle or after 10 ms (what kafkajs uses), never for an empty
 * queue. Nothing is lost by not checking an empty queue: a new request, and every response,
 * schedules a check again (kafkajs calls this method from `push` and after each response).
 * Applied once, on first use of the Kafka adapter; the test pins the behaviour it relies on.
 */

/** The part of kafkajs's RequestQueue this reads and writes. */
export interface RequestQueueState {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's interval between checks while requests wait without a throttle. */
const CHECK_PENDING_EVERY_MS = 10;

/** Schedules one check of the waiting requests, if any wait and none is scheduled. */
export function scheduleCheckWhileWaiting(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const delay = Math.max(this.throttledUntil - Date.now(), CHECK_PENDING_EVERY_MS);
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

let applied = false;

/** Patches kafkajs's RequestQueue (its source ships in the package) once per process. */
export function quietRequestQueues(): void {
  if (applied) return;
  applied = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- not in kafkajs's types
  const RequestQueue = require("kafkajs/src/network/requestQueue") as {
    prototype: RequestQueueState;
  };
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckWhileWaiting;
}
