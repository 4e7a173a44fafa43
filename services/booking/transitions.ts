import { randomUUID } from "node:crypto";
import { Errors } from "moleculer";
import { decide, freesRunner, slotIsFree, type BookingCommand } from "../../domain/booking";
import { reject } from "../../domain/decider";
import type { Outcome } from "../../lib/aggregate";
import { pushLive } from "../../lib/live";
import { ignoreDuplicateKey } from "../../lib/mongo";
import type { BookingDoc } from "../../models/booking.model";
import type { RunnerLockDoc } from "../../models/runner-lock.model";
import { bookingsOf, type BookingThis } from "./context";

export type Transition = Exclude<BookingCommand, { type: "request" | "record_payment" }>;

/**
 * Load → decide → one write guarded on what the decision read, carrying the transition's event.
 * A lost race finds the booking changed: a `conflict`. Accepting also takes the runner's one
 * active-booking slot and claims the runner (busy on the booking, refused unless it is online)
 * first, and gives both back if the write loses.
 */
export async function transition(
  service: BookingThis,
  id: string,
  command: Transition,
): Promise<Outcome<BookingDoc>> {
  const bookings = bookingsOf(service);
  let { before, decision, fresh } = await bookings.decide(id, decide, command);
  for (;;) {
    if (!decision.ok) return decision;
    // A retry of a move that took effect changes nothing: no slot, no claim, no push.
    if (decision.events.length === 0 && before)
      return { ok: true, before, state: before, events: [] };
    const slot = command.type === "accept" ? await takeSlot(service, command.actor.sub, id) : null;
    if (command.type === "accept" && slot === null) {
      return reject("conflict", "Finish your current booking before accepting another");
    }
    if (slot) await claimRunner(service, command.actor.sub, id, command.at, slot);
    const saved = await bookings.save(id, before, decision);
    if (saved.ok) return moved(service, id, before, saved);
    if (slot) {
      await releaseRunner(service, command.actor.sub, id);
      await service.models.runnerLocks.deleteOne({ _id: command.actor.sub, token: slot });
    }
    // Decided on what this instance remembered, and another moved it since: decide again.
    if (fresh) return saved;
    before = await bookings.load(id);
    decision = decide(before, command);
    fresh = true;
  }
}

/** After a move: the runner's slot freed when its hands are, and the trip's watchers told. */
async function moved(
  service: BookingThis,
  id: string,
  before: BookingDoc | null,
  saved: Extract<Outcome<BookingDoc>, { ok: true }>,
) {
  const runnerId = before?.runner_id;
  if (runnerId && freesRunner(saved.state.status)) {
    await service.models.runnerLocks.deleteOne({ _id: runnerId, booking_id: id });
  }
  pushLive(service.broker, service.logger, "live.booking", {
    booking_id: id,
    status: saved.state.status,
  });
  return saved;
}

/**
 * Takes the runner's one active-booking slot for this accept call: an insert keyed by the
 * runner, so of two accepts at the same moment (two bookings, or a double tap) one wins.
 * Returns the call's token, or null. A slot is taken over only when `slotIsFree` says so.
 */
async function takeSlot(
  service: BookingThis,
  runnerId: string,
  bookingId: string,
): Promise<string | null> {
  const { runnerLocks } = service.models;
  const token = randomUUID();
  try {
    await runnerLocks.create({ _id: runnerId, booking_id: bookingId, token, taken_at: new Date() });
    return token;
  } catch (error) {
    ignoreDuplicateKey(error);
  }
  const lock = await runnerLocks.findById(runnerId).lean<RunnerLockDoc>();
  // Released meanwhile, or a second tap on the same booking: this call does not get it.
  if (!lock || lock.booking_id === bookingId) return null;
  const holder = await service.models.bookings
    .findById(lock.booking_id, { status: 1, runner_id: 1 })
    .lean<Pick<BookingDoc, "status" | "runner_id">>();
  if (!slotIsFree(runnerId, holder, Date.now() - lock.taken_at.getTime())) return null;
  const taken = await runnerLocks.updateOne(
    { _id: runnerId, token: lock.token },
    { $set: { booking_id: bookingId, token, taken_at: new Date() } },
  );
  return taken.modifiedCount > 0 ? token : null;
}

/**
 * The runner service makes the runner busy on the booking in one guarded write, or refuses
 * (409: not online). Before the booking's own write, so that a runner going offline meanwhile
 * either loses to the claim or makes the accept fail: never an offline runner on an accepted
 * booking. On any failure the slot is given back, and so is a claim that may have been made.
 */
async function claimRunner(
  service: BookingThis,
  runnerId: string,
  bookingId: string,
  at: Date,
  slot: string,
): Promise<void> {
  try {
    await service.broker.call("runner.claim", {
      runner_id: runnerId,
      booking_id: bookingId,
      accepted_at: at.toISOString(),
    });
  } catch (error) {
    // A refusal claimed nothing; no answer (a timeout, a lost node) may have claimed all the same.
    if (!(error instanceof Errors.MoleculerClientError)) {
      await releaseRunner(service, runnerId, bookingId);
    }
    await service.models.runnerLocks.deleteOne({ _id: runnerId, token: slot });
    throw error;
  }
}

/**
 * Gives back the claim of an accept that did not happen. Best effort: a runner left claimed
 * (its service unreachable now) is freed by its next accept, which takes over a claim the
 * booking's slot no longer holds.
 */
async function releaseRunner(service: BookingThis, runnerId: string, bookingId: string) {
  await service.broker
    .call("runner.release", { runner_id: runnerId, booking_id: bookingId })
    .catch((error: unknown) =>
      service.logger.warn(`could not release runner ${runnerId} from ${bookingId}`, error),
    );
}
