import { Errors, type Service, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import { randomBytes, randomUUID } from "node:crypto";
import { TEMPLATES, notificationsFor, type BookingRef } from "../domain/notifications";
import { toWire, type DomainEvent } from "../events/envelope";
import type { Dispatch, OutboundChannel } from "../lib/notify/port";
import { runtimeOf } from "../lib/runtime";
import { pointsInside } from "../lib/webhooks/address";
import { actionsOf, callerOf, notFound } from "../lib/action";
import { ignoreDuplicateKey } from "../lib/mongo";
import { PAGE_SORT, PageParams, afterCursor, toPage } from "../lib/pagination";
import { DomainEvents } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { bookingRefModel, type BookingRefDoc } from "../models/booking-ref.model";
import { notificationModel, type NotificationDoc } from "../models/notification.model";
import {
  deliveryModel,
  webhookModel,
  type DeliveryAttempt,
  type DeliveryDoc,
  type WebhookDoc,
} from "../models/webhook.model";
import { MAX_ATTEMPTS, SIGNATURE_HEADER, nextDelayMs, sign } from "../lib/webhooks/signature";

const models = {
  notifications: notificationModel,
  refs: bookingRefModel,
  webhooks: webhookModel,
  deliveries: deliveryModel,
};

/** The event types a webhook may ask for: those this service consumes. */
const WEBHOOK_EVENTS = Object.keys(TEMPLATES) as [string, ...string[]];

export const CreateWebhookParams = z
  .object({
    url: z.url({ protocol: /^https?$/, message: "expected an http(s) URL" }).max(2000),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
  })
  .strict();

const DeliveriesParams = z
  .object({
    id: z.string().min(1).max(100),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

/** A delivery attempt that has not answered in this long failed. */
const DELIVERY_TIMEOUT_MS = 5000;
const DELIVERY_EVERY_MS = 200;
/** How long an instance reuses the subscriptions it read (a change is also broadcast). */
const WEBHOOK_CACHE_MS = 5000;
/** Deliveries in flight per instance. */
const MAX_IN_FLIGHT = 20;

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
  queueWebhooks(event: DomainEvent, parties: string[]): Promise<void>;
  webhooksFor(type: string): Promise<WebhookDoc[]>;
  deliverDue(): Promise<number>;
  attemptDelivery(delivery: DeliveryDoc): Promise<void>;
  storeNotifications(event: DomainEvent): Promise<void>;
  sendInApp(dispatch: Dispatch): Promise<void>;
  refOf(event: DomainEvent): Promise<BookingRef>;
}

interface NotificationVars {
  channels: OutboundChannel[];
  inFlight: Set<Promise<unknown>>;
  webhookCache: { until: number; hooks: Promise<WebhookDoc[]> } | undefined;
  deliveryTimer: NodeJS.Timeout | undefined;
  delivering: Promise<unknown> | undefined;
}

type NotificationThis = Service & MongoThis<typeof models> & NotificationMethods & NotificationVars;

const webhookEntity = (doc: WebhookDoc) => ({
  id: doc._id,
  url: doc.url,
  events: doc.events,
  created_at: doc.created_at.toISOString(),
});
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
  MongoThis<typeof models> & NotificationVars
> = {
  name: "notification",
  mixins: [
    DomainEvents({
      source: "notification",
      // Each effect is keyed by the event id: the inbox entry (`<event>:<recipient>`, pushed
      // only when new), the webhook delivery (`<webhook>:<event>`), the booking ref (a $set).
      deduplicate: false,
      // runner.events and tracking.events carry every GPS fix, which this service skips: its
      // fetches there wait to fill, so a fix stream costs it a few fetches a second.
      fetchWaitMs: { "service-notification-runners": 100, "service-notification-tracking": 100 },
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
    /** An integrator subscribes a URL to event types; the signing secret is shown this once. */
    webhookCreate: action({
      roles: ["owner", "admin"],
      params: CreateWebhookParams,
      async handler(ctx) {
        const user = callerOf(ctx);
        const { webhookAllowInternal } = runtimeOf(this.broker).config;
        if (!webhookAllowInternal && (await pointsInside(ctx.params.url))) {
          throw new Errors.MoleculerClientError(
            "The webhook URL points at an internal address",
            422,
            "VALIDATION_ERROR",
            [{ field: "url", message: "must be a public address", type: "internal_address" }],
          );
        }
        const doc = await this.models.webhooks.create({
          _id: `wh_${randomUUID()}`,
          owner_id: user.sub,
          role: user.role === "admin" ? "admin" : "owner",
          url: ctx.params.url,
          events: ctx.params.events,
          secret: `whsec_${randomBytes(24).toString("base64url")}`,
          created_at: new Date(),
        });
        await this.broker.broadcast("notification.webhooksChanged");
        ctx.meta.$statusCode = 201;
        return { ...webhookEntity(doc.toObject()), secret: doc.secret };
      },
    }),

    /** The caller's webhooks (secrets are not shown again). */
    webhookList: action({
      roles: ["owner", "admin"],
      params: z.object({}).strict(),
      async handler(ctx) {
        const docs = await this.models.webhooks
          .find({ owner_id: callerOf(ctx).sub })
          .sort({ created_at: -1 })
          .lean<WebhookDoc[]>();
        return { items: docs.map(webhookEntity) };
      },
    }),

    /** Unsubscribes; pending deliveries are dropped with it. */
    webhookDelete: action({
      roles: ["owner", "admin"],
      params: z.object({ id: z.string().min(1).max(100) }).strict(),
      async handler(ctx) {
        const removed = await this.models.webhooks.deleteOne({
          _id: ctx.params.id,
          owner_id: callerOf(ctx).sub,
        });
        if (removed.deletedCount === 0) throw notFound("Webhook");
        await this.broker.broadcast("notification.webhooksChanged");
        await this.models.deliveries.deleteMany({ webhook_id: ctx.params.id, status: "pending" });
        return { deleted: true, id: ctx.params.id };
      },
    }),

    /** A webhook's deliveries, newest first, each with every attempt. */
    webhookDeliveries: action({
      roles: ["owner", "admin"],
      params: DeliveriesParams,
      async handler(ctx) {
        const hook = await this.models.webhooks
          .findOne({ _id: ctx.params.id, owner_id: callerOf(ctx).sub }, { _id: 1 })
          .lean();
        if (!hook) throw notFound("Webhook");
        const docs = await this.models.deliveries
          .find({ webhook_id: ctx.params.id }, { body: 0 })
          .sort({ created_at: -1 })
          .limit(ctx.params.limit)
          .lean<DeliveryDoc[]>();
        return {
          items: docs.map((doc) => ({
            id: doc._id,
            event_id: doc.event_id,
            event_type: doc.event_type,
            status: doc.status,
            next_attempt_at: doc.status === "pending" ? doc.next_attempt_at.toISOString() : null,
            attempts: doc.attempts.map((attempt) => ({
              ...attempt,
              at: new Date(attempt.at).toISOString(),
            })),
          })),
        };
      },
    }),

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

  events: {
    /** Someone subscribed or unsubscribed (on any instance): read the subscriptions again. */
    "notification.webhooksChanged"(this: NotificationThis) {
      this.webhookCache = undefined;
    },
  },

  created() {
    this.inFlight = new Set();
    this.channels = [
      { name: "in-app", send: (dispatch) => this.sendInApp(dispatch) },
      { name: "webhooks", send: ({ event, parties }) => this.queueWebhooks(event, parties) },
    ];
  },

  started() {
    const tick = () => {
      this.delivering = this.deliverDue()
        .catch((error: unknown) => this.logger.warn("webhook deliveries failed", error))
        .finally(() => {
          if (this.deliveryTimer) this.deliveryTimer = setTimeout(tick, DELIVERY_EVERY_MS);
        });
    };
    this.deliveryTimer = setTimeout(tick, DELIVERY_EVERY_MS);
  },

  async stopped() {
    clearTimeout(this.deliveryTimer);
    this.deliveryTimer = undefined;
    await this.delivering;
    await Promise.allSettled([...this.inFlight]);
  },

  methods: {
    /**
     * Queues the event for every webhook that asked for its type and may see it (an admin's
     * sees all; an owner's, its own bookings). Only queued here: sending is the delivery loop's
     * job, so a slow receiver never holds up the consumer.
     */
    async queueWebhooks(event: DomainEvent, parties: string[]) {
      const hooks = await this.webhooksFor(event.type);
      const now = new Date();
      const body = toWire(event).value;
      const happened = Date.parse(event.time);
      for (const hook of hooks) {
        if (hook.role !== "admin" && !parties.includes(hook.owner_id)) continue;
        // A replayed event (DLQ replay, offsets reset) goes only to hooks that existed then.
        if (hook.created_at.getTime() > happened) continue;
        await this.models.deliveries
          .create({
            _id: `${hook._id}:${event.id}`,
            webhook_id: hook._id,
            event_id: event.id,
            event_type: event.type,
            body,
            status: "pending",
            attempts: [],
            next_attempt_at: now,
            created_at: now,
          })
          .catch(ignoreDuplicateKey);
      }
    },

    /**
     * The webhooks asking for an event type, from the subscriptions this instance read in the
     * last WEBHOOK_CACHE_MS (read again at once after a subscription changes anywhere), rather
     * than a query per consumed event.
     */
    async webhooksFor(type: string) {
      const now = Date.now();
      if (!this.webhookCache || this.webhookCache.until < now) {
        const cache = {
          until: now + WEBHOOK_CACHE_MS,
          hooks: this.models.webhooks.find().lean<WebhookDoc[]>().exec(),
        };
        cache.hooks.catch(() => {
          if (this.webhookCache === cache) this.webhookCache = undefined; // read again next time
        });
        this.webhookCache = cache;
      }
      const hooks = await this.webhookCache.hooks;
      return hooks.filter((hook) => hook.events.includes(type));
    },

    /** Sends what is due, a few at a time; each delivery is leased first (several instances). */
    async deliverDue() {
      // A pool, not a batch: a free slot takes the next due delivery at once, so one slow
      // receiver holds one slot (up to the timeout), not everyone's round.
      const free = MAX_IN_FLIGHT - this.inFlight.size;
      if (free <= 0) return 0;
      const now = new Date();
      const due = await this.models.deliveries
        .find({ status: "pending", next_attempt_at: { $lte: now } }, { _id: 1 })
        .sort({ next_attempt_at: 1 })
        .limit(free)
        .lean<{ _id: string }[]>();
      let started = 0;
      for (const { _id } of due) {
        const leased = (await this.models.deliveries.collection.findOneAndUpdate(
          { _id, status: "pending", next_attempt_at: { $lte: now } } as never,
          { $set: { next_attempt_at: new Date(now.getTime() + 2 * DELIVERY_TIMEOUT_MS) } },
          { returnDocument: "after" },
        )) as unknown as DeliveryDoc | null;
        if (!leased) continue; // another instance took it
        const sending = this.attemptDelivery(leased)
          .catch((error: unknown) => this.logger.warn(`delivery ${_id} failed`, error))
          .finally(() => this.inFlight.delete(sending));
        this.inFlight.add(sending);
        started++;
      }
      return started;
    },

    /** One signed POST; 2xx delivers, anything else is retried with backoff, then failed. */
    async attemptDelivery(delivery: DeliveryDoc) {
      const hook = await this.models.webhooks.findById(delivery.webhook_id).lean<WebhookDoc>();
      if (!hook) {
        await this.models.deliveries.deleteOne({ _id: delivery._id });
        return;
      }
      const { webhookAllowInternal } = runtimeOf(this.broker).config;
      const started = Date.now();
      const attempt: DeliveryAttempt = {
        at: new Date(),
        status_code: null,
        error: null,
        duration_ms: 0,
      };
      try {
        if (!webhookAllowInternal && (await pointsInside(hook.url))) {
          throw new Error("refused: the URL now resolves to an internal address");
        }
        const response = await fetch(hook.url, {
          method: "POST",
          headers: {
            "content-type": "application/cloudevents+json; charset=utf-8",
            [SIGNATURE_HEADER]: sign(hook.secret, delivery.body, Math.floor(started / 1000)),
            "kilat-delivery": delivery._id,
          },
          body: delivery.body,
          redirect: "manual",
          signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        });
        attempt.status_code = response.status;
        await response.body?.cancel();
      } catch (error) {
        attempt.error = (error as Error).message.slice(0, 300);
      }
      attempt.duration_ms = Date.now() - started;
      const ok =
        attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300;
      const attempts = delivery.attempts.length + 1;
      const status = ok ? "delivered" : attempts >= MAX_ATTEMPTS ? "failed" : "pending";
      await this.models.deliveries.updateOne(
        { _id: delivery._id },
        {
          $push: { attempts: attempt },
          $set: { status, next_attempt_at: new Date(Date.now() + nextDelayMs(attempts)) },
        },
      );
    },

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
      const ref = await this.refOf(event);
      const messages = notificationsFor(event, ref);
      const owner = (event.data as { owner_id?: unknown }).owner_id;
      const parties = [
        ...messages.map((message) => message.recipient_id),
        ...[ref.owner_id, ref.runner_id, typeof owner === "string" ? owner : null].filter(
          (party): party is string => party !== null,
        ),
      ];
      for (const channel of this.channels) await channel.send({ event, messages, parties });
    },

    /** In-app: the inbox entry (once per event and recipient), pushed to the recipient's sockets. */
    async sendInApp({ event, messages }: Dispatch) {
      const now = new Date();
      for (const message of messages) {
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
