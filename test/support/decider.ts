import type { Accepted, Decision, EventDraft, Expect, RejectionKind } from "../../domain/decider";

/**
 * Decider tests written as given / when / then:
 *
 *   const given = givenWhenThen(decide);
 *   given(payment("held")).when(captured).thenAccepted({ expect, changes, events });
 *   given(null).when(captured).thenRefused("not_found", "Payment not found");
 *
 * No step is called `then`: jest (and `await`) would take an object with a `then` method for a
 * promise.
 */
export interface Outcome<State> {
  /** The decision itself, for what the steps below do not say. */
  readonly decision: Decision<State>;
  /**
   * Accepted. With `expected`, exactly so: what it is guarded on, what it changes, what it
   * publishes (no event when `events` is left out). Returns the decision for further checks.
   */
  thenAccepted(expected?: {
    expect: Expect<State>;
    changes: Partial<State>;
    events?: EventDraft[];
  }): Accepted<State>;
  /** Accepted, changing exactly these fields (whatever it is guarded on and publishes). */
  thenChanges(changes: Partial<State>): Accepted<State>;
  /** Refused, for whatever reason. */
  thenRefused(): void;
  /** Refused exactly so: this kind and message, and this data (none when left out). */
  thenRefused(kind: RejectionKind, message: string, data?: Record<string, unknown>): void;
}

export function givenWhenThen<State, Command>(
  decide: (state: State | null, command: Command) => Decision<State>,
) {
  return (state: State | null) => ({
    when: (command: Command): Outcome<State> => outcome(decide(state, command)),
  });
}

function outcome<State>(decision: Decision<State>): Outcome<State> {
  const accepted = (): Accepted<State> => {
    if (!decision.ok) throw new Error(`refused: ${decision.rejection.message}`);
    return decision;
  };
  return {
    decision,
    thenAccepted(expected) {
      if (expected) {
        expect(decision).toEqual({
          ok: true,
          expect: expected.expect,
          changes: expected.changes,
          events: expected.events ?? [],
        });
      }
      return accepted();
    },
    thenChanges(changes) {
      expect(accepted().changes).toEqual(changes);
      return accepted();
    },
    thenRefused(kind?: RejectionKind, message?: string, data?: Record<string, unknown>) {
      if (kind === undefined) {
        expect(decision.ok).toBe(false);
        return;
      }
      expect(decision).toEqual({
        ok: false,
        rejection: data ? { kind, message, data } : { kind, message },
      });
    },
  };
}
