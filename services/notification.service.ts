import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import { notificationsFor, type BookingRef } from "../domain/notifications";
import type { DomainEvent } from "../events/envelope";
import { actionsOf, callerOf, notFound } from "../lib/action";
import { ignoreDuplicateKey } from "../lib/mongo";
import { PAGE_SORT, PageParams, afterCursor, toPage } from "../lib/pagination";
import { DomainEvents } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { bookingRefModel, type BookingRefDoc } from "../models/booking-ref.model";
import { notificationModel, type NotificationDoc } from "../models/notification.model";

const models = { notifications: notificationModel, refs: bookingRefModel };

const IdParams = z.object({ id: z.string().min(1).max(200) }).strict();

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
  refOf(event: DomainEvent): Promise<BookingRef>;
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
        "service-notification-bookings": {
          "booking.requested": "storeNotifications",
          "booking.accepted": "storeNotifications",
          "booking.pet_picked_up": "storeNotifications",
          "booking.delivery_in_progress": "storeNotifications",
          "booking.delivered": "storeNotifications",
          "booking.delivery_confirmed": "storeNotifications",
          "booking.completed": "storeNotifications",
          "booking.cancelled": "storeNotifications",
        },
        "service-notification-payments": {
          "payment.escrow_held": "storeNotifications",
          "payment.escrow_released": "storeNotifications",
          "payment.escrow_refunded": "storeNotifications",
          "payment.failed": "storeNotifications",
        },
        "service-notification-tracking": {
          "tracking.started": "storeNotifications",
          "tracking.completed": "storeNotifications",
        },
        "service-notification-runners": { "runner.assigned": "storeNotifications" },
      },
    }),
    MongoMixin({ db: "notification", models }),
  ],

  actions: {
    /** Ops (REPL `booking`): every inbox entry about one booking, all recipients. */
    forBooking: {
      visibility: "public",
      params: { booking_id: "string" },
      async handler(this: NotificationThis, ctx: { params: { booking_id: string } }) {
        const rows = await this.models.notifications
          .find({ booking_id: ctx.params.booking_id })
          .sort(PAGE_SORT)
          .limit(100)
          .lean<NotificationDoc[]>();
        return rows.map((doc) => ({ recipient_id: doc.recipient_id, ...toEntity(doc) }));
      },
    },

    /** Marks one of the caller's notifications read (404 for anyone else's). */
    read: action({
      roles: ["owner", "runner", "admin"],
      params: IdParams,
      async handler(ctx) {
        const user = callerOf(ctx);
        const mine = { _id: ctx.params.id, recipient_id: user.sub };
        const doc = await this.models.notifications.findOne(mine).lean<NotificationDoc>();
        if (!doc) throw notFound("Notification");
        if (doc.read_at) return toEntity(doc);
        const readAt = new Date();
        await this.models.notifications.updateOne(
          { ...mine, read_at: null },
          { $set: { read_at: readAt } },
        );
        return toEntity({ ...doc, read_at: readAt });
      },
    }),

    /** Marks all of the caller's notifications read. */
    readAll: action({
      roles: ["owner", "runner", "admin"],
      params: z.object({}).strict(),
      async handler(ctx) {
        const user = callerOf(ctx);
        const result = await this.models.notifications.updateMany(
          { recipient_id: user.sub, read_at: null },
          { $set: { read_at: new Date() } },
        );
        return { marked: result.modifiedCount, unread_count: 0 };
      },
    }),

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
    /** The booking's parties as far as known; requested and accepted events fill them in. */
    async refOf(event: DomainEvent) {
      const data = event.data as Partial<Record<string, unknown>>;
      const bookingId = typeof data.booking_id === "string" ? data.booking_id : undefined;
      if (!bookingId)
        return { owner_id: null, runner_id: null, booking_number: null, pet_name: null };
      const set: Partial<BookingRefDoc> = {};
      if (event.type === "booking.requested") {
        const requested = event.data as DomainEvent<"booking.requested">["data"];
        Object.assign(set, {
          owner_id: requested.owner_id,
          booking_number: requested.booking_number,
          pet_name: requested.pet_name,
        });
      }
      if (event.type === "booking.accepted") {
        const accepted = event.data as DomainEvent<"booking.accepted">["data"];
        Object.assign(set, { owner_id: accepted.owner_id, runner_id: accepted.runner_id });
      }
      if (Object.keys(set).length > 0) {
        await this.models.refs.updateOne({ _id: bookingId }, { $set: set }, { upsert: true });
      }
      const ref = await this.models.refs.findById(bookingId).lean<BookingRefDoc>();
      return {
        owner_id: ref?.owner_id ?? null,
        runner_id: ref?.runner_id ?? null,
        booking_number: ref?.booking_number ?? null,
        pet_name: ref?.pet_name ?? null,
      };
    },

    /**
     * One inbox entry per recipient, pushed to the recipient's sockets; the
     * `<event id>:<recipient>` key makes a repeat store nothing and push nothing.
     */
    async storeNotifications(event: DomainEvent) {
      const now = new Date();
      const ref = await this.refOf(event);
      for (const message of notificationsFor(event, ref)) {
        const doc: NotificationDoc = {
          _id: `${event.id}:${message.recipient_id}`,
          event_id: event.id,
          event_type: event.type,
          read_at: null,
          created_at: now,
          ...message,
        };
        try {
          await this.models.notifications.create(doc);
        } catch (error) {
          ignoreDuplicateKey(error);
          continue; // stored (and pushed) before
        }
        this.broker
          .emit("live.notification", {
            recipient_id: doc.recipient_id,
            notification: toEntity(doc),
          })
          .catch((error: unknown) => this.logger.warn("live push failed", error));
      }
    },
  },
};

export default NotificationService;
