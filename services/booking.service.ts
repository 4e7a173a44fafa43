import { randomBytes, randomUUID } from "node:crypto";
import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import { latitude, longitude, petType } from "../events/schemas";
import { bookingNumber } from "../domain/booking-number";
import { estimatePrice } from "../domain/pricing";
import { actionsOf, callerOf, notFound } from "../lib/action";
import type { AuthUser } from "../lib/auth";
import { PAGE_SORT, PageParams, afterCursor, toPage } from "../lib/pagination";
import { toOutbox } from "../lib/outbox";
import { DomainEvents, type DomainEventsMethods } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { BOOKING_STATUSES, bookingModel, type BookingDoc } from "../models/booking.model";

const models = { bookings: bookingModel };

export const Point = z.object({ lat: latitude, lng: longitude }).strict();

export const CreateBookingParams = z
  .object({
    pet_type: petType,
    pet_name: z.string().trim().min(1).max(80),
    pickup: Point,
    dropoff: Point,
    notes: z.string().trim().max(500).optional(),
  })
  .strict();

export const GetBookingParams = z.object({ id: z.string().min(1).max(64) });

export const ListBookingsParams = z.object({
  status: z.enum(BOOKING_STATUSES).optional(),
  ...PageParams,
});

/** A booking as the API returns it. */
export interface BookingEntity {
  booking_id: string;
  booking_number: string;
  status: BookingDoc["status"];
  owner_id: string;
  runner_id: string | null;
  pet_type: string;
  pet_name: string;
  notes: string | null;
  pickup: { lat: number; lng: number };
  dropoff: { lat: number; lng: number };
  distance_km: number;
  estimated_price_cents: number;
  currency: string;
  payment_status: BookingDoc["payment_status"];
  created_at: string;
  updated_at: string;
}

type BookingThis = Service & MongoThis<typeof models> & DomainEventsMethods;
const action = actionsOf<BookingThis>();

function toEntity(doc: BookingDoc): BookingEntity {
  return {
    booking_id: doc._id,
    booking_number: doc.booking_number,
    status: doc.status,
    owner_id: doc.owner_id,
    runner_id: doc.runner_id,
    pet_type: doc.pet_type,
    pet_name: doc.pet_name,
    notes: doc.notes,
    pickup: { lat: doc.pickup.lat, lng: doc.pickup.lng },
    dropoff: { lat: doc.dropoff.lat, lng: doc.dropoff.lng },
    distance_km: doc.distance_km,
    estimated_price_cents: doc.estimated_price_cents,
    currency: doc.currency,
    payment_status: doc.payment_status,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}

/** Owners see their bookings, runners the ones assigned to them, admins all. */
function visibleTo(user: AuthUser): Record<string, unknown> {
  switch (user.role) {
    case "owner":
      return { owner_id: user.sub };
    case "runner":
      return { runner_id: user.sub };
    case "admin":
      return {};
  }
}

const BookingService: ServiceSchema<
  ServiceSettingSchema,
  DomainEventsMethods,
  MongoThis<typeof models>
> = {
  name: "booking",
  mixins: [
    DomainEvents({ source: "booking", outbox: ["bookings"] }),
    MongoMixin({ db: "booking", models }),
  ],

  actions: {
    /** Owner books a runner: stores the booking and `booking.requested` in one write. */
    create: action({
      roles: ["owner"],
      params: CreateBookingParams,
      async handler(ctx) {
        const owner = callerOf(ctx);
        const input = ctx.params;
        const price = estimatePrice(input.pickup, input.dropoff, input.pet_type);
        const now = new Date();
        const id = randomUUID();
        for (let attempt = 1; ; attempt++) {
          const number = bookingNumber(now, randomBytes);
          const requested = this.domainEvent("booking.requested", {
            booking_id: id,
            booking_number: number,
            owner_id: owner.sub,
            pet_type: input.pet_type,
            pet_name: input.pet_name,
            pickup_lat: input.pickup.lat,
            pickup_lng: input.pickup.lng,
            dropoff_lat: input.dropoff.lat,
            dropoff_lng: input.dropoff.lng,
            estimated_price_cents: price.amountCents,
            currency: price.currency,
            occurred_at: now.toISOString(),
          });
          try {
            const doc = await this.models.bookings.create({
              _id: id,
              booking_number: number,
              owner_id: owner.sub,
              runner_id: null,
              status: "requested",
              pet_type: input.pet_type,
              pet_name: input.pet_name,
              notes: input.notes ?? null,
              pickup: input.pickup,
              dropoff: input.dropoff,
              distance_km: price.distanceKm,
              estimated_price_cents: price.amountCents,
              currency: price.currency,
              payment_status: "unpaid",
              created_at: now,
              updated_at: now,
              outbox: toOutbox([requested]),
            });
            this.outboxRelay(this.models.bookings).flushSoon(id);
            ctx.meta.$statusCode = 201;
            ctx.meta.$location = `/api/bookings/${id}`;
            return toEntity(doc.toObject());
          } catch (error) {
            // A booking-number collision (1 in ~1e9 per day) gets a fresh number.
            const duplicate = (error as { code?: number }).code === 11000;
            if (!duplicate || attempt >= 3) throw error;
          }
        }
      },
    }),

    /** One booking, to its owner, its runner or an admin (404 to anyone else). */
    get: action({
      roles: ["owner", "runner", "admin"],
      params: GetBookingParams,
      async handler(ctx) {
        const doc = await this.models.bookings
          .findOne({ _id: ctx.params.id, ...visibleTo(callerOf(ctx)) }, { outbox: 0 })
          .lean<BookingDoc>();
        if (!doc) throw notFound("Booking");
        return toEntity(doc);
      },
    }),

    /** The caller's bookings, newest first, `limit` per page. */
    list: action({
      roles: ["owner", "runner", "admin"],
      params: ListBookingsParams,
      async handler(ctx) {
        const { status, limit, cursor } = ctx.params;
        const rows = await this.models.bookings
          .find(
            { ...visibleTo(callerOf(ctx)), ...(status ? { status } : {}), ...afterCursor(cursor) },
            {
              outbox: 0,
            },
          )
          .sort(PAGE_SORT)
          .limit(limit + 1)
          .lean<BookingDoc[]>();
        const page = toPage(rows, limit);
        return { items: page.items.map(toEntity), next_cursor: page.next_cursor };
      },
    }),
  },
};

export default BookingService;
