import type { EventPayload, EventType } from "../events/catalog";

/**
 * The shape every aggregate's rules share: `decide(state, command)` says whether a command is
 * allowed in the aggregate's current state and what it changes (`changes`: the new state is the
 * old one with them), with no side effects; the one command handler (lib/aggregate.ts) stores the
 * result in one write guarded on what the decision relied on (`expect`).
 */

/** Why a command is refused, as a domain value; the gateway maps each kind to an HTTP status. */
export type RejectionKind = "not_found" | "forbidden" | "conflict";

export interface Rejection {
  kind: RejectionKind;
  message: string;
  data?: Record<string, unknown>;
}

/** An event a decision causes: its type and payload; the service gives it an id and a source. */
export type EventDraft<T extends EventType = EventType> = {
  [K in T]: { type: K; data: EventPayload<K> };
}[T];

/** Fields, or paths into embedded documents (`offer.booking_id`), and the values they must have. */
export type Expect<State> = Partial<State> & { [path: `${string}.${string}`]: unknown };

/**
 * An allowed command: `expect` is what the decision read from the state (the write is guarded on
 * it: if any of it changed meanwhile, the decision no longer holds), `changes` what it sets,
 * `events` what it publishes with it.
 */
export interface Accepted<State> {
  ok: true;
  expect: Expect<State>;
  changes: Partial<State>;
  events: EventDraft[];
}

export type Decision<State> = Accepted<State> | { ok: false; rejection: Rejection };

export const reject = (
  kind: RejectionKind,
  message: string,
  data?: Record<string, unknown>,
): { ok: false; rejection: Rejection } => ({
  ok: false,
  rejection: data ? { kind, message, data } : { kind, message },
});

export const accept = <State>(
  expect: Expect<State>,
  changes: Partial<State>,
  events: EventDraft[] = [],
): Accepted<State> => ({ ok: true, expect, changes, events });

/** "a delivered booking", "an accepted booking": for refusals that name a state. */
export const withArticle = (word: string) => `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`;

export const cap = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** For exhaustive switches: a new case that is not handled fails to compile here. */
export function unreachable(value: never): never {
  throw new Error(`unhandled case ${JSON.stringify(value)}`);
}
