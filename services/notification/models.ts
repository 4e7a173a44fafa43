import type { LruCache } from "../../lib/lru-cache";
import type { MicroBatcher } from "../../lib/micro-batch";
import type { OutboundChannel } from "../../adapters/notify/port";
import type { DomainServiceThis } from "../../mixins/domain-events.mixin";
import { inboxModel, type InboxDoc } from "../../models/inbox.model";
import { notificationModel, type NotificationDoc } from "../../models/notification.model";
import { deliveryModel, webhookModel, type WebhookDoc } from "../../models/webhook.model";

export const models = {
  notifications: notificationModel,
  inboxes: inboxModel,
  webhooks: webhookModel,
  deliveries: deliveryModel,
};

export type NotificationThis = DomainServiceThis<
  typeof models,
  {
    channels: OutboundChannel[];
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
