/**
 * A recipient's inbox as one record: its newest entries (at most `INBOX_RECENT`, newest first),
 * the number of entries not read, and how many it ever held. Listing the inbox reads this one
 * record by its key instead of querying every entry; the entries themselves are also kept one
 * by one (the history), which pages beyond the newest are read from.
 */

/** What the inbox needs of an entry. */
export interface InboxEntry {
  _id: string;
  created_at: Date;
  read_at: Date | null;
}

export interface Inbox<E extends InboxEntry> {
  /** Newest first, in (created_at desc, _id desc) order, at most `INBOX_RECENT`. */
  entries: E[];
  /** Entries never read, counting those no longer among `entries`. */
  unread: number;
  /** Entries ever added: more than `entries.length` when older ones were let go. */
  total: number;
}

/**
 * Entries a record keeps: a page of the default size (20, lib/pagination.ts) and the row that
 * tells whether there is a next one. Every write of a record rewrites it whole, which FerretDB
 * pays for by its size: 100 entries (35 kB) made the records the database's largest cost.
 */
export const INBOX_RECENT = 25;

export const emptyInbox = <E extends InboxEntry>(): Inbox<E> => ({
  entries: [],
  unread: 0,
  total: 0,
});

/** Whether `a` comes before `b` newest first: later, or as late with the greater id. */
const newer = (
  a: Pick<InboxEntry, "_id" | "created_at">,
  b: Pick<InboxEntry, "_id" | "created_at">,
) =>
  a.created_at.getTime() !== b.created_at.getTime()
    ? a.created_at.getTime() > b.created_at.getTime()
    : a._id > b._id;

/**
 * The inbox with the entries it does not hold yet. An entry already there, or older than every
 * kept entry of an inbox that let entries go (it may be one of them), adds nothing, unless
 * `surelyNew` names it (the history had never stored it): then it is counted, though too old to
 * be kept. Entries are keyed by event and recipient, and dated by their event, so a repeat is
 * recognised either way.
 */
export function addEntries<E extends InboxEntry>(
  inbox: Inbox<E>,
  incoming: readonly E[],
  surelyNew: ReadonlySet<string> = new Set(),
  keep = INBOX_RECENT,
): { inbox: Inbox<E>; added: Set<string> } {
  const held = new Set(inbox.entries.map((entry) => entry._id));
  const oldest = inbox.entries[inbox.entries.length - 1];
  const full = inbox.entries.length >= keep && inbox.total > inbox.entries.length;
  const added = new Set<string>();
  const fresh: E[] = [];
  for (const entry of incoming) {
    if (held.has(entry._id) || added.has(entry._id)) continue;
    if (full && oldest && !newer(entry, oldest) && !surelyNew.has(entry._id)) continue;
    added.add(entry._id);
    fresh.push(entry);
  }
  if (fresh.length === 0) return { inbox, added };
  const entries = [...inbox.entries, ...fresh].sort((a, b) => (newer(a, b) ? -1 : 1));
  return {
    inbox: {
      entries: entries.slice(0, keep),
      unread: inbox.unread + fresh.filter((entry) => entry.read_at === null).length,
      total: inbox.total + fresh.length,
    },
    added,
  };
}

/**
 * The inbox once entry `id` is read at `at`. A kept entry answers for itself; for one no longer
 * kept, `unreadElsewhere` is the history's answer (it was unread there and is now marked read).
 */
export function markRead<E extends InboxEntry>(
  inbox: Inbox<E>,
  id: string,
  at: Date,
  unreadElsewhere: boolean,
): { inbox: Inbox<E>; changed: boolean } {
  const kept = inbox.entries.find((entry) => entry._id === id);
  if (kept) {
    if (kept.read_at !== null) return { inbox, changed: false };
    return {
      inbox: {
        ...inbox,
        entries: inbox.entries.map((entry) =>
          entry._id === id ? { ...entry, read_at: at } : entry,
        ),
        unread: Math.max(0, inbox.unread - 1),
      },
      changed: true,
    };
  }
  if (!unreadElsewhere) return { inbox, changed: false };
  return { inbox: { ...inbox, unread: Math.max(0, inbox.unread - 1) }, changed: true };
}

/** The inbox with every entry read at `at`. */
export function markAllRead<E extends InboxEntry>(inbox: Inbox<E>, at: Date): Inbox<E> {
  return {
    ...inbox,
    entries: inbox.entries.map((entry) =>
      entry.read_at === null ? { ...entry, read_at: at } : entry,
    ),
    unread: 0,
  };
}

export interface PageRequest {
  unread: boolean;
  limit: number;
  /** The last entry of the page before, if any (a decoded cursor). */
  after?: { created_at: Date; id: string };
}

/**
 * A page of the inbox from its kept entries, with one entry more than the page if there is
 * one (the caller cuts it into the next cursor), or `undefined` when the kept entries cannot
 * tell: the page reaches past them into entries let go, which only the history has.
 */
export function pageOf<E extends InboxEntry>(
  inbox: Inbox<E>,
  { unread, limit, after }: PageRequest,
): E[] | undefined {
  const complete = inbox.total <= inbox.entries.length;
  const position = after && { _id: after.id, created_at: after.created_at };
  const rows = inbox.entries.filter(
    (entry) => (!unread || entry.read_at === null) && (!position || newer(position, entry)),
  );
  if (rows.length > limit) return rows.slice(0, limit + 1);
  if (complete) return rows;
  // Every unread entry is kept: a page of unread ones is whole without the history.
  if (unread && inbox.entries.filter((entry) => entry.read_at === null).length >= inbox.unread)
    return rows;
  return undefined;
}
