import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { EVENT_BUS_TUNING, NOTIFICATION_TUNING, WEBHOOK_TUNING } from "../../config/tuning";
import { LruCache } from "../../lib/lru-cache";
import { MicroBatcher } from "../../lib/micro-batch";
import { CONSUMER_GROUPS, consumerGroup } from "../../events/catalog";
import { DomainMixins } from "../../mixins/domain-events.mixin";
import { Periodic } from "../../mixins/periodic.mixin";
import { models, type NotificationThis } from "./models";
import * as fanOut from "./fan-out";
import * as inbox from "./inbox-actions";
import { buildAllInboxes, storeEntries } from "./inbox-records";
import * as webhooks from "./webhooks";

/** This service's consumer groups, as the catalog lists them. */
const GROUPS = CONSUMER_GROUPS.filter((group) => group.service === "service-notification").map(
  (group) => group.groupId,
);

/** A consumer group's handlers: one per event type the catalog lists for it. */
const handlersOf = (groupId: string) => fanOut.handlersFor(consumerGroup(groupId).events);

/**
 * Notifications: every booking, payment, trip and offer event becomes a message per recipient
 * (domain/notifications.ts), sent through each outbound channel — the in-app inbox with its live
 * push, and integrator webhooks.
 */
const NotificationService: ServiceSchema<ServiceSettingSchema, object, object, NotificationThis> = {
  name: "notification",
  mixins: [
    Periodic<NotificationThis>({
      webhookDeliveries: {
        everyMs: () => WEBHOOK_TUNING.deliveryEveryMs,
        run: webhooks.deliverDue,
      },
    }),
    ...DomainMixins<NotificationThis, typeof models>({
      db: "notification",
      models,
      // Each effect is keyed by the event id: the inbox entry (`<event>:<recipient>`, pushed
      // only when new), the webhook delivery (`<webhook>:<event>`).
      deduplicate: false,
      // runner.events and tracking.events carry every GPS fix, which this service skips: its
      // fetches there wait to fill, so a fix stream costs it a few fetches a second.
      fetchWaitMs: {
        "service-notification-runners": EVENT_BUS_TUNING.patientFetchMs,
        "service-notification-tracking": EVENT_BUS_TUNING.patientFetchMs,
      },
      consume: Object.fromEntries(GROUPS.map((group) => [group, handlersOf(group)])),
      // What a fetch brings goes to every channel at once: one inbox write for all its events.
      batch: Object.fromEntries(GROUPS.map((group) => [group, fanOut.notifyBatch])),
    }),
  ],

  actions: {
    /** The caller's inbox, newest first, with the unread count. */
    list: inbox.list,
    /** Marks one of the caller's notifications read. */
    read: inbox.read,
    /** Marks all of the caller's notifications read. */
    readAll: inbox.readAll,
    /** Ops: every inbox entry about one booking. */
    forBooking: inbox.forBooking,
    /** Subscribes a URL to event types; the signing secret is shown once. */
    webhookCreate: webhooks.webhookCreate,
    /** The caller's webhooks. */
    webhookList: webhooks.webhookList,
    /** Unsubscribes; pending deliveries are dropped. */
    webhookDelete: webhooks.webhookDelete,
    /** A webhook's deliveries with every attempt. */
    webhookDeliveries: webhooks.webhookDeliveries,
  },

  events: {
    /** Someone subscribed or unsubscribed (on any instance): read the subscriptions again. */
    "notification.webhooksChanged"() {
      this.webhookCache = undefined;
    },
  },

  created() {
    this.inFlight = new Set();
    this.inboxCache = new LruCache(NOTIFICATION_TUNING.inboxRecords);
    this.inboxWriter = new MicroBatcher(
      // Consumers' work, on the background pool (the micro-batch is made before it exists).
      (docs) => storeEntries(this.$background, docs),
      NOTIFICATION_TUNING.inboxBatch,
    );
    this.channels = [
      { name: "in-app", send: (dispatch) => fanOut.sendInApp(this, dispatch) },
      {
        name: "webhooks",
        send: ({ event, parties }) => webhooks.queueWebhooks(this, event, parties),
      },
    ];
  },

  started() {
    this.inboxesBuilt = false;
    // In the background: until it is done, a recipient without a record has it built alone.
    buildAllInboxes(this).catch((error: unknown) => {
      this.logger.warn(
        "inbox records not built from the history; retried at the next start",
        error,
      );
    });
  },

  async stopped() {
    await Promise.allSettled([...this.inFlight]);
  },
};

export default NotificationService;
