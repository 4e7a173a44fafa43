import { randomBytes, randomUUID } from "node:crypto";
import { broadcast } from "../../lib/broadcast";
import { WEBHOOK_TUNING } from "../../config/tuning";
import { NOTIFICATION_ACTIONS } from "../../contracts";
import { webhookHears, type User } from "../../domain/access";
import { toWire, type DomainEvent } from "../../events/envelope";
import { actionsOf, callerOf, clientError, notFound } from "../../lib/action";
import { collectionOf, ignoreDuplicateKey } from "../../lib/mongo";
import { pointsOutside } from "../../adapters/notify/address";
import { MAX_ATTEMPTS, retryDueAt, settledAt } from "../../adapters/notify/signature";
import {
  delivered,
  outcomeOf,
  sendWebhook,
  type DeliveryAttempt,
  type DeliveryOutcome,
} from "../../adapters/notify/webhook-sender";
import { runtimeOf } from "../../lib/runtime";
import type { DeliveryDoc, WebhookDoc } from "../../models/webhook.model";
import type { NotificationThis } from "./models";

/**
 * Integrator webhooks: an owner's or an admin's subscription to event types, each event queued
 * once per webhook by the consumer (which never waits for the receiver), and sent by a delivery
 * loop with retries (adapters/notify/webhook-sender.ts).
 */

const action = actionsOf<NotificationThis>();

/**
 * The caller as a webhook's owner: by role and sub, so an admin who shares an owner's sub is not
 * them. Only owners and admins have webhooks (the routes admit no one else).
 */
function ownedBy(user: User): Pick<WebhookDoc, "owner_id" | "role"> {
  if (user.role === "runner") throw clientError("FORBIDDEN", "Owners and admins only");
  return { owner_id: user.sub, role: user.role };
}

const webhookEntity = (doc: WebhookDoc) => ({
  id: doc._id,
  url: doc.url,
  events: doc.events,
  created_at: doc.created_at.toISOString(),
});

/** Every instance reads the subscriptions again (one changed somewhere). */
const changed = (service: NotificationThis) =>
  broadcast(service.broker, service.logger, "notification.webhooksChanged", {});

/** An integrator subscribes a URL to event types; the signing secret is shown this once. */
export const webhookCreate = action(NOTIFICATION_ACTIONS.webhookCreate, async function (ctx) {
  const user = callerOf(ctx);
  // Each event about a user's bookings goes to each of its webhooks: without a cap, one owner
  // could make Kilat send any public host a flood of signed POSTs per booking.
  if ((await this.models.webhooks.countDocuments(ownedBy(user))) >= WEBHOOK_TUNING.maxPerUser) {
    throw clientError(
      "CONFLICT",
      `At most ${WEBHOOK_TUNING.maxPerUser} webhooks per user: delete one before adding another`,
    );
  }
  const { webhookAllowInternal } = runtimeOf(this.broker).config;
  if (!webhookAllowInternal) {
    // A name that does not resolve, or not within the sending deadline, is refused like an
    // internal one: told apart, they would let a caller find out which internal names exist;
    // unbounded, a caller's slow-answering DNS would decide how long the request waits.
    const outside = await pointsOutside(new URL(ctx.params.url), {
      timeoutMs: WEBHOOK_TUNING.deliveryTimeoutMs,
    });
    if (!outside) {
      throw clientError("VALIDATION_ERROR", "The webhook URL does not point at a public address", [
        {
          field: "url",
          message: "must resolve to public addresses only",
          type: "internal_address",
        },
      ]);
    }
  }
  const doc = await this.models.webhooks.create({
    _id: `wh_${randomUUID()}`,
    ...ownedBy(user),
    url: ctx.params.url,
    events: ctx.params.events,
    secret: `whsec_${randomBytes(24).toString("base64url")}`,
    created_at: new Date(),
  });
  changed(this);
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/webhooks/${doc._id}`;
  return { ...webhookEntity(doc.toObject()), secret: doc.secret };
});

/** The caller's webhooks (secrets are not shown again). */
export const webhookList = action(NOTIFICATION_ACTIONS.webhookList, async function (ctx) {
  const docs = await this.models.webhooks
    .find(ownedBy(callerOf(ctx)))
    .sort({ created_at: -1 })
    .lean<WebhookDoc[]>();
  return { items: docs.map(webhookEntity) };
});

/** Unsubscribes; pending deliveries are dropped with it. */
export const webhookDelete = action(NOTIFICATION_ACTIONS.webhookDelete, async function (ctx) {
  const removed = await this.models.webhooks.deleteOne({
    _id: ctx.params.id,
    ...ownedBy(callerOf(ctx)),
  });
  if (removed.deletedCount === 0) throw notFound("Webhook");
  changed(this);
  await this.models.deliveries.deleteMany({ webhook_id: ctx.params.id, status: "pending" });
  return { deleted: true, id: ctx.params.id };
});

/** An attempt stored before outcomes existed carried the raw error and timing instead. */
type StoredAttempt = Omit<DeliveryAttempt, "outcome"> & { outcome?: DeliveryOutcome };

/**
 * An attempt as the integrator sees it: when it started, the outcome, and the status code their
 * receiver answered. Named field by field, so no network error text or duration is ever shown.
 */
const attemptEntity = (attempt: StoredAttempt) => ({
  at: new Date(attempt.at).toISOString(),
  outcome: attempt.outcome ?? outcomeOf(attempt.status_code),
  status_code: attempt.status_code,
});

/**
 * A delivery as the integrator sees it: each attempt only once settled (its deadline passed),
 * and pending until the last one is. Shown as soon as it was written, an attempt's appearance
 * would time it, to the port scanner polling this list; so would the next attempt's due time,
 * which is not shown.
 */
function deliveryEntity(doc: DeliveryDoc, now: number) {
  const { deliveryTimeoutMs } = WEBHOOK_TUNING;
  const settled = doc.attempts.filter(
    (attempt) => settledAt(new Date(attempt.at), deliveryTimeoutMs) <= now,
  );
  return {
    id: doc._id,
    event_id: doc.event_id,
    event_type: doc.event_type,
    status: settled.length < doc.attempts.length ? "pending" : doc.status,
    attempts: settled.map(attemptEntity),
  };
}

/** A webhook's deliveries, newest first, each with its settled attempts. */
export const webhookDeliveries = action(
  NOTIFICATION_ACTIONS.webhookDeliveries,
  async function (ctx) {
    const hook = await this.models.webhooks
      .findOne({ _id: ctx.params.id, ...ownedBy(callerOf(ctx)) }, { _id: 1 })
      .lean();
    if (!hook) throw notFound("Webhook");
    const docs = await this.models.deliveries
      .find({ webhook_id: ctx.params.id }, { body: 0 })
      .sort({ created_at: -1 })
      .limit(ctx.params.limit)
      .lean<DeliveryDoc[]>();
    const now = Date.now();
    return { items: docs.map((doc) => deliveryEntity(doc, now)) };
  },
);

/**
 * Every subscription, as this instance read it in the last few seconds (read again at once after
 * a subscription changes anywhere), rather than a query per consumed event.
 */
function subscriptions(service: NotificationThis): Promise<WebhookDoc[]> {
  const now = Date.now();
  if (!service.webhookCache || service.webhookCache.until < now) {
    const cache = {
      until: now + WEBHOOK_TUNING.cacheMs,
      hooks: service.models.webhooks.find().lean<WebhookDoc[]>().exec(),
    };
    cache.hooks.catch(() => {
      if (service.webhookCache === cache) service.webhookCache = undefined; // read again next time
    });
    service.webhookCache = cache;
  }
  return service.webhookCache.hooks;
}

/** The webhooks asking for an event type. */
async function webhooksFor(service: NotificationThis, type: string) {
  return (await subscriptions(service)).filter((hook) => hook.events.includes(type));
}

/**
 * Queues the event for every webhook that asked for its type and may hear it. Only queued
 * here: sending is the delivery loop's job, so a slow receiver never holds up the consumer.
 */
export async function queueWebhooks(
  service: NotificationThis,
  event: DomainEvent,
  parties: string[],
) {
  const hooks = await webhooksFor(service, event.type);
  const now = new Date();
  const body = toWire(event).value;
  const happened = Date.parse(event.time);
  for (const hook of hooks) {
    if (!webhookHears(hook, parties)) continue;
    // A replayed event (DLQ replay, offsets reset) goes only to hooks that existed then.
    if (hook.created_at.getTime() > happened) continue;
    await service.models.deliveries
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
}

/** Sends what is due, a few at a time; each delivery is leased first (several instances). */
export async function deliverDue(this: NotificationThis): Promise<number> {
  // A pool, not a batch: a free slot takes the next due delivery at once, so one slow
  // receiver holds one slot (up to the timeout), not everyone's round.
  const free = WEBHOOK_TUNING.maxInFlight - this.inFlight.size;
  if (free <= 0) return 0;
  // No subscription, nothing due: a delivery goes to a webhook that exists (deleting one drops
  // its deliveries), and every instance knows of every webhook within a few seconds.
  if ((await subscriptions(this)).length === 0) return 0;
  const now = new Date();
  const due = await this.models.deliveries
    .find({ status: "pending", next_attempt_at: { $lte: now } }, { _id: 1 })
    .sort({ next_attempt_at: 1 })
    .limit(free)
    .lean<{ _id: string }[]>();
  let started = 0;
  for (const { _id } of due) {
    const leased = await collectionOf(this.models.deliveries).findOneAndUpdate(
      { _id, status: "pending", next_attempt_at: { $lte: now } },
      { $set: { next_attempt_at: new Date(now.getTime() + 2 * WEBHOOK_TUNING.deliveryTimeoutMs) } },
      { returnDocument: "after" },
    );
    if (!leased) continue; // another instance took it
    const sending = attemptDelivery(this, leased)
      .catch((error: unknown) => this.logger.warn(`delivery ${_id} failed`, error))
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
    started++;
  }
  return started;
}

/** One attempt; a 2xx delivers, anything else is retried with backoff, then failed. */
async function attemptDelivery(service: NotificationThis, delivery: DeliveryDoc) {
  const hook = await service.models.webhooks.findById(delivery.webhook_id).lean<WebhookDoc>();
  if (!hook) {
    await service.models.deliveries.deleteOne({ _id: delivery._id });
    return;
  }
  const { attempt, detail } = await sendWebhook({
    id: delivery._id,
    url: hook.url,
    secret: hook.secret,
    body: delivery.body,
    allowInternal: runtimeOf(service.broker).config.webhookAllowInternal,
  });
  if (detail) service.logger.debug(`webhook delivery ${delivery._id} not delivered: ${detail}`);
  const attempts = delivery.attempts.length + 1;
  const status = delivered(attempt) ? "delivered" : attempts >= MAX_ATTEMPTS ? "failed" : "pending";
  await service.models.deliveries.updateOne(
    { _id: delivery._id },
    {
      $push: { attempts: attempt },
      $set: {
        status,
        next_attempt_at: retryDueAt(attempt.at, attempts, WEBHOOK_TUNING.deliveryTimeoutMs),
      },
    },
  );
}
