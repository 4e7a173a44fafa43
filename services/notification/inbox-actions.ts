import { NOTIFICATION_ACTIONS } from "../../contracts";
import { markAllRead, markRead, pageOf } from "../../domain/inbox";
import { actionsOf, callerOf, notFound } from "../../lib/action";
import { PAGE_SORT, afterCursor, cursorPosition, toPage } from "../../lib/pagination";
import type { NotificationDoc } from "../../models/notification.model";
import type { NotificationThis } from "./models";
import { changeInbox, inboxOf, readInbox, toEntity } from "./inbox-records";

/** What a caller asks of their inbox, and ops' view of a booking's entries. */

const action = actionsOf<NotificationThis>();

/** The caller's inbox, newest first, with the number of unread entries. */
export const list = action(NOTIFICATION_ACTIONS.list, async function (ctx) {
  const { unread, limit, cursor } = ctx.params;
  const user = callerOf(ctx);
  const after = cursorPosition(cursor);
  const inbox = await readInbox(this, user);
  // The first pages come from the inbox's one record; only a page past its kept entries queries
  // the history, which FerretDB answers by reading the whole collection.
  const rows =
    pageOf(inbox, { unread: unread === true, limit, after }) ??
    (await this.models.notifications
      .find({ ...inboxOf(user), ...(unread ? { read_at: null } : {}), ...afterCursor(cursor) })
      .sort(PAGE_SORT)
      .limit(limit + 1)
      .lean<NotificationDoc[]>());
  const page = toPage(rows, limit);
  return {
    items: page.items.map(toEntity),
    unread_count: inbox.unread,
    next_cursor: page.next_cursor,
  };
});

/** Marks one of the caller's notifications read (404 for anyone else's). */
export const read = action(NOTIFICATION_ACTIONS.read, async function (ctx) {
  const user = callerOf(ctx);
  const mine = { _id: ctx.params.id, ...inboxOf(user) };
  const doc = await this.models.notifications.findOne(mine).lean<NotificationDoc>();
  if (!doc) throw notFound("Notification");
  const readAt = doc.read_at ?? new Date();
  const marked = doc.read_at
    ? { modifiedCount: 0 }
    : await this.models.notifications.updateOne(
        { ...mine, read_at: null },
        { $set: { read_at: readAt } },
      );
  await changeInbox(this, user, (inbox) => ({
    ...markRead(inbox, doc._id, readAt, marked.modifiedCount === 1),
    result: undefined,
  }));
  return toEntity({ ...doc, read_at: readAt });
});

/** Marks all of the caller's notifications read. */
export const readAll = action(NOTIFICATION_ACTIONS.readAll, async function (ctx) {
  const user = callerOf(ctx);
  const readAt = new Date();
  const result = await this.models.notifications.updateMany(
    { ...inboxOf(user), read_at: null },
    { $set: { read_at: readAt } },
  );
  await changeInbox(this, user, (inbox) => ({
    inbox: markAllRead(inbox, readAt),
    changed: true,
    result: undefined,
  }));
  return { marked: result.modifiedCount, unread_count: 0 };
});

/** Ops (REPL `booking`): every inbox entry about one booking, all recipients. */
export const forBooking = action(NOTIFICATION_ACTIONS.forBooking, async function (ctx) {
  const rows = await this.models.notifications
    .find({ booking_id: ctx.params.booking_id })
    .sort(PAGE_SORT)
    .limit(100)
    .lean<NotificationDoc[]>();
  return rows.map((doc) => ({
    recipient_id: doc.recipient_id,
    recipient_role: doc.recipient_role,
    ...toEntity(doc),
  }));
});
