import type { Model } from "mongoose";
import {
  reject,
  type Accepted,
  type Decision,
  type EventDraft,
  type Rejection,
} from "../domain/decider";
import type { DomainEvent } from "../events/envelope";
import type { WithOutbox } from "../models/outbox.schema";
import { guardedUpdate, toOutbox, type OutboxRelay } from "./outbox";

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
  constructor(
    private readonly model: Model<Doc>,
    private readonly relay: () => OutboxRelay<Doc>,
    private readonly toEvent: (draft: EventDraft) => DomainEvent,
    /** How a lost race reads: "The booking changed meanwhile; reload it". */
    private readonly noun: string,
  ) {}

  /** The document without its outbox, by `_id` (the lookup every backend answers from an index). */
  load(id: string): Promise<Doc | null> {
    return this.model.findById(id, { outbox: 0 }).lean<Doc>().exec();
  }

  /** Stores an accepted decision about the aggregate `id` (null `before`: it is created). */
  async save(id: string, before: Doc | null, decision: Accepted<Doc>): Promise<Outcome<Doc>> {
    const events = decision.events.map(this.toEvent);
    const state = before
      ? await guardedUpdate(this.model, { _id: id, ...decision.expect }, decision.changes, events)
      : await this.insert({ ...decision.changes, _id: id } as Doc, events);
    if (!state) return reject("conflict", `The ${this.noun} changed meanwhile; reload it`);
    if (events.length > 0) this.relay().flushSoon(id);
    return { ok: true, before, state, events };
  }

  /**
   * Load, decide, save. `command(attempt)` is made anew for each try (a fresh booking number, say);
   * a lost race is tried again `retries` times, each time on what is stored then. `known` is the
   * aggregate as the caller just read it (null: known not to exist yet), used for the first try
   * instead of another read.
   */
  async execute<C>(
    id: string,
    decide: (state: Doc | null, command: C) => Decision<Doc>,
    command: (attempt: number) => C,
    retries = 0,
    known?: Doc | null,
  ): Promise<Outcome<Doc>> {
    for (let attempt = 0; ; attempt++) {
      const before = attempt === 0 && known !== undefined ? known : await this.load(id);
      const decision = decide(before, command(attempt));
      if (!decision.ok) return decision;
      const saved = await this.save(id, before, decision);
      if (saved.ok || attempt >= retries) return saved;
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
    const created = await this.execute(id, decide, () => command, 0, null);
    if (created.ok) return created.state;
    const existing = await this.load(id);
    if (!existing) throw new Error(`${this.noun} ${id}: ${created.rejection.message}`);
    return existing;
  }

  /** A new document with its first events; null when one with its `_id` exists already. */
  private async insert(doc: Doc, events: DomainEvent[]): Promise<Doc | null> {
    try {
      await this.model.collection.insertOne({ ...doc, outbox: toOutbox(events) } as never);
      return doc;
    } catch (error) {
      if ((error as { code?: number }).code === 11000) return null;
      throw error;
    }
  }
}
