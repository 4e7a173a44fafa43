import { DISPUTE_ACTIONS } from "../../contracts";
import { isOwner, type User } from "../../domain/access";
import type { BookingMove } from "../../domain/booking";
import { refundProblem, type DisputeResolution } from "../../domain/disputes";
import { actionsOf, callerOf, orThrow } from "../../lib/action";
import { PAGE_SORT, afterCursor, toPage } from "../../lib/pagination";
import { photoStoreOf } from "../../lib/photos";
import { runtimeOf } from "../../lib/runtime";
import { fieldError } from "../../lib/zod-validator";
import type { BookingDoc } from "../../models/booking.model";
import { bookingsOf, toEntity, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/**
 * Disputes (domain/disputes.ts): the owner of a delivered booking reports a problem instead of
 * confirming, and an admin resolves it. Both are moves of the table (domain/booking.ts rows
 * `dispute` and `resolve`) through the one command handler; what they check beyond the row, the
 * configured reasons, the photos and the refund against the hold, is checked here first, so bad
 * input is a 422 that changes nothing.
 */

/** A move of a dispute, as the table takes it. */
function disputeMove(
  service: BookingThis,
  type: "dispute" | "resolve",
  actor: User,
  fields: Pick<BookingMove, "report" | "resolution">,
): BookingMove {
  const { autoConfirmAfterMs } = runtimeOf(service.broker).config;
  return { type, actor, at: new Date(), autoConfirmAfterMs, ...fields };
}

/** Each photo must be one the owner uploaded for this booking (`?stage=dispute`). */
async function checkPhotos(service: BookingThis, bookingId: string, owner: User, ids: string[]) {
  const store = photoStoreOf(service);
  const metas = await Promise.all(ids.map((photoId) => store.meta(photoId)));
  metas.forEach((meta, i) => {
    const ours =
      meta !== null &&
      meta.subject.kind === "booking" &&
      meta.subject.id === bookingId &&
      meta.uploaded_by.role === "owner" &&
      meta.uploaded_by.sub === owner.sub;
    if (!ours) {
      throw fieldError(
        `photo_ids.${i}`,
        "not a photo of this booking you uploaded (POST /api/bookings/:id/photos?stage=dispute)",
      );
    }
  });
}

/**
 * The owner reports a problem with a delivered booking before the auto-confirm: the booking goes
 * disputed, the auto-confirm stops, the escrow stays held, and operations and the runner hear of
 * it (`booking.disputed`). Reported again, the first report stands.
 */
export const dispute = action(DISPUTE_ACTIONS.dispute, async function (ctx) {
  const { id, reason, text, photo_ids } = ctx.params;
  const caller = callerOf(ctx);
  const { disputeReasons } = runtimeOf(this.broker).config;
  if (!disputeReasons.includes(reason)) {
    throw fieldError("reason", `expected one of ${disputeReasons.join(", ")}`);
  }
  const booking = await bookingsOf(this).load(id);
  // Only for whom the move is allowed at all: the move refuses anyone else as it does.
  if (booking && isOwner(caller, booking)) await checkPhotos(this, id, caller, photo_ids);
  const command = disputeMove(this, "dispute", caller, { report: { reason, text, photo_ids } });
  return toEntity(orThrow(await this.move(id, command)), caller);
});

/**
 * An admin resolves a dispute: `release` (the runner is paid as on a confirmation),
 * `partial_refund` with `refund_cents` (the hold less the refund is captured), or `full_refund`
 * (the hold is released). `booking.dispute_resolved` tells the payment service. The same
 * resolution asked again answers as the first; another one is a 409.
 */
export const resolve = action(DISPUTE_ACTIONS.resolve, async function (ctx) {
  const { id, outcome, refund_cents, note } = ctx.params;
  const caller = callerOf(ctx);
  const resolution: DisputeResolution = {
    outcome,
    ...(refund_cents === undefined ? {} : { refund_cents }),
    ...(note ? { note } : {}),
  };
  const booking = await bookingsOf(this).load(id);
  const problem = booking && refundProblem(resolution, booking.estimated_price_cents);
  if (problem) throw fieldError("refund_cents", problem);
  const command = disputeMove(this, "resolve", caller, { resolution });
  return toEntity(orThrow(await this.move(id, command)), caller);
});

/** Open disputes, newest first: the operations page's list, each with its report and photos. */
export const disputes = action(DISPUTE_ACTIONS.disputes, async function (ctx) {
  const { limit, cursor } = ctx.params;
  const rows = await this.models.bookings
    .find({ status: "disputed", ...afterCursor(cursor) }, { outbox: 0 })
    .sort(PAGE_SORT)
    .limit(limit + 1)
    .lean<BookingDoc[]>();
  const page = toPage(rows, limit);
  const caller = callerOf(ctx);
  return { items: page.items.map((doc) => toEntity(doc, caller)), next_cursor: page.next_cursor };
});
