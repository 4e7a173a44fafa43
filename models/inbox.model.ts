import { Schema, type Connection, type Model } from "mongoose";
import type { Inbox } from "../domain/inbox";
import type { NotificationDoc } from "./notification.model";

/**
 * A recipient's inbox (domain/inbox.ts), `_id` = the recipient's key (`<role>:<sub>`), with a
 * version `v` that every write is guarded by: two instances adding to one inbox at once both
 * land, the second after reading the first's write.
 */
export interface InboxDoc extends Inbox<NotificationDoc> {
  _id: string;
  v: number;
}

// Entries are stored as the history stores them, not cast one by one (the record is read whole).
const InboxSchema = new Schema(
  {
    _id: { type: String, required: true },
    entries: { type: Array, default: [] },
    unread: { type: Number, required: true },
    total: { type: Number, required: true },
    v: { type: Number, required: true },
  },
  { collection: "inboxes", versionKey: false },
);

export function inboxModel(connection: Connection): Model<InboxDoc> {
  return (
    (connection.models.Inbox as Model<InboxDoc> | undefined) ??
    connection.model<InboxDoc>("Inbox", InboxSchema)
  );
}
