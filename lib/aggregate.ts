import type { Filter, OptionalUnlessRequiredId } from "mongodb";
import type { Collection, Model } from "mongoose";
import {
  reject,
  type Accepted,
  type Decision,
  type EventDraft,
  type Rejection,
} from "../domain/decider";
import type { DomainEvent } from "../events/envelope";
import type { WithOutbox } from "./outbox-schema";
import { AGGREGATE_TUNING } from "../config/tuning";
import { collectionOf, isDuplicateKey } from "../adapters/mongo-driver";
import { LruCache } from "./lru-cache";
import { guardedUpdate, toOutbox, type OutboxRelay } from "./outbox";

/** A decision about an existing aggregate that changes nothing and publishes nothing. */
export function isNoOp<Doc>(before: Doc | null, decision: Accepted<Doc>): before is Doc {
  return (
    before !== null && decision.events.length === 0 && Object.keys(decision.changes).length === 0
  );
}

/** What a command takes before its write: how to give it back if the write is lost. */
export type Taken<Doc> =
  { ok: true; undo?: (now: Doc | null) => Promise<void> } | { ok: false; rejection: Rejection };

/**
 * What one kind of command needs around its write: `before` takes what the write relies on
 * beyond the document (a lock, a claim elsewhere) or refuses; `after` acts on a write once made
 * (frees what the new state no longer holds, tells watchers). Never run for a no-op.
 */
export interface CommandHooks<Doc> {
  before?(state: Doc | null, decision: Accepted<Doc>): Promise<Taken<Doc>>;
  after?(saved: Extract<Outcome<Doc>, { ok: true }>): Promise<void>;
}

/** How `execute` runs a command: its retries, the aggregate as the caller knows it, its hooks. */
export interface ExecuteOptions<Doc> {
  retries?: number;
  known?: Doc | null;
  hooks?: CommandHooks<Doc>;
}

/** What a stored command came to: the aggregate before and as written, its events; or why not. */
export type Outcome<Doc> =
  | { ok: true; before: Doc | null; state: Doc; events: DomainEvent[] }
  | { ok: false; rejection: Rejection };

/**
 * One aggregate's documents, written the one way every service writes them: load → decide (pure,
 * domain/) → one write that creates the document, or moves it only if what the decision relied
 * on (`expect`) still holds, carrying the decision's events in its outbox. Then the relay
 * publishes them. A lost race is a `conflict`, or, for `retries`, a fresh load and decision.
 */
export class AggregateStore<Doc extends WithOutbox> {
  /**
   * What this instance last wrote of each aggregate: the next command on one is decided on it
   * without a read. Only a speed-up — another instance may have moved the aggregate since: a
   * decision on it that is refused, or whose guarded write finds the aggregate changed, is made
   * again on what is stored.
   */
  private readonly recent = new LruCache<string, Doc>(AGGREGATE_TUNING.recentPerStore);

  /** The driver's collection, typed by the document: what goes in and out is written whole. */
  private collection?: Collection<Doc>;

  constructor(
    private readonly model: Model<Doc>,
    private readonly relay: () => OutboxRelay<Doc>,
    private readonly toEvent: (draft: EventDraft) => DomainEvent,
    /** How a lost race reads: "The booking changed meanwhile; reload it". */
    private readonly noun: string,
  ) {}

  private get driver(): Collection<Doc> {
    return (this.collection ??= collectionOf(this.model));
  }

  /**
   * Decides `command` on the aggregate as this instance last wrote it, or as stored; a refusal
   * or a no-op decided on the remembered state is checked again on the stored one. `fresh` says
   * whether `before` was read now (a lost race on a remembered state is worth one more try).
   */
  async decide<C>(
    id: string,
    decide: (state: Doc | null, command: C) => Decision<Doc>,
    command: C,
  ): Promise<{ before: Doc | null; decision: Decision<Doc>; fresh: boolean }> {
    const remembered = this.recent.get(id);
    if (remembered) {
      const decision = decide(remembered, command);
      // A no-op is answered without a write, so no guard would catch a remembered state that
      // another instance moved since: "accepted" for a booking cancelled meanwhile.
      if (decision.ok && !isNoOp(remembered, decision))
        return { before: remembered, decision, fresh: false };
    }
    const before = await this.load(id);
    return { before, decision: decide(before, command), fresh: true };
  }

  /**
   * The document without its outbox, by `_id` (the lookup every backend answers from an index),
   * through the driver: nothing to cast on the way out of a document written whole.
   */
  async load(id: string): Promise<Doc | null> {
    const doc = (await this.driver.findOne({ _id: id } as Filter<Doc>, {
      projection: { outbox: 0 },
    })) as Doc | null;
    if (doc) this.recent.set(id, doc);
    return doc;
  }

  /** Stores an accepted decision about the aggregate `id` (null `before`: it is created). */
  async save(id: string, before: Doc | null, decision: Accepted<Doc>): Promise<Outcome<Doc>> {
    // Nothing to change (a retried command that took effect already): nothing to write.
    if (isNoOp(before, decision)) return { ok: true, before, state: before, events: [] };
    const events = decision.events.map(this.toEvent);
    const state = before
      ? await guardedUpdate(this.model, { _id: id, ...decision.expect }, decision.changes, events)
      : await this.insert({ ...decision.changes, _id: id } as Doc, events);
    if (!state) {
      this.recent.delete(id);
      return reject("conflict", `The ${this.noun} changed meanwhile; reload it`);
    }
    // The write returned the document with its outbox: published from there, not read again.
    if (events.length > 0) this.relay().flushSoon(id, state.outbox);
    const remembered = { ...state } as Partial<Doc>;
    delete remembered.outbox;
    this.recent.set(id, remembered as Doc);
    return { ok: true, before, state, events };
  }

  /**
   * The one command handler: load → decide → one guarded write with the decision's events in the
   * outbox → publish. `command(attempt)` is made anew for each try (a fresh booking number,
   * say). `known` is the aggregate as the caller just read it (null: known not to exist yet),
   * used for the first decision instead of another read.
   *
   * A lost race reloads and decides again: a retry of a command that took effect meanwhile (a
   * double tap) is answered like the first; otherwise it is tried again `retries` times, and a
   * race lost on a remembered state is one more try, not counted. `hooks` take what the write
   * needs before it, give it back when the write is lost, and act on the write once it is made.
   */
  async execute<C>(
    id: string,
    decide: (state: Doc | null, command: C) => Decision<Doc>,
    command: (attempt: number) => C,
    { retries = 0, known, hooks = {} }: ExecuteOptions<Doc> = {},
  ): Promise<Outcome<Doc>> {
    let attempt = 0;
    let { before, decision, fresh } =
      known !== undefined
        ? { before: known, decision: decide(known, command(attempt)), fresh: true }
        : await this.decide(id, decide, command(attempt));
    for (;;) {
      if (!decision.ok) return decision;
      // A retry of a command that took effect changes nothing: nothing to take, write or tell.
      if (isNoOp(before, decision)) return { ok: true, before, state: before, events: [] };
      const taken: Taken<Doc> = hooks.before ? await hooks.before(before, decision) : { ok: true };
      if (!taken.ok && fresh) return taken;
      if (taken.ok) {
        const saved = await this.save(id, before, decision);
        if (saved.ok) {
          await hooks.after?.(saved);
          return saved;
        }
        const now = await this.load(id);
        await taken.undo?.(now);
        if (fresh && ++attempt > retries) {
          const again = decide(now, command(attempt));
          // Lost to this very command (a double tap): answered alike.
          return again.ok && isNoOp(now, again)
            ? { ok: true, before: now, state: now, events: [] }
            : saved;
        }
        before = now;
      } else {
        // Refused before the write on a remembered state: checked again on the stored one.
        before = await this.load(id);
      }
      decision = decide(before, command(attempt));
      fresh = true;
    }
  }

  /**
   * Creates an aggregate the caller found missing; when a concurrent call created it first, the
   * one it created.
   */
  async create<C>(
    id: string,
    decide: (state: Doc | null, command: C) => Decision<Doc>,
    command: C,
  ): Promise<Doc> {
    const created = await this.execute(id, decide, () => command, { known: null });
    if (created.ok) return created.state;
    const existing = await this.load(id);
    if (!existing) throw new Error(`${this.noun} ${id}: ${created.rejection.message}`);
    return existing;
  }

  /** A new document with its first events; null when one with its `_id` exists already. */
  private async insert(doc: Doc, events: DomainEvent[]): Promise<Doc | null> {
    try {
      const created = { ...doc, outbox: toOutbox(events) };
      await this.driver.insertOne(created as OptionalUnlessRequiredId<Doc>);
      return created;
    } catch (error) {
      if (isDuplicateKey(error)) return null;
      throw error;
    }
  }
}
