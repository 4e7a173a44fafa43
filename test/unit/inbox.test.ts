import {
  addEntries,
  emptyInbox,
  markAllRead,
  markRead,
  pageOf,
  type Inbox,
  type InboxEntry,
} from "../../domain/inbox";

/** Entry `n`, dated n seconds after a fixed instant. */
const entry = (n: number, read = false): InboxEntry => ({
  _id: `e${String(n).padStart(3, "0")}`,
  created_at: new Date(Date.UTC(2026, 11, 7, 12, 0, n)),
  read_at: read ? new Date(Date.UTC(2026, 11, 7, 13)) : null,
});
const ids = (entries: readonly InboxEntry[] | undefined) => entries?.map((e) => e._id);
const inboxOf = (...entries: InboxEntry[]): Inbox<InboxEntry> =>
  addEntries(emptyInbox(), entries).inbox;

describe("inbox record", () => {
  it("keeps entries newest first and counts the unread ones", () => {
    // given an empty inbox
    // when three entries arrive out of order, one of them already read
    const { inbox, added } = addEntries(emptyInbox(), [entry(2), entry(1, true), entry(3)]);
    // then they are kept newest first, all added, two unread
    expect(ids(inbox.entries)).toEqual(["e003", "e002", "e001"]);
    expect([...added].sort()).toEqual(["e001", "e002", "e003"]);
    expect(inbox.unread).toBe(2);
    expect(inbox.total).toBe(3);
  });

  it("adds nothing for a repeat of a kept entry", () => {
    // given an inbox holding e1 and e2
    const inbox = inboxOf(entry(1), entry(2));
    // when e2 arrives again (a replayed event)
    const result = addEntries(inbox, [entry(2)]);
    // then nothing changes
    expect(result.added.size).toBe(0);
    expect(result.inbox).toBe(inbox);
  });

  it("lets the oldest go beyond its size, and does not take back a repeat of one let go", () => {
    // given an inbox of size 3 that has let e1 go
    const { inbox } = addEntries(
      emptyInbox(),
      [1, 2, 3, 4].map((n) => entry(n)),
      new Set(),
      3,
    );
    expect(ids(inbox.entries)).toEqual(["e004", "e003", "e002"]);
    expect(inbox.total).toBe(4);
    expect(inbox.unread).toBe(4);
    // when e1 arrives again
    const repeat = addEntries(inbox, [entry(1)], new Set(), 3);
    // then it is not counted twice
    expect(repeat.added.size).toBe(0);
    expect(repeat.inbox).toBe(inbox);
  });

  it("counts an entry too old to keep when the history says it is new", () => {
    // given an inbox of size 3 that has let an entry go
    const { inbox } = addEntries(
      emptyInbox(),
      [2, 3, 4, 5].map((n) => entry(n)),
      new Set(),
      3,
    );
    // when a late event's entry, older than every kept one, arrives for the first time
    const late = addEntries(inbox, [entry(1)], new Set(["e001"]), 3);
    // then it is counted unread but not kept
    expect(ids(late.inbox.entries)).toEqual(["e005", "e004", "e003"]);
    expect(late.inbox.unread).toBe(5);
    expect(late.inbox.total).toBe(5);
  });

  it("marks a kept entry read once", () => {
    // given two unread entries
    const inbox = inboxOf(entry(1), entry(2));
    const at = new Date(Date.UTC(2026, 11, 7, 14));
    // when e1 is read, twice
    const first = markRead(inbox, "e001", at, false);
    const second = markRead(first.inbox, "e001", at, false);
    // then the count drops by one only
    expect(first.changed).toBe(true);
    expect(first.inbox.unread).toBe(1);
    expect(first.inbox.entries.find((e) => e._id === "e001")?.read_at).toEqual(at);
    expect(second.changed).toBe(false);
    expect(second.inbox.unread).toBe(1);
  });

  it("takes the history's word for an entry no longer kept", () => {
    // given an inbox of size 2 with three unread
    const { inbox } = addEntries(
      emptyInbox(),
      [1, 2, 3].map((n) => entry(n)),
      new Set(),
      2,
    );
    const at = new Date();
    // when e1 (let go) is read: once marked in the history, once already read there
    expect(markRead(inbox, "e001", at, true).inbox.unread).toBe(2);
    expect(markRead(inbox, "e001", at, false)).toEqual({ inbox, changed: false });
  });

  it("marks every entry read", () => {
    const inbox = markAllRead(inboxOf(entry(1), entry(2, true)), new Date(0));
    expect(inbox.unread).toBe(0);
    expect(inbox.entries.every((e) => e.read_at !== null)).toBe(true);
  });
});

describe("inbox pages", () => {
  const after = (e: InboxEntry) => ({ created_at: e.created_at, id: e._id });

  it("serves a first page with one row more when there are more", () => {
    const inbox = inboxOf(...[1, 2, 3, 4, 5].map((n) => entry(n)));
    expect(ids(pageOf(inbox, { unread: false, limit: 2 }))).toEqual(["e005", "e004", "e003"]);
  });

  it("serves the pages after a cursor, to the end of a complete inbox", () => {
    const inbox = inboxOf(...[1, 2, 3, 4, 5].map((n) => entry(n)));
    expect(ids(pageOf(inbox, { unread: false, limit: 2, after: after(entry(3)) }))).toEqual([
      "e002",
      "e001",
    ]);
  });

  it("lists only unread entries when asked", () => {
    const inbox = inboxOf(entry(1), entry(2, true), entry(3));
    expect(ids(pageOf(inbox, { unread: true, limit: 10 }))).toEqual(["e003", "e001"]);
  });

  it("cannot tell a page that reaches past the kept entries", () => {
    // given a size-3 inbox that let two entries go
    const { inbox } = addEntries(
      emptyInbox(),
      [1, 2, 3, 4, 5].map((n) => entry(n)),
      new Set(),
      3,
    );
    // then a page within the kept entries is served, one reaching past them is not
    expect(ids(pageOf(inbox, { unread: false, limit: 2 }))).toEqual(["e005", "e004", "e003"]);
    expect(pageOf(inbox, { unread: false, limit: 3 })).toBeUndefined();
    expect(pageOf(inbox, { unread: false, limit: 2, after: after(entry(4)) })).toBeUndefined();
  });

  it("serves unread pages whole when every unread entry is kept", () => {
    // given a size-3 inbox that let go of two entries, both read
    const { inbox } = addEntries(
      emptyInbox(),
      [entry(1, true), entry(2, true), entry(3), entry(4, true), entry(5)],
      new Set(),
      3,
    );
    expect(inbox.unread).toBe(2);
    expect(ids(pageOf(inbox, { unread: true, limit: 10 }))).toEqual(["e005", "e003"]);
  });
});
