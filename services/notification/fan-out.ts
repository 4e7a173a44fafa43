import { userKey } from "../../domain/access";
import { notificationsFor, partiesOfEvent } from "../../domain/notifications";
import type { EventType } from "../../events/catalog";
import type { DomainEvent } from "../../events/envelope";
import type { DeliveredEvent } from "../../adapters/event-bus";
import type { Dispatch } from "../../adapters/notify/port";
import { broadcast } from "../../lib/broadcast";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import type { NotificationDoc } from "../../models/notification.model";
import type { NotificationThis } from "./models";
import { recipientOf, toEntity } from "./inbox-records";

/**
 * From consumed events to what each outbound channel sends: an event's messages, one per
 * recipient, and everyone it is about; the in-app channel's inbox entries and live pushes.
 */

/**
 * What the channels get for one event: its messages (one template per type,
 * domain/notifications.ts) and the parties it names (whose webhooks hear it).
 */
function outgoingOf(event: DomainEvent): Dispatch {
  return { event, messages: notificationsFor(event), parties: partiesOfEvent(event) };
}

/**
 * Every channel gets what several events send at once: the in-app channel stores what they all
 * add to inboxes in one write.
 */
async function sendAll(service: NotificationThis, events: DomainEvent[]) {
  const outgoing = events.map(outgoingOf);
  await Promise.all(
    service.channels.flatMap((channel) => outgoing.map((dispatch) => channel.send(dispatch))),
  );
}

/** The same handler for each of a consumer group's event types. */
export const handlersFor = (types: readonly EventType[]): EventHandlers<NotificationThis> =>
  Object.fromEntries(
    types.map((type) => [
      type,
      async function (this: NotificationThis, event: DomainEvent) {
        await sendAll(this, [event]);
      },
    ]),
  );

/**
 * What a fetch brought of a consumer group's topic, in one go (the bus hands the same events to
 * `handlersFor`'s handlers one by one if this throws; every effect is keyed by the event id).
 */
export async function notifyBatch(this: NotificationThis, batch: DeliveredEvent[]) {
  await sendAll(
    this,
    batch.map(({ event }) => event),
  );
}

/**
 * In-app: the event's inbox entries, one per recipient, stored (with other events' entries, in
 * one write) and pushed to each recipient's sockets; the `<event id>:<role>:<sub>` key makes a
 * repeat store nothing and push nothing.
 */
export async function sendInApp(service: NotificationThis, { event, messages }: Dispatch) {
  if (messages.length === 0) return;
  // Dated by the event, so that a repeat is the same entry (domain/inbox.ts addEntries).
  const at = new Date(event.time);
  const docs: NotificationDoc[] = messages.map((message) => ({
    _id: `${event.id}:${userKey(recipientOf(message))}`,
    event_id: event.id,
    event_type: event.type,
    read_at: null,
    created_at: at,
    ...message,
  }));
  const fresh = await Promise.all(docs.map((doc) => service.inboxWriter.add(doc)));
  for (const doc of docs.filter((_, i) => fresh[i])) {
    broadcast(service.broker, service.logger, "live.notification", {
      recipient: recipientOf(doc),
      notification: toEntity(doc),
    });
  }
}
