import type { NotificationEntity } from "../../contracts";
import { userKey, type User } from "../../domain/access";
import { INBOX_RECENT, addEntries, emptyInbox, type Inbox } from "../../domain/inbox";
import { NOTIFICATION_TUNING } from "../../config/tuning";
import { collectionOf, isDuplicateKey } from "../../lib/mongo";
import { PAGE_SORT } from "../../lib/pagination";
import type { Collection, mongo } from "mongoose";
import type { InboxDoc } from "../../models/inbox.model";
import type { NotificationDoc } from "../../models/notification.model";
import type { NotificationThis } from "./models";

/**
 * Inbox entries as they are stored: one by one in the history (`notifications`), and each
 * recipient's newest in its inbox record (`inboxes`, domain/inbox.ts), read and written here.
 */

/** The caller's inbox entries: by role and sub, as a runner and an owner may share a sub. */
export const inboxOf = (user: User) => ({ recipient_id: user.sub, recipient_role: user.role });

/** Whom an inbox entry, or the message it is stored from, is for. */
export const recipientOf = (
  entry: Pick<NotificationDoc, "recipient_id" | "recipient_role">,
): User => ({
  role: entry.recipient_role,
  sub: entry.recipient_id,
});

/** An inbox entry as the API shows it. */
export const toEntity = (doc: NotificationDoc): NotificationEntity => ({
  id: doc._id,
  event_type: doc.event_type,
  booking_id: doc.booking_id,
  booking_number: doc.booking_number,
  title: doc.title,
  body: doc.body,
  read: doc.read_at !== null,
  created_at: doc.created_at.toISOString(),
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
export async function readInbox(service: NotificationThis, user: User): Promise<InboxDoc> {
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
    await collectionOf(service.models.inboxes).insertOne(built);
    return built;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
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
  await insertIgnoringRepeats(collectionOf(records), [
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
export async function changeInbox<R>(
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
            await insertIgnoringRepeats(collectionOf(service.models.inboxes), [
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

/**
 * Stores entries: in the history, in one write, and in each recipient's inbox record; for each,
 * whether it is new to either (a repeat of an event stored before is new to neither, unless a
 * crash came between the two writes, when the inbox still lacks it).
 */
export async function storeEntries(
  service: NotificationThis,
  docs: NotificationDoc[],
): Promise<boolean[]> {
  const recipients = [...byRecipient(docs).values()];
  // Until every record is built, a recipient's missing one is built from the history before its
  // entries join the history: built after, it would count them, and their own write again.
  if (!service.inboxesBuilt)
    await Promise.all(recipients.map((entries) => readInbox(service, recipientOf(entries[0]))));
  const fresh = await insertIgnoringRepeats(collectionOf(service.models.notifications), docs);
  const surelyNew = new Set(docs.filter((_, i) => fresh[i]).map((doc) => doc._id));
  const added = new Set<string>();
  await Promise.all(
    recipients.map(async (entries) => {
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

/** Inserts the documents whose `_id` is not taken, in one write; for each, whether it was new. */
async function insertIgnoringRepeats<D extends { _id: string }>(
  collection: Collection<D>,
  docs: mongo.OptionalUnlessRequiredId<D>[],
): Promise<boolean[]> {
  try {
    await collection.insertMany(docs, { ordered: false });
    return docs.map(() => true);
  } catch (error) {
    const failures = (error as { writeErrors?: { index: number; code: number }[] }).writeErrors;
    if (!failures || !failures.every(isDuplicateKey)) throw error;
    const stored = new Set(failures.map((failure) => failure.index)); // stored before
    return docs.map((_, i) => !stored.has(i));
  }
}
