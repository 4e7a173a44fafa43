import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import { notificationsFor } from "../domain/notifications";
import type { DomainEvent } from "../events/envelope";
import { actionsOf, callerOf } from "../lib/action";
import { ignoreDuplicateKey } from "../lib/mongo";
import { PAGE_SORT, PageParams, afterCursor, toPage } from "../lib/pagination";
import { DomainEvents } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { notificationModel, type NotificationDoc } from "../models/notification.model";

const models = { notifications: notificationModel };

export const ListNotificationsParams = z.object({
  unread: z
    .enum(["true", "false"])
    .transform((value) => value === "true")
    .or(z.boolean())
    .optional(),
  ...PageParams,
});

/** An inbox entry as the API returns it. */
export interface NotificationEntity {
  id: string;
  event_type: string;
  booking_id: string | null;
  booking_number: string | null;
  title: string;
  body: string;
  read: boolean;
  created_at: string;
}

interface NotificationMethods {
  storeNotifications(event: DomainEvent): Promise<void>;
}

type NotificationThis = Service & MongoThis<typeof models> & NotificationMethods;
const action = actionsOf<NotificationThis>();

const toEntity = (doc: NotificationDoc): NotificationEntity => ({
  id: doc._id,
  event_type: doc.event_type,
  booking_id: doc.booking_id,
  booking_number: doc.booking_number,
  title: doc.title,
  body: doc.body,
  read: doc.read_at !== null,
  created_at: doc.created_at.toISOString(),
});

const NotificationService: ServiceSchema<
  ServiceSettingSchema,
  NotificationMethods,
  MongoThis<typeof models>
> = {
  name: "notification",
  mixins: [
    DomainEvents({
      source: "notification",
      consume: {
        "service-notification-bookings": { "booking.requested": "storeNotifications" },
      },
    }),
    MongoMixin({ db: "notification", models }),
  ],

  actions: {
    /** The caller's inbox, newest first, with the number of unread entries. */
    list: action({
      roles: ["owner", "runner", "admin"],
      params: ListNotificationsParams,
      async handler(ctx) {
        const user = callerOf(ctx);
        const { unread, limit, cursor } = ctx.params;
        const mine = { recipient_id: user.sub };
        const [rows, unreadCount] = await Promise.all([
          this.models.notifications
            .find({ ...mine, ...(unread ? { read_at: null } : {}), ...afterCursor(cursor) })
            .sort(PAGE_SORT)
            .limit(limit + 1)
            .lean<NotificationDoc[]>(),
          this.models.notifications.countDocuments({ ...mine, read_at: null }),
        ]);
        const page = toPage(rows, limit);
        return {
          items: page.items.map(toEntity),
          unread_count: unreadCount,
          next_cursor: page.next_cursor,
        };
      },
    }),
  },

  methods: {
    /** One inbox entry per recipient; the `<event id>:<recipient>` key makes a repeat a no-op. */
    async storeNotifications(event: DomainEvent) {
      const now = new Date();
      for (const message of notificationsFor(event)) {
        await this.models.notifications
          .create({
            _id: `${event.id}:${message.recipient_id}`,
            event_id: event.id,
            event_type: event.type,
            read_at: null,
            created_at: now,
            ...message,
          })
          .catch(ignoreDuplicateKey);
      }
    },
  },
};

export default NotificationService;
