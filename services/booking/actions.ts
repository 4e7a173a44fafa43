import { createHash, randomBytes, randomInt, randomUUID } from "node:crypto";
import { z } from "zod";
import { BOOKING_ACTIONS } from "../../contracts";
import { bookingsListedFor, maySeeBooking } from "../../domain/access";
import { decide, type BookingRequest } from "../../domain/booking";
import type { User } from "../../domain/access";
import type { LatLng } from "../../domain/geo";
import { bookingNumber } from "../../domain/booking-number";
import { estimatePrice, pricingPolicy } from "../../domain/pricing";
import { tripProblems, type TripProblem } from "../../domain/service-area";
import { actionsOf, callerOf, clientError, notFound, orThrow } from "../../lib/action";
import { PAGE_SORT, afterCursor, toPage } from "../../lib/pagination";
import { runtimeOf } from "../../lib/runtime";
import { validationError } from "../../lib/zod-validator";
import type { BookingDoc } from "../../models/booking.model";
import { bookingsOf, toEntity, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/**
 * Owner books a runner: stores the booking and `booking.requested` in one write. With an
 * `Idempotency-Key` the booking's id follows from the owner and the key, so an app that retries
 * after a timeout gets the booking its first try made (200), not a second one.
 */
export const create = action(BOOKING_ACTIONS.create, async function (ctx) {
  const owner = callerOf(ctx);
  const { serviceArea } = runtimeOf(this.broker).config;
  refuseTrip(tripProblems(serviceArea, ctx.params.pickup, ctx.params.dropoff));
  const key = ctx.meta.idempotencyKey;
  const id = key ? keyedId(owner, key) : randomUUID();
  if (key) {
    const earlier = await bookingsOf(this).load(id);
    if (earlier) return repeated(earlier, ctx.params);
  }
  const { pricing, paymentTimeoutMs, handover } = runtimeOf(this.broker).config;
  const policy = pricingPolicy(pricing);
  const price = estimatePrice(ctx.params.pickup, ctx.params.dropoff, ctx.params.pet_type, policy);
  const at = new Date();
  // A fresh id: nothing to load first. A booking-number collision (1 in ~1e9 per day) is a lost
  // race: the next try, a new number.
  const outcome = await bookingsOf(this).execute(
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
      paymentTimeoutMs,
      handover_pin: drawPin(handover.pinDigits),
    }),
    { retries: 2, known: null },
  );
  // The same key sent twice at once: the other request made it.
  const raced = !outcome.ok && key ? await bookingsOf(this).load(id) : null;
  if (raced) return repeated(raced, ctx.params);
  const booking = orThrow(outcome);
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/bookings/${id}`;
  return toEntity(booking);
});

/** The recipient's PIN: `digits` uniformly random digits (leading zeros kept). */
function drawPin(digits: number): string {
  return String(randomInt(0, 10 ** digits)).padStart(digits, "0");
}

/** A trip outside the service area is bad input: a 422 naming the field, as zod's would be. */
function refuseTrip(problems: TripProblem[]) {
  if (problems.length === 0) return;
  throw validationError(
    new z.ZodError(
      problems.map(({ field, message }) => ({ code: "custom", path: [field], message })),
    ),
  );
}

/** A UUID (version 8: custom) that one owner's key always maps to. */
function keyedId(owner: User, key: string): string {
  const hex = createHash("sha256").update(`${owner.role}\n${owner.sub}\n${key}`).digest("hex");
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The booking an earlier request with this key made; a key reused for another request is refused. */
function repeated(booking: BookingDoc, request: BookingRequest): ReturnType<typeof toEntity> {
  const same =
    booking.pet_type === request.pet_type &&
    booking.pet_name === request.pet_name &&
    (booking.notes ?? null) === (request.notes ?? null) &&
    samePlace(booking.pickup, request.pickup) &&
    samePlace(booking.dropoff, request.dropoff);
  if (!same) {
    throw clientError("CONFLICT", "This Idempotency-Key was used for another booking request");
  }
  return toEntity(booking);
}

const samePlace = (a: LatLng, b: LatLng) => a.lat === b.lat && a.lng === b.lng;

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
