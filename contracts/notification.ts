import { z } from "zod";
import { TEMPLATES } from "../domain/notifications";
import { contracts } from "./action";
import { NoParams, PageParams } from "./common";

/** The event types a webhook may ask for: those the notification service consumes. */
export const WEBHOOK_EVENTS = Object.keys(TEMPLATES) as [string, ...string[]];

export const CreateWebhookParams = z
  .object({
    url: z
      .url({ protocol: /^https?$/, message: "expected an http(s) URL" })
      .max(2000)
      // Credentials in a URL end up in logs and lists; a receiver authenticates by the signature.
      .refine(
        (url) => {
          if (!URL.canParse(url)) return true; // reported as not a URL already
          const { username, password } = new URL(url);
          return username === "" && password === "";
        },
        { message: "must not contain a user name or password" },
      ),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
  })
  .strict();

const WebhookRef = z.object({ id: z.string().min(1).max(100) }).strict();

export const DeliveriesParams = WebhookRef.extend({
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const ListNotificationsParams = z.object({
  unread: z
    .enum(["true", "false"])
    .transform((value) => value === "true")
    .or(z.boolean())
    .optional(),
  ...PageParams,
});

export const NOTIFICATION_ACTIONS = contracts({
  webhookCreate: { roles: ["owner", "admin"], params: CreateWebhookParams, creates: true },
  webhookList: { roles: ["owner", "admin"], params: NoParams },
  webhookDelete: { roles: ["owner", "admin"], params: WebhookRef },
  webhookDeliveries: { roles: ["owner", "admin"], params: DeliveriesParams },
  list: { roles: ["owner", "runner", "admin"], params: ListNotificationsParams },
  read: {
    roles: ["owner", "runner", "admin"],
    params: z.object({ id: z.string().min(1).max(200) }).strict(),
  },
  readAll: { roles: ["owner", "runner", "admin"], params: NoParams },
  forBooking: { params: z.object({ booking_id: z.string().min(1).max(64) }), internal: true },
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
