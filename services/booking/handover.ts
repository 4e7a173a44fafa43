import { HANDOVER_ACTIONS, type HandoverEvidence } from "../../contracts";
import {
  decide,
  isLocked,
  pinMatches,
  takenForThisStep,
  type Booking,
  type BookingMove,
} from "../../domain/booking";
import type { PhotoMeta } from "../../adapters/photo-store";
import { actionsOf, callerOf, clientError, orThrow } from "../../lib/action";
import { PAGE_SORT, afterCursor, toPage } from "../../lib/pagination";
import { photoBytes, photoStoreOf } from "../../lib/photos";
import { runtimeOf } from "../../lib/runtime";
import { fieldError } from "../../lib/zod-validator";
import type { BookingDoc } from "../../models/booking.model";
import { bookingsOf, proofEntity, toEntity, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/** How long a handover waits for the track's position before it is recorded without one. */
const POSITION_WAIT_MS = 1500;

/**
 * Proof at both ends (domain/booking.ts rows `proof`): the photo must be one this booking's runner
 * uploaded for it, and the position is where the track was at that moment. A wrong PIN at the
 * drop-off is counted (the `wrong_pin` command) and answered 422; the last allowed one locks the
 * handover and alerts operations (`booking.handover_locked`).
 */
export async function handoverCommand(
  service: BookingThis,
  id: string,
  command: BookingMove,
  body: { photo_id?: string; pin?: string },
): Promise<{ command: BookingMove; known?: BookingDoc | null }> {
  if (body.photo_id === undefined) return { command };
  // Three independent round trips, made at once (one after another they were most of a
  // pickup's time): the booking, the photo's record, and the track's fix at this moment. The
  // photo's answer, an error included, is looked at only once the caller may make the move.
  const [booking, meta, fix] = await Promise.all([
    bookingsOf(service).load(id),
    settled(photoStoreOf(service).meta(body.photo_id)),
    trackAt(service, id, command.at),
  ]);
  // Nothing to prove on a booking the caller cannot move: the move itself refuses it.
  if (!booking || booking.runner_id !== command.actor.sub) return { command, known: booking };
  checkPhoto(booking, meta(), command);
  if (body.pin !== undefined && !pinMatches(booking, body.pin) && !isLocked(booking)) {
    await wrongPin(service, booking, command);
  }
  const position = fix ? { lat: fix.lat, lng: fix.lng } : null;
  return {
    command: { ...command, proof: { photo_id: body.photo_id, position }, pin: body.pin },
    // The move decides on the booking as read here: nothing to read twice.
    known: booking,
  };
}

/** A promise's outcome, to be read later: its value, or its error thrown when read. */
async function settled<T>(promise: Promise<T>): Promise<() => T> {
  try {
    const value = await promise;
    return () => value;
  } catch (error) {
    return () => {
      throw error;
    };
  }
}

function checkPhoto(booking: Booking, meta: PhotoMeta | null, command: BookingMove) {
  const ours =
    meta !== null &&
    meta.subject.kind === "booking" &&
    meta.subject.id === booking._id &&
    meta.uploaded_by.role === "runner" &&
    meta.uploaded_by.sub === command.actor.sub;
  if (!ours) {
    throw fieldError(
      "photo_id",
      "not a photo of this booking you uploaded (POST /api/bookings/:id/photos)",
    );
  }
  if (!takenForThisStep(booking, command.type, meta.created_at)) {
    throw fieldError("photo_id", "taken before this step of the trip: take a photo now");
  }
}

/** Counts the wrong PIN, then refuses the delivery: 422, with the tries left (or the lock). */
async function wrongPin(service: BookingThis, booking: Booking, command: BookingMove) {
  const { pinTries } = runtimeOf(service.broker).config.handover;
  const outcome = await bookingsOf(service).execute(
    booking._id,
    decide,
    () => ({
      type: "wrong_pin" as const,
      actor: command.actor,
      at: command.at,
      maxTries: pinTries,
    }),
    { retries: 3 },
  );
  const saved = orThrow(outcome);
  if (isLocked(saved)) {
    throw clientError(
      "CONFLICT",
      `The PIN does not match. ${pinTries} wrong PINs: the handover is locked, and operations will contact you`,
      { handover_locked: true },
    );
  }
  const left = pinTries - (saved.pin_tries ?? 0);
  throw fieldError("pin", `does not match: ${left} ${left === 1 ? "try" : "tries"} left`);
}

/** The track's last fix at a time, and its ETA then, as the tracking service answers. */
export interface TrackFix {
  lat: number;
  lng: number;
  recorded_at: string;
  eta_seconds?: number | null;
}

/** The track's last fix at `at`: null when the tracking service has none or does not answer. */
export async function trackAt(
  service: BookingThis,
  id: string,
  at: Date,
): Promise<TrackFix | null> {
  try {
    return await service.broker.call<TrackFix | null, { booking_id: string; at: string }>(
      "tracking.positionAt",
      { booking_id: id, at: at.toISOString() },
      { timeout: POSITION_WAIT_MS },
    );
  } catch (error) {
    service.logger.warn(`no track position for booking ${id}`, error);
    return null;
  }
}

/** An admin lets a locked handover be tried again (having spoken to the owner and the runner). */
export const unlockHandover = action(HANDOVER_ACTIONS.unlockHandover, async function (ctx) {
  const caller = callerOf(ctx);
  const outcome = await bookingsOf(this).execute(
    ctx.params.id,
    decide,
    () => ({ type: "unlock_handover" as const, actor: caller, at: new Date() }),
    { retries: 3 },
  );
  return toEntity(orThrow(outcome), caller);
});

/** Handovers locked by wrong PINs, newest first: the operations page's list. */
export const handoverLocks = action(HANDOVER_ACTIONS.handoverLocks, async function (ctx) {
  const { limit, cursor } = ctx.params;
  const rows = await this.models.bookings
    .find({ handover_locked_at: { $ne: null }, ...afterCursor(cursor) }, { outbox: 0 })
    .sort(PAGE_SORT)
    .limit(limit + 1)
    .lean<BookingDoc[]>();
  const page = toPage(rows, limit);
  const caller = callerOf(ctx);
  return {
    items: page.items.map((doc) => ({
      ...toEntity(doc, caller),
      handover_locked_at: doc.handover_locked_at?.toISOString() ?? null,
      pin_tries: doc.pin_tries ?? 0,
    })),
    next_cursor: page.next_cursor,
  };
});

/**
 * For the payment service, answering a card dispute with the handover proof: the proof at both
 * ends and the drop-off photo's bytes; null for a booking there is not.
 */
export const handoverEvidence = action(
  HANDOVER_ACTIONS.handoverEvidence,
  async function (ctx): Promise<HandoverEvidence | null> {
    const booking = await bookingsOf(this).load(ctx.params.booking_id);
    if (!booking) return null;
    const photoId = booking.dropoff_proof?.photo_id;
    const photo = photoId ? await photoStoreOf(this).get(photoId) : null;
    return {
      booking_number: booking.booking_number,
      pickup_proof: proofEntity(booking.pickup_proof),
      dropoff_proof: proofEntity(booking.dropoff_proof),
      dropoff_photo: photo ? photoBytes(photo) : null,
    };
  },
);
