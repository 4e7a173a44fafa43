import { randomUUID } from "node:crypto";
import { Errors } from "moleculer";
import { decide, freesRunner, slotIsFree, type BookingCommand } from "../../domain/booking";
import { reject } from "../../domain/decider";
import { isNoOp, type Outcome } from "../../lib/aggregate";
import { pushLive } from "../../lib/live";
import { ignoreDuplicateKey } from "../../lib/mongo";
import type { BookingDoc } from "../../models/booking.model";
import type { RunnerLockDoc } from "../../models/runner-lock.model";
import { bookingsOf, type BookingThis } from "./context";

export type Transition = Exclude<BookingCommand, { type: "request" | "record_payment" }>;

/**
 * Load → decide → one write guarded on what the decision read, carrying the transition's event.
 * A lost race finds the booking changed: a `conflict`, unless what it changed to is where this
 * command leads (a double tap: both answered alike). Accepting also takes the runner's one
 * active-booking slot and claims the runner (busy on the booking, refused unless it is online)
 * first, and gives both back if the write loses to anything but the same runner's accept.
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
    // A retry of a move that took effect changes nothing: no slot, no claim, no push. `decide`
    // never answers one from what this instance remembers: it was read now.
    if (isNoOp(before, decision)) return { ok: true, before, state: before, events: [] };
    const slot = command.type === "accept" ? await takeSlot(service, command.actor.sub, id) : null;
    if (command.type === "accept" && slot === null) {
      if (fresh) return reject("conflict", "Finish your current booking before accepting another");
      // Decided on what this instance remembered: the booking may be this runner's already.
      before = await bookings.load(id);
      decision = decide(before, command);
      fresh = true;
      continue;
    }
    if (slot) await claimRunner(service, command.actor.sub, id, command.at, slot);
    const saved = await bookings.save(id, before, decision);
    if (saved.ok) return moved(service, id, before, saved);
    const now = await bookings.load(id);
    // Lost to the same runner's accept (a double tap, a retry): the claim and slot are the
    // winner's too, and stay.
    if (slot && now?.runner_id !== command.actor.sub) {
      await releaseRunner(service, command.actor.sub, id);
      await service.models.runnerLocks.deleteOne({ _id: command.actor.sub, token: slot });
    }
    const again = decide(now, command);
    // Decided on what this instance remembered, or lost to this very move: decide again.
    if (fresh && !(again.ok && isNoOp(now, again))) return saved;
    before = now;
    decision = again;
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
 * runner, so of two accepts at the same moment of two bookings one wins. Returns the call's
 * token, or null. A slot is taken over when `slotIsFree` says so, or when it names this very
 * booking while it is still open: a double tap, or this accept run again after a crash left
 * the slot taken (and the runner claimed) but the booking unsaved. The guarded write of the
 * booking then decides which call wins.
 */
async function takeSlot(
  service: BookingThis,
  runnerId: string,
  bookingId: string,
): Promise<string | null> {
  const { runnerLocks } = service.models;
  const token = randomUUID();
  // A few tries: the slot may be released or taken over between the reads and the write.
  for (let tries = 0; tries < 3; tries++) {
    try {
      await runnerLocks.create({
        _id: runnerId,
        booking_id: bookingId,
        token,
        taken_at: new Date(),
      });
      return token;
    } catch (error) {
      ignoreDuplicateKey(error);
    }
    const lock = await runnerLocks.findById(runnerId).lean<RunnerLockDoc>();
    if (!lock) continue;
    const holder = await service.models.bookings
      .findById(lock.booking_id, { status: 1, runner_id: 1 })
      .lean<Pick<BookingDoc, "status" | "runner_id">>();
    const same = lock.booking_id === bookingId;
    const open = same && holder?.status === "requested" && holder.runner_id === null;
    const heldForMs = Date.now() - lock.taken_at.getTime();
    if (!open && (same || !slotIsFree(runnerId, holder, heldForMs))) return null;
    const taken = await runnerLocks.updateOne(
      { _id: runnerId, token: lock.token },
      { $set: { booking_id: bookingId, token, taken_at: new Date() } },
    );
    if (taken.modifiedCount > 0) return token;
  }
  return null;
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
