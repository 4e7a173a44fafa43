import { NOTIFICATION_ACTIONS } from "../../contracts";
import { partiesOf, userKey, type User } from "../../domain/access";
import {
  INBOX_RECENT,
  addEntries,
  emptyInbox,
  markAllRead,
  markRead,
  pageOf,
  type Inbox,
} from "../../domain/inbox";
import { notificationsFor, type BookingRef } from "../../domain/notifications";
import { NOTIFICATION_TUNING } from "../../config/tuning";
import type { EventType } from "../../events/catalog";
import type { DomainEvent } from "../../events/envelope";
import type { DeliveredEvent } from "../../adapters/event-bus";
import { actionsOf, callerOf, notFound } from "../../lib/action";
import { pushLive } from "../../lib/live";
import type { Dispatch } from "../../adapters/notify/port";
import { PAGE_SORT, afterCursor, cursorPosition, toPage } from "../../lib/pagination";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import type { BookingRefDoc } from "../../models/booking-ref.model";
import type { InboxDoc } from "../../models/inbox.model";
import type { NotificationDoc } from "../../models/notification.model";
import { toEntity, type NotificationThis } from "./context";

const action = actionsOf<NotificationThis>();

/** The caller's inbox entries: by role and sub, as a runner and an owner may share a sub. */
const inboxOf = (user: User) => ({ recipient_id: user.sub, recipient_role: user.role });

/** Whom an inbox entry, or the message it is stored from, is for. */
const recipientOf = (entry: Pick<NotificationDoc, "recipient_id" | "recipient_role">): User => ({
  role: entry.recipient_role,
  sub: entry.recipient_id,
});

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

/**
 * Marks, in the records' collection, that every recipient the history names has a record:
 * from then on a missing record is an empty inbox (a new recipient costs no history query).
 * Its key cannot be a recipient's (`<role>:<sub>`).
 */
const ALL_BUILT = "all-built";

/**
 * The user's inbox record, `v` 0 when there is none yet. Until every record was built from the
 * history (`buildAllInboxes`), a recipient without one gets it built from the history, once.
 */
async function readInbox(service: NotificationThis, user: User): Promise<InboxDoc> {
  const stored = await service.models.inboxes.findById(userKey(user)).lean<InboxDoc>();
  if (stored) return stored;
  if (service.inboxesBuilt) return { _id: userKey(user), ...emptyInbox<NotificationDoc>(), v: 0 };
  return buildInbox(service, user);
}

/** The record as the history has it, stored unless another write stored one first. */
async function buildInbox(service: NotificationThis, user: User): Promise<InboxDoc> {
  // One query, so that the kept entries and both counts are of the same moment: an entry stored
  // after it is added by its own write (which always follows its history insert), never twice.
  const history = await service.models.notifications
    .find(inboxOf(user))
    .sort(PAGE_SORT)
    .lean<NotificationDoc[]>();
  const built = recordOf(userKey(user), history);
  try {
    await service.models.inboxes.collection.insertOne(built as never);
    return built;
  } catch (error) {
    if ((error as { code?: number }).code !== 11000) throw error;
    // Another write built it first: that one is the record.
    const stored = await service.models.inboxes.findById(built._id).lean<InboxDoc>();
    if (!stored) throw error;
    return stored;
  }
}

/** A record of `history` (one recipient's entries, newest first). */
const recordOf = (key: string, history: NotificationDoc[]): InboxDoc => ({
  _id: key,
  entries: history.slice(0, INBOX_RECENT),
  unread: history.filter((entry) => entry.read_at === null).length,
  total: history.length,
  v: 1,
});

/**
 * Builds the record of every recipient the history names and has none, in one pass over the
 * history, once per database (at the first start with records; an empty history costs a
 * query). A record written meanwhile by a new entry wins: it was built from a later moment.
 */
export async function buildAllInboxes(service: NotificationThis): Promise<void> {
  const records = service.models.inboxes;
  if (await records.exists({ _id: ALL_BUILT })) {
    service.inboxesBuilt = true;
    return;
  }
  const history = await service.models.notifications
    .find({ recipient_role: { $exists: true } })
    .sort(PAGE_SORT)
    .lean<NotificationDoc[]>();
  const built = [...byRecipient(history)].map(([key, entries]) => recordOf(key, entries));
  await insertIgnoringRepeats(records.collection, [
    ...built,
    { _id: ALL_BUILT, ...emptyInbox<NotificationDoc>(), v: 1 },
  ]);
  service.inboxesBuilt = true;
}

/** Entries by their recipient's key (`<role>:<sub>`), each recipient's in the order given. */
function byRecipient(entries: NotificationDoc[]): Map<string, NotificationDoc[]> {
  const grouped = new Map<string, NotificationDoc[]>();
  for (const entry of entries) {
    const key = userKey(recipientOf(entry));
    const mine = grouped.get(key);
    if (mine) mine.push(entry);
    else grouped.set(key, [entry]);
  }
  return grouped;
}

/**
 * Applies `change` to the user's inbox record, written only if no one wrote it since it was
 * read (its version; a first record is inserted); else read again and retried. What this
 * instance wrote last is changed without reading it again (the recipient's next event mostly
 * comes to the same instance: its booking's partition).
 */
async function changeInbox<R>(
  service: NotificationThis,
  user: User,
  change: (inbox: Inbox<NotificationDoc>) => {
    inbox: Inbox<NotificationDoc>;
    changed: boolean;
    result: R;
  },
): Promise<R> {
  const key = userKey(user);
  for (let attempt = 1; ; attempt++) {
    // The record as this instance last wrote it, if it did: the guard tells if another wrote since.
    const current =
      (attempt === 1 && service.inboxCache.get(key)) || (await readInbox(service, user));
    const { inbox, changed, result } = change(current);
    if (!changed) return result;
    const next = { entries: inbox.entries, unread: inbox.unread, total: inbox.total };
    const written =
      current.v === 0
        ? (
            await insertIgnoringRepeats(service.models.inboxes.collection, [
              { _id: current._id, ...next, v: 1 },
            ])
          )[0] === true
        : (
            await service.models.inboxes.updateOne(
              { _id: current._id, v: current.v },
              { $set: { ...next, v: current.v + 1 } },
            )
          ).matchedCount === 1;
    if (written) {
      service.inboxCache.set(key, { _id: key, ...next, v: current.v + 1 });
      return result;
    }
    service.inboxCache.delete(key);
    if (attempt >= NOTIFICATION_TUNING.inboxWriteAttempts)
      throw new Error(`inbox ${current._id}: ${attempt} writes raced with others`);
  }
}

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

/**
 * The booking's parties as far as known; requested and accepted events fill them in. Once the
 * runner is known the reference no longer changes, so it is kept in memory from then on (the
 * booking's events then cost no read); before, it is read, as another instance may know more.
 */
async function refOf(service: NotificationThis, event: DomainEvent): Promise<BookingRef> {
  const data = event.data as Partial<Record<string, unknown>>;
  const bookingId = typeof data.booking_id === "string" ? data.booking_id : undefined;
  if (!bookingId) return { owner_id: null, runner_id: null, booking_number: null, pet_name: null };
  const cached = service.refCache.get(bookingId);
  if (cached) return cached;
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
  const stored = await storeRef(service, bookingId, event.type, set);
  const ref: BookingRef = {
    owner_id: stored?.owner_id ?? null,
    runner_id: stored?.runner_id ?? null,
    booking_number: stored?.booking_number ?? null,
    pet_name: stored?.pet_name ?? null,
  };
  if (ref.runner_id !== null) service.refCache.set(bookingId, ref);
  return ref;
}

/**
 * The reference after what the event adds to it (`set`). The request names everything but the
 * runner, which no one knows yet; the acceptance's write returns the whole reference; the other
 * events read it.
 */
async function storeRef(
  service: NotificationThis,
  bookingId: string,
  type: EventType,
  set: Partial<BookingRefDoc>,
): Promise<Partial<BookingRefDoc> | null> {
  const refs = service.models.refs;
  if (type === "booking.requested") {
    await refs.updateOne({ _id: bookingId }, { $set: set }, { upsert: true });
    return set;
  }
  if (Object.keys(set).length === 0) return refs.findById(bookingId).lean<BookingRefDoc>();
  return (await refs.collection.findOneAndUpdate(
    { _id: bookingId } as never,
    { $set: set },
    {
      upsert: true,
      returnDocument: "after",
    },
  )) as unknown as BookingRefDoc | null;
}

/** The event's messages (one template per type, domain/notifications.ts) and its parties. */
async function dispatchOf(service: NotificationThis, event: DomainEvent): Promise<Dispatch> {
  const ref = await refOf(service, event);
  const messages = notificationsFor(event, ref);
  const owner = (event.data as { owner_id?: unknown }).owner_id;
  const parties = [
    ...messages.map((message) => userKey(recipientOf(message))),
    ...partiesOf(ref),
    ...(typeof owner === "string" ? partiesOf({ owner_id: owner, runner_id: null }) : []),
  ];
  return { event, messages, parties };
}

/**
 * Every channel gets the dispatches of several events at once: the in-app channel stores what
 * they all add to inboxes in one write. References are read in order first (a request's fills
 * in what its booking's next events read).
 */
async function sendAll(service: NotificationThis, events: DomainEvent[]) {
  const dispatches: Dispatch[] = [];
  for (const event of events) dispatches.push(await dispatchOf(service, event));
  await Promise.all(
    service.channels.flatMap((channel) => dispatches.map((dispatch) => channel.send(dispatch))),
  );
}

/** The same handler for each of a consumer group's event types. */
export const notifyOn = (types: readonly EventType[]): EventHandlers<NotificationThis> =>
  Object.fromEntries(
    types.map((type) => [
      type,
      async function (this: NotificationThis, event: DomainEvent) {
        await sendAll(this, [event]);
      },
    ]),
  );

/**
 * What a fetch brought of a consumer group's topic, in one go (the bus hands the same events to
 * `notifyOn`'s handlers one by one if this throws; every effect is keyed by the event id).
 */
export async function notifyBatch(this: NotificationThis, batch: DeliveredEvent[]) {
  await sendAll(
    this,
    batch.map(({ event }) => event),
  );
}

/**
 * In-app: the event's inbox entries, one per recipient, stored (with other events' entries, in
 * one write) and pushed to each recipient's sockets; the `<event id>:<role>:<sub>` key makes a
 * repeat store nothing and push nothing.
 */
export async function sendInApp(service: NotificationThis, { event, messages }: Dispatch) {
  if (messages.length === 0) return;
  // Dated by the event, so that a repeat is the same entry (domain/inbox.ts addEntries).
  const at = new Date(event.time);
  const docs: NotificationDoc[] = messages.map((message) => ({
    _id: `${event.id}:${userKey(recipientOf(message))}`,
    event_id: event.id,
    event_type: event.type,
    read_at: null,
    created_at: at,
    ...message,
  }));
  const fresh = await Promise.all(docs.map((doc) => service.inboxWriter.add(doc)));
  for (const doc of docs.filter((_, i) => fresh[i])) {
    pushLive(service.broker, service.logger, "live.notification", {
      recipient: recipientOf(doc),
      notification: toEntity(doc),
    });
  }
}

/**
 * Stores entries: in the history, in one write, and in each recipient's inbox record; for each,
 * whether it is new to either (a repeat of an event stored before is new to neither, unless a
 * crash came between the two writes, when the inbox still lacks it).
 */
export async function storeEntries(
  service: NotificationThis,
  docs: NotificationDoc[],
): Promise<boolean[]> {
  const fresh = await insertNew(service, docs);
  const surelyNew = new Set(docs.filter((_, i) => fresh[i]).map((doc) => doc._id));
  const added = new Set<string>();
  await Promise.all(
    [...byRecipient(docs).values()].map(async (entries) => {
      const recipient = recipientOf(entries[0]);
      const ids = await changeInbox(service, recipient, (inbox) => {
        const next = addEntries(inbox, entries, surelyNew);
        return { inbox: next.inbox, changed: next.added.size > 0, result: next.added };
      });
      for (const id of ids) added.add(id);
    }),
  );
  return docs.map((doc, i) => Boolean(fresh[i]) || added.has(doc._id));
}

/** Stores the entries not stored before, in one write; for each, whether it is new. */
const insertNew = (service: NotificationThis, docs: NotificationDoc[]) =>
  insertIgnoringRepeats(service.models.notifications.collection, docs);

/** Inserts the documents whose `_id` is not taken, in one write; for each, whether it was new. */
async function insertIgnoringRepeats<D extends { _id: string }>(
  collection: { insertMany(docs: never[], options: { ordered: false }): Promise<unknown> },
  docs: D[],
): Promise<boolean[]> {
  try {
    await collection.insertMany(docs as never[], { ordered: false });
    return docs.map(() => true);
  } catch (error) {
    const failures = (error as { writeErrors?: { index: number; code: number }[] }).writeErrors;
    if (!failures || failures.some((failure) => failure.code !== 11000)) throw error;
    const stored = new Set(failures.map((failure) => failure.index)); // stored before
    return docs.map((_, i) => !stored.has(i));
  }
}
