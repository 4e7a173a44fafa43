import { Schema, type Connection, type Model } from "mongoose";
import type { DeliveryAttempt } from "../adapters/notify/webhook-sender";

/** An integrator's subscription: where to POST which events, and the secret that signs them. */
export interface WebhookDoc {
  _id: string;
  owner_id: string;
  /** Admin subscriptions get every event of their types; an owner's, those of its bookings. */
  role: "owner" | "admin";
  url: string;
  events: string[];
  secret: string;
  created_at: Date;
}

export type { DeliveryAttempt };

/** One event to one webhook (`_id` = `<webhook>:<event id>`: queued once), and its attempts. */
export interface DeliveryDoc {
  _id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  body: string;
  status: "pending" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
  next_attempt_at: Date;
  created_at: Date;
}

const WebhookSchema = new Schema<WebhookDoc>(
  {
    _id: { type: String, required: true },
    owner_id: { type: String, required: true },
    role: { type: String, required: true },
    url: { type: String, required: true },
    events: { type: [String], required: true },
    secret: { type: String, required: true },
    created_at: { type: Date, required: true },
  },
  { collection: "webhooks", versionKey: false },
);

const DeliverySchema = new Schema<DeliveryDoc>(
  {
    _id: { type: String, required: true },
    webhook_id: { type: String, required: true },
    event_id: { type: String, required: true },
    event_type: { type: String, required: true },
    body: { type: String, required: true },
    status: { type: String, required: true },
    attempts: { type: Schema.Types.Mixed, default: [] },
    next_attempt_at: { type: Date, required: true },
    created_at: { type: Date, required: true },
  },
  { collection: "webhook_deliveries", versionKey: false },
);
DeliverySchema.index({ status: 1, next_attempt_at: 1 });
DeliverySchema.index({ webhook_id: 1, created_at: -1 });

export function webhookModel(connection: Connection): Model<WebhookDoc> {
  return (
    (connection.models.Webhook as Model<WebhookDoc> | undefined) ??
    connection.model<WebhookDoc>("Webhook", WebhookSchema)
  );
}

export function deliveryModel(connection: Connection): Model<DeliveryDoc> {
  return (
    (connection.models.WebhookDelivery as Model<DeliveryDoc> | undefined) ??
    connection.model<DeliveryDoc>("WebhookDelivery", DeliverySchema)
  );
}
