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
 * instance may change behind this store's back.
 */
function storeOver(stored: { doc: Door }) {
  const findOne = jest.fn(async () => ({ ...stored.doc }));
  const findOneAndUpdate = jest.fn(async () => null);
  const collection = { collectionName: "doors", findOne, findOneAndUpdate };
  const model = { collection, db: { collection: () => collection } } as unknown as Model<Door>;
  const relay = () => ({ flushSoon: jest.fn() }) as unknown as OutboxRelay<Door>;
  const toEvent = (draft: EventDraft) => draft as unknown as DomainEvent;
  return { store: new AggregateStore<Door>(model, relay, toEvent, "door"), findOne };
}

describe("AggregateStore: a no-op decided on a remembered state", () => {
  const opened: Door = { _id: "d1", state: "open", opened_by: "ana", outbox: [] };

  it("given a door this instance remembers open by ana and another instance locked since, when ana opens it again, then the answer is decided on the stored door: a refusal", async () => {
    const stored = { doc: opened };
    const { store, findOne } = storeOver(stored);
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
    const { store, findOne } = storeOver(stored);
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
