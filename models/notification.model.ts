import { Schema, type Connection, type Model } from "mongoose";
import type { Role } from "../domain/access";

/**
 * One inbox entry; `_id` = `<event id>:<recipient key>` (domain/access.ts `userKey`, role and
 * sub) makes storing it idempotent. Entries stored before the role was part of the recipient
 * have no `recipient_role`: no inbox lists them, as no one can tell whose role they were.
 */
export interface NotificationDoc {
  _id: string;
  recipient_id: string;
  recipient_role: Role;
  event_id: string;
  event_type: string;
  booking_id: string | null;
  booking_number: string | null;
  title: string;
  body: string;
  read_at: Date | null;
  created_at: Date;
}

const NotificationSchema = new Schema<NotificationDoc>(
  {
    _id: { type: String, required: true },
    recipient_id: { type: String, required: true },
    recipient_role: { type: String, required: true },
    event_id: { type: String, required: true },
    event_type: { type: String, required: true },
    booking_id: { type: String, default: null },
    booking_number: { type: String, default: null },
    title: { type: String, required: true },
    body: { type: String, required: true },
    read_at: { type: Date, default: null },
    created_at: { type: Date, required: true },
  },
  { collection: "notifications", versionKey: false },
);
NotificationSchema.index({ recipient_id: 1, recipient_role: 1, created_at: -1 });

export function notificationModel(connection: Connection): Model<NotificationDoc> {
  return (
    (connection.models.Notification as Model<NotificationDoc> | undefined) ??
    connection.model<NotificationDoc>("Notification", NotificationSchema)
  );
}
