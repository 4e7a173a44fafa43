import type { Model } from "mongoose";
import { accept, reject, type Decision, type EventDraft } from "../../domain/decider";
import type { DomainEvent } from "../../events/envelope";
import { AggregateStore } from "../../lib/aggregate";
import type { OutboxRelay } from "../../lib/outbox";
import type { WithOutbox } from "../../lib/outbox-schema";

/** A door, opened by one person: opening it again is a repeat for them only. */
interface Door extends WithOutbox {
  state: "closed" | "open" | "locked";
  opened_by: string | null;
}

type Command = { type: "open"; by: string };

function decideDoor(door: Door | null, command: Command): Decision<Door> {
  if (!door) return reject("not_found", "Door not found");
  if (door.state === "open" && door.opened_by === command.by) return accept<Door>({}, {});
  if (door.state !== "closed") return reject("conflict", `The door is ${door.state}`);
  return accept<Door>({ state: "closed" }, { state: "open", opened_by: command.by });
}

/**
 * A store over a stand-in collection: `stored` is what the database holds, which another
 * instance may change behind this store's back. Its guarded writes win or lose in the order
 * `wins` says (none left: lost); a lost write finds the door as `loser` leaves it.
 */
function storeWithWrites(stored: { doc: Door }, wins: boolean[], loser?: Partial<Door>) {
  const findOne = jest.fn(async () => ({ ...stored.doc }));
  const findOneAndUpdate = jest.fn(async (_filter: unknown, update: { $set: Partial<Door> }) => {
    if (!wins.shift()) {
      if (loser) stored.doc = { ...stored.doc, ...loser };
      return null;
    }
    stored.doc = { ...stored.doc, ...update.$set };
    return { ...stored.doc };
  });
  const collection = { collectionName: "doors", findOne, findOneAndUpdate };
  const model = { collection, db: { collection: () => collection } } as unknown as Model<Door>;
  const relay = () => ({ flushSoon: jest.fn() }) as unknown as OutboxRelay<Door>;
  const toEvent = (draft: EventDraft) => draft as unknown as DomainEvent;
  const store = new AggregateStore<Door>(model, relay, toEvent, "door");
  return { store, findOne, findOneAndUpdate };
}

describe("AggregateStore: a no-op decided on a remembered state", () => {
  const opened: Door = { _id: "d1", state: "open", opened_by: "ana", outbox: [] };

  it("given a door this instance remembers open by ana and another instance locked since, when ana opens it again, then the answer is decided on the stored door: a refusal", async () => {
    const stored = { doc: opened };
    const { store, findOne } = storeWithWrites(stored, []);
    await store.load("d1"); // remembered: open by ana
    stored.doc = { ...opened, state: "locked" }; // another instance moved it

    const outcome = await store.execute("d1", decideDoor, (): Command => ({
      type: "open",
      by: "ana",
    }));

    expect(outcome).toEqual({
      ok: false,
      rejection: { kind: "conflict", message: "The door is locked" },
    });
    expect(findOne).toHaveBeenCalledTimes(2);
  });

  it("given a remembered door still as stored, when the repeat is decided, then it is answered from what is stored now, with no write", async () => {
    const stored = { doc: opened };
    const { store, findOne } = storeWithWrites(stored, []);
    await store.load("d1");

    const decided = await store.decide("d1", decideDoor, { type: "open", by: "ana" });

    expect(decided).toEqual({
      before: opened,
      decision: { ok: true, expect: {}, changes: {}, events: [] },
      fresh: true,
    });
    expect(findOne).toHaveBeenCalledTimes(2);
  });
});

describe("AggregateStore: a command's hooks around its write", () => {
  const closed: Door = { _id: "d1", state: "closed", opened_by: null, outbox: [] };
  const open = (): Command => ({ type: "open", by: "ana" });
  const hooksFor = (refusals = 0) => {
    const undo = jest.fn(async (now: Door | null) => void now);
    const before = jest.fn(async () =>
      refusals-- > 0 ? reject("conflict", "The key is out") : { ok: true as const, undo },
    );
    const after = jest.fn(async (saved: { state: Door }) => void saved);
    return { before, after, undo };
  };

  it("given a closed door, when ana opens it, then what the write needs is taken first, the write made, and the open door handed to after", async () => {
    const { store } = storeWithWrites({ doc: closed }, [true]);
    const hooks = hooksFor();

    const outcome = await store.execute("d1", decideDoor, open, { hooks });

    expect(outcome).toMatchObject({ ok: true, state: { state: "open", opened_by: "ana" } });
    expect(hooks.before).toHaveBeenCalledTimes(1);
    expect(hooks.after).toHaveBeenCalledTimes(1);
    expect(hooks.after.mock.calls[0][0].state).toMatchObject({ state: "open", opened_by: "ana" });
    expect(hooks.undo).not.toHaveBeenCalled();
  });

  it("given bob opens the door first, when ana's write is lost, then what it took is given back with the door as stored, and the answer is a conflict", async () => {
    const { store } = storeWithWrites({ doc: closed }, [false], {
      state: "open",
      opened_by: "bob",
    });
    const hooks = hooksFor();

    const outcome = await store.execute("d1", decideDoor, open, { hooks, known: closed });

    expect(outcome).toEqual({
      ok: false,
      rejection: { kind: "conflict", message: "The door changed meanwhile; reload it" },
    });
    expect(hooks.undo).toHaveBeenCalledWith(expect.objectContaining({ opened_by: "bob" }));
    expect(hooks.after).not.toHaveBeenCalled();
  });

  it("given ana's own first tap opens the door, when her second tap's write is lost, then it is answered like the first, with no second write and no after", async () => {
    const { store, findOneAndUpdate } = storeWithWrites({ doc: closed }, [false], {
      state: "open",
      opened_by: "ana",
    });
    const hooks = hooksFor();

    const outcome = await store.execute("d1", decideDoor, open, { hooks, known: closed });

    expect(outcome).toMatchObject({ ok: true, state: { state: "open", opened_by: "ana" } });
    expect(findOneAndUpdate).toHaveBeenCalledTimes(1);
    expect(hooks.undo).toHaveBeenCalledTimes(1);
    expect(hooks.after).not.toHaveBeenCalled();
  });

  it("given a door this instance remembers, when what the write needs is refused, then it is asked again on the stored door before the answer", async () => {
    const { store, findOne } = storeWithWrites({ doc: closed }, [true]);
    await store.load("d1"); // remembered
    const hooks = hooksFor(1);

    const outcome = await store.execute("d1", decideDoor, open, { hooks });

    expect(outcome).toMatchObject({ ok: true, state: { state: "open" } });
    expect(hooks.before).toHaveBeenCalledTimes(2);
    expect(findOne).toHaveBeenCalledTimes(2);
  });

  it("given a door read now, when what the write needs is refused, then the refusal is the answer and nothing is written", async () => {
    const { store, findOneAndUpdate } = storeWithWrites({ doc: closed }, [true]);
    const hooks = hooksFor(1);

    const outcome = await store.execute("d1", decideDoor, open, { hooks, known: closed });

    expect(outcome).toEqual({
      ok: false,
      rejection: { kind: "conflict", message: "The key is out" },
    });
    expect(findOneAndUpdate).not.toHaveBeenCalled();
    expect(hooks.after).not.toHaveBeenCalled();
  });
});
