import { randomBytes, randomUUID } from "node:crypto";
import type { ActionSchema } from "moleculer";
import { BOOKING_ACTIONS } from "../../contracts";
import { bookingsListedFor, maySeeBooking } from "../../domain/access";
import { decide } from "../../domain/booking";
import { bookingNumber } from "../../domain/booking-number";
import { estimatePrice, pricingPolicy } from "../../domain/pricing";
import { actionsOf, callerOf, notFound, orThrow } from "../../lib/action";
import { PAGE_SORT, afterCursor, toPage } from "../../lib/pagination";
import { runtimeOf } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import { bookingsOf, toEntity, type BookingThis } from "./context";
import { transition, type Transition } from "./transitions";

const action = actionsOf<BookingThis>();

/** Owner books a runner: stores the booking and `booking.requested` in one write. */
export const create = action(BOOKING_ACTIONS.create, async function (ctx) {
  const owner = callerOf(ctx);
  const policy = pricingPolicy(runtimeOf(this.broker).config.pricing);
  const price = estimatePrice(ctx.params.pickup, ctx.params.dropoff, ctx.params.pet_type, policy);
  const at = new Date();
  const id = randomUUID();
  // A fresh id: nothing to load first. A booking-number collision (1 in ~1e9 per day) is a lost
  // race: the next try, a new number.
  const booking = orThrow(
    await bookingsOf(this).execute(
      id,
      decide,
      () => ({
        type: "request" as const,
        id,
        booking_number: bookingNumber(at, randomBytes),
        owner,
        request: ctx.params,
        price,
        at,
      }),
      2,
      null,
    ),
  );
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/bookings/${id}`;
  return toEntity(booking);
});

/** One booking, to whoever may see it (404 to anyone else); by id or by its KLT- number. */
export const get = action(BOOKING_ACTIONS.get, async function (ctx) {
  const { id } = ctx.params;
  const doc = id.startsWith("KLT-")
    ? await this.models.bookings.findOne({ booking_number: id }, { outbox: 0 }).lean<BookingDoc>()
    : await bookingsOf(this).load(id);
  if (!doc || !maySeeBooking(callerOf(ctx), doc)) throw notFound("Booking");
  return toEntity(doc);
});

/** The caller's bookings, newest first, `limit` per page. */
export const list = action(BOOKING_ACTIONS.list, async function (ctx) {
  const { status, limit, cursor } = ctx.params;
  const filter = {
    ...bookingsListedFor(callerOf(ctx)),
    ...(status ? { status } : {}),
    ...afterCursor(cursor),
  };
  const rows = await this.models.bookings
    .find(filter, { outbox: 0 })
    .sort(PAGE_SORT)
    .limit(limit + 1)
    .lean<BookingDoc[]>();
  const page = toPage(rows, limit);
  return { items: page.items.map(toEntity), next_cursor: page.next_cursor };
});

/** A move through the public API: one per command, all the same shape. */
const move = (
  type: "accept" | "pickup" | "depart" | "deliver" | "confirm",
): ActionSchema<BookingThis> =>
  action(BOOKING_ACTIONS[type], async function (ctx) {
    const actor = callerOf(ctx);
    const at = new Date();
    const command: Transition =
      type === "deliver"
        ? { type, actor, at, autoConfirmAfterMs: runtimeOf(this.broker).config.autoConfirmAfterMs }
        : { type, actor, at };
    return toEntity(orThrow(await transition(this, ctx.params.id, command)));
  });

export const accept = move("accept");
export const pickup = move("pickup");
export const depart = move("depart");
export const deliver = move("deliver");
export const confirm = move("confirm");

/** The owner, its runner or an admin calls it off before pickup; the escrow is released. */
export const cancel = action(BOOKING_ACTIONS.cancel, async function (ctx) {
  const { id, reason } = ctx.params;
  const command: Transition = { type: "cancel", actor: callerOf(ctx), at: new Date(), reason };
  return toEntity(orThrow(await transition(this, id, command)));
});
