import type { NotificationEntity } from "../../contracts";
import type { BookingRef } from "../../domain/notifications";
import type { LruCache } from "../../lib/lru-cache";
import type { MicroBatcher } from "../../lib/micro-batch";
import type { OutboundChannel } from "../../adapters/notify/port";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { bookingRefModel } from "../../models/booking-ref.model";
import { inboxModel, type InboxDoc } from "../../models/inbox.model";
import { notificationModel, type NotificationDoc } from "../../models/notification.model";
import { deliveryModel, webhookModel, type WebhookDoc } from "../../models/webhook.model";

export const models = {
  notifications: notificationModel,
  inboxes: inboxModel,
  refs: bookingRefModel,
  webhooks: webhookModel,
  deliveries: deliveryModel,
};

export type NotificationThis = DomainServiceThis<
  typeof models,
  {
    channels: OutboundChannel[];
    /** Booking references whose runner is known: they no longer change. */
    refCache: LruCache<string, BookingRef>;
    /** Stores inbox entries, what several events add at once together; true if new. */
    inboxWriter: MicroBatcher<NotificationDoc, boolean>;
    /** The inbox records this instance wrote last, by recipient key. */
    inboxCache: LruCache<string, InboxDoc>;
    /** Every recipient in the history has an inbox record: a missing one is an empty inbox. */
    inboxesBuilt: boolean;
    /** Webhook deliveries being sent by this instance. */
    inFlight: Set<Promise<unknown>>;
    webhookCache: { until: number; hooks: Promise<WebhookDoc[]> } | undefined;
  }
>;

export const toEntity = (doc: NotificationDoc): NotificationEntity => ({
  id: doc._id,
  event_type: doc.event_type,
  booking_id: doc.booking_id,
  booking_number: doc.booking_number,
  title: doc.title,
  body: doc.body,
  read: doc.read_at !== null,
  created_at: doc.created_at.toISOString(),
});
