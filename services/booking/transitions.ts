import { randomUUID } from "node:crypto";
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
 * active-booking slot first, and gives it back if the write loses.
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
    const slot = command.type === "accept" ? await takeSlot(service, command.actor.sub, id) : null;
    if (command.type === "accept" && slot === null) {
      return reject("conflict", "Finish your current booking before accepting another");
    }
    const saved = await bookings.save(id, before, decision);
    if (saved.ok) return moved(service, id, before, saved);
    if (slot) await service.models.runnerLocks.deleteOne({ _id: command.actor.sub, token: slot });
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
