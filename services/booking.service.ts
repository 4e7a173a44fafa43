import { randomBytes, randomUUID } from "node:crypto";
import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import { latitude, longitude, petType } from "../events/schemas";
import { bookingNumber } from "../domain/booking-number";
import {
  decide,
  eventOf,
  type Actor,
  type BookingCommand,
  type Decision,
} from "../domain/booking-lifecycle";
import { estimatePrice, pricingPolicy } from "../domain/pricing";
import type { DomainEvent } from "../events/envelope";
import { Errors } from "moleculer";
import { actionsOf, callerOf, conflict, notFound, type ActionContext } from "../lib/action";
import type { AuthUser } from "../lib/auth";
import { PAGE_SORT, PageParams, afterCursor, toPage } from "../lib/pagination";
import { ignoreDuplicateKey } from "../lib/mongo";
import { guardedUpdate, toOutbox } from "../lib/outbox";
import { runtimeOf } from "../lib/runtime";
import { DomainEvents, type DomainEventsMethods } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { BOOKING_STATUSES, bookingModel, type BookingDoc } from "../models/booking.model";
import { runnerLockModel, type RunnerLockDoc } from "../models/runner-lock.model";

const models = { bookings: bookingModel, runnerLocks: runnerLockModel };

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
export const CancelBookingParams = z.object({
  id: z.string().min(1).max(64),
  reason: z.string().trim().min(1).max(500),
});

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
  final_price_cents: number | null;
  cancel_reason: string | null;
  auto_confirm_at: string | null;
  created_at: string;
  updated_at: string;
}

interface BookingMethods {
  lockRunner(runnerId: string, bookingId: string): Promise<string | null>;
  takeOver(
    runnerId: string,
    lock: RunnerLockDoc,
    bookingId: string,
    token: string,
  ): Promise<boolean>;
  unlockRunner(runnerId: string, token: string): Promise<void>;
  applyCommand(
    id: string,
    command: BookingCommand,
    extra?: TransitionExtra,
  ): Promise<BookingEntity>;
  transitionEvent(
    doc: BookingDoc,
    decision: Extract<Decision, { ok: true }>,
    command: BookingCommand,
    at: Date,
    extra: TransitionExtra,
  ): DomainEvent;
  autoConfirmDue(): Promise<number>;
  onEscrowHeld(event: DomainEvent): Promise<void>;
  onPaymentFailed(event: DomainEvent): Promise<void>;
  onEscrowReleased(event: DomainEvent): Promise<void>;
  onEscrowRefunded(event: DomainEvent): Promise<void>;
}

interface BookingVars {
  autoConfirmTimer: NodeJS.Timeout | undefined;
}

interface TransitionExtra {
  reason?: string;
  finalPriceCents?: number;
}

type BookingThis = Service &
  MongoThis<typeof models> &
  DomainEventsMethods &
  BookingMethods &
  BookingVars;
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
    final_price_cents: doc.final_price_cents ?? null,
    cancel_reason: doc.cancel_reason ?? null,
    auto_confirm_at: doc.auto_confirm_at?.toISOString() ?? null,
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

const SYSTEM: Actor = { role: "system", sub: "system" };

/** A runner on one of these has its hands full: it may not accept another booking. */
const ACTIVE_STATUSES: BookingDoc["status"][] = ["accepted", "picked_up", "in_transit"];
/** An accept's slot whose booking is still `requested` after this long was a crashed call. */
const LOCK_GRACE_MS = 30_000;

/** The timestamp field each status sets. */
const STAMP: Partial<Record<BookingDoc["status"], keyof BookingDoc>> = {
  accepted: "accepted_at",
  picked_up: "picked_up_at",
  delivered: "delivered_at",
  confirmed: "confirmed_at",
  completed: "completed_at",
  cancelled: "cancelled_at",
};

/** A runner may look at (and accept) any open booking; otherwise only participants see one. */
function mayLookAt(actor: Actor, doc: BookingDoc): boolean {
  return (
    actor.role === "admin" ||
    actor.sub === doc.owner_id ||
    actor.sub === doc.runner_id ||
    (actor.role === "runner" && doc.status === "requested")
  );
}

/** The REST actions that move a booking: one per command, all the same shape. */
const transitionAction = (
  type: Exclude<BookingCommand["type"], "complete" | "cancel">,
  roles: ("owner" | "runner" | "admin")[],
) =>
  action({
    roles,
    params: GetBookingParams,
    async handler(ctx: ActionContext<z.output<typeof GetBookingParams>>) {
      return this.applyCommand(ctx.params.id, { type, actor: callerOf(ctx) });
    },
  });

const BookingService: ServiceSchema<
  ServiceSettingSchema,
  DomainEventsMethods & BookingMethods,
  MongoThis<typeof models> & BookingVars
> = {
  name: "booking",
  mixins: [
    DomainEvents({
      source: "booking",
      outbox: ["bookings"],
      consume: {
        "service-booking-payments": {
          "payment.escrow_held": "onEscrowHeld",
          "payment.failed": "onPaymentFailed",
          "payment.escrow_released": "onEscrowReleased",
          "payment.escrow_refunded": "onEscrowRefunded",
        },
      },
    }),
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
        const policy = pricingPolicy(runtimeOf(this.broker).config.pricing);
        const price = estimatePrice(input.pickup, input.dropoff, input.pet_type, policy);
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
              final_price_cents: null,
              accepted_at: null,
              picked_up_at: null,
              delivered_at: null,
              confirmed_at: null,
              completed_at: null,
              cancelled_at: null,
              cancelled_by: null,
              cancel_reason: null,
              auto_confirm_at: null,
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
        // By id, or by its human-readable number (KLT-…), as support staff quote it.
        const doc = ctx.params.id.startsWith("KLT-")
          ? await this.models.bookings
              .findOne({ booking_number: ctx.params.id }, { outbox: 0 })
              .lean<BookingDoc>()
          : await this.models.bookings.findById(ctx.params.id, { outbox: 0 }).lean<BookingDoc>();
        if (!doc || !mayLookAt(callerOf(ctx), doc)) throw notFound("Booking");
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

    /** A runner takes the booking; 409 if another was faster or the escrow is not held yet. */
    accept: transitionAction("accept", ["runner"]),
    /** Its runner has the pet. */
    pickup: transitionAction("pickup", ["runner"]),
    /** Its runner is on the way. */
    depart: transitionAction("depart", ["runner"]),
    /** Its runner handed the pet over; the owner is asked to confirm. */
    deliver: transitionAction("deliver", ["runner"]),
    /** The owner confirms delivery: the escrow is captured, then the booking completes. */
    confirm: transitionAction("confirm", ["owner", "admin"]),

    /** The owner or its runner calls it off before pickup; the escrow is released. */
    cancel: action({
      roles: ["owner", "runner", "admin"],
      params: CancelBookingParams,
      async handler(ctx) {
        return this.applyCommand(
          ctx.params.id,
          { type: "cancel", actor: callerOf(ctx) },
          { reason: ctx.params.reason },
        );
      },
    }),
  },

  started() {
    const { autoConfirmAfterMs } = runtimeOf(this.broker).config;
    // A quarter of the window, between 100 ms (tests) and 30 s (a 24 h window needs no more).
    const every = Math.min(30_000, Math.max(100, Math.floor(autoConfirmAfterMs / 4)));
    const tick = () => {
      this.autoConfirmDue()
        .catch((error: unknown) => this.logger.warn("auto-confirm sweep failed", error))
        .finally(() => {
          if (this.autoConfirmTimer) this.autoConfirmTimer = setTimeout(tick, every).unref();
        });
    };
    this.autoConfirmTimer = setTimeout(tick, every).unref();
  },

  stopped() {
    clearTimeout(this.autoConfirmTimer);
    this.autoConfirmTimer = undefined;
  },

  methods: {
    /**
     * Load → decide (pure) → one write guarded on the status decided from, carrying the
     * transition's event. A lost race finds the status changed and answers 409.
     */
    async applyCommand(id: string, command: BookingCommand, extra: TransitionExtra = {}) {
      const doc = await this.models.bookings.findById(id, { outbox: 0 }).lean<BookingDoc>();
      // Any runner may try to accept (and hears 409 when another was faster); otherwise only
      // those who may see a booking learn that it exists.
      const mayTry =
        command.actor.role === "system" ||
        (command.type === "accept" && command.actor.role === "runner") ||
        (doc !== null && mayLookAt(command.actor, doc));
      if (!doc || !mayTry) throw notFound("Booking");
      const decision = decide(doc, command);
      if (!decision.ok) {
        switch (decision.reason) {
          case "forbidden":
            throw new Errors.MoleculerClientError("Not allowed for this booking", 403, "FORBIDDEN");
          case "illegal_transition":
            throw conflict(
              `A ${decision.from} booking cannot be ${command.type === "accept" ? "accepted" : `${command.type}ed`}`,
              {
                status: decision.from,
              },
            );
          case "not_payable":
            throw conflict("The escrow for this booking is not held yet", {
              payment_status: doc.payment_status,
            });
        }
      }
      let lockToken: string | null = null;
      if (command.type === "accept") {
        lockToken = await this.lockRunner(command.actor.sub, id);
        if (lockToken === null)
          throw conflict("Finish your current booking before accepting another");
      }
      const at = new Date();
      const set: Record<string, unknown> = {
        status: decision.to,
        runner_id: decision.runner_id,
        updated_at: at,
      };
      const stamp = STAMP[decision.to];
      if (stamp) set[stamp] = at;
      if (decision.to === "delivered") {
        set.auto_confirm_at = new Date(
          at.getTime() + runtimeOf(this.broker).config.autoConfirmAfterMs,
        );
      }
      if (decision.to === "confirmed") set.auto_confirm_at = null;
      if (decision.to === "cancelled") {
        set.cancelled_by = command.actor.sub;
        set.cancel_reason = extra.reason ?? "cancelled";
      }
      if (decision.to === "completed") {
        set.final_price_cents = extra.finalPriceCents ?? doc.estimated_price_cents;
        set.payment_status = "released";
      }
      const event = this.transitionEvent(doc, decision, command, at, extra);
      const guard: Record<string, unknown> = { _id: id, status: decision.from };
      if (command.type === "accept")
        Object.assign(guard, { runner_id: null, payment_status: "held" });
      const updated = await guardedUpdate(this.models.bookings, guard, set, [event]);
      if (!updated) {
        if (lockToken) await this.unlockRunner(command.actor.sub, lockToken);
        throw conflict("The booking changed meanwhile; reload it", { status: "changed" });
      }
      // The runner's hands are free again once the pet is handed over or the trip is off.
      if (doc.runner_id && (decision.to === "delivered" || decision.to === "cancelled")) {
        await this.models.runnerLocks.deleteOne({ _id: doc.runner_id, booking_id: id });
      }
      this.outboxRelay(this.models.bookings).flushSoon(id);
      // Watchers of the trip hear it at once; best effort (the event stream is the record).
      this.broker
        .emit("live.booking", { booking_id: id, status: decision.to })
        .catch((error: unknown) => this.logger.warn("live push failed", error));
      return toEntity(updated);
    },

    /**
     * Takes the runner's one active-booking slot for this accept call: an insert keyed by the
     * runner, so of two accepts at the same moment (two bookings, or a double tap) one wins.
     * Returns the call's token, or null. A slot is taken over only from a booking that is over,
     * or from an accept that never finished (still `requested` after LOCK_GRACE_MS).
     */
    async lockRunner(runnerId: string, bookingId: string) {
      const token = randomUUID();
      const take = () =>
        this.models.runnerLocks.create({
          _id: runnerId,
          booking_id: bookingId,
          token,
          taken_at: new Date(),
        });
      try {
        await take();
        return token;
      } catch (error) {
        ignoreDuplicateKey(error);
      }
      const lock = await this.models.runnerLocks.findById(runnerId).lean<RunnerLockDoc>();
      // Released meanwhile, or a second tap on the same booking: this call does not get it.
      if (!lock || lock.booking_id === bookingId) return null;
      const holder = await this.models.bookings
        .findById(lock.booking_id, { status: 1, runner_id: 1 })
        .lean<Pick<BookingDoc, "status" | "runner_id">>();
      const over =
        !holder ||
        !["requested", ...ACTIVE_STATUSES].includes(holder.status) ||
        (holder.runner_id !== null && holder.runner_id !== runnerId) ||
        (holder.status === "requested" && Date.now() - lock.taken_at.getTime() >= LOCK_GRACE_MS);
      if (!over) return null;
      return (await this.takeOver(runnerId, lock, bookingId, token)) ? token : null;
    },

    async takeOver(runnerId: string, lock: RunnerLockDoc, bookingId: string, token: string) {
      const taken = await this.models.runnerLocks.updateOne(
        { _id: runnerId, token: lock.token },
        { $set: { booking_id: bookingId, token, taken_at: new Date() } },
      );
      return taken.modifiedCount > 0;
    },

    /** An accept that lost its race gives back the slot it took, and only that one. */
    async unlockRunner(runnerId: string, token: string) {
      await this.models.runnerLocks.deleteOne({ _id: runnerId, token });
    },

    transitionEvent(
      doc: BookingDoc,
      decision: Extract<Decision, { ok: true }>,
      command: BookingCommand,
      at: Date,
      extra: TransitionExtra,
    ) {
      const base = {
        booking_id: doc._id,
        booking_number: doc.booking_number,
        occurred_at: at.toISOString(),
      };
      const runner_id = decision.runner_id ?? "";
      const iso = (date: Date | null) => (date ?? at).toISOString();
      const type = eventOf(decision.to);
      switch (type) {
        case "booking.accepted":
          return this.domainEvent(type, { ...base, runner_id, owner_id: doc.owner_id });
        case "booking.pet_picked_up":
          return this.domainEvent(type, {
            ...base,
            runner_id,
            owner_id: doc.owner_id,
            picked_up_at: at.toISOString(),
          });
        case "booking.delivery_in_progress":
          return this.domainEvent(type, {
            ...base,
            runner_id,
            owner_id: doc.owner_id,
            picked_up_at: iso(doc.picked_up_at),
          });
        case "booking.delivered":
          return this.domainEvent(type, {
            ...base,
            runner_id,
            owner_id: doc.owner_id,
            delivered_at: at.toISOString(),
          });
        case "booking.delivery_confirmed":
          return this.domainEvent(type, {
            ...base,
            runner_id,
            owner_id: doc.owner_id,
            delivered_at: iso(doc.delivered_at),
          });
        case "booking.completed":
          return this.domainEvent(type, {
            ...base,
            runner_id,
            owner_id: doc.owner_id,
            final_price_cents: extra.finalPriceCents ?? doc.estimated_price_cents,
            currency: doc.currency,
          });
        case "booking.cancelled":
          return this.domainEvent(type, {
            ...base,
            cancelled_by: command.actor.sub,
            reason: extra.reason ?? "cancelled",
          });
        case "booking.requested":
          throw new Error("booking.requested is not a transition");
      }
    },

    /** Confirms, for their owners, delivered bookings whose confirmation window has passed. */
    async autoConfirmDue() {
      const due = await this.models.bookings
        .find({ status: "delivered", auto_confirm_at: { $lte: new Date() } }, { _id: 1 })
        .limit(100)
        .lean<{ _id: string }[]>();
      let confirmed = 0;
      for (const { _id } of due) {
        try {
          await this.applyCommand(_id, { type: "confirm", actor: SYSTEM });
          confirmed++;
        } catch (error) {
          // Another instance, or the owner, got there first.
          if ((error as { code?: number }).code !== 409) throw error;
        }
      }
      return confirmed;
    },

    async onEscrowHeld(event: DomainEvent) {
      const data = event.data as DomainEvent<"payment.escrow_held">["data"];
      await this.models.bookings.updateOne(
        {
          _id: data.booking_id,
          status: { $ne: "cancelled" },
          payment_status: { $in: ["unpaid", "pending", "failed"] },
        },
        { $set: { payment_status: "held", updated_at: new Date() } },
      );
    },

    async onPaymentFailed(event: DomainEvent) {
      const data = event.data as DomainEvent<"payment.failed">["data"];
      await this.models.bookings.updateOne(
        { _id: data.booking_id, payment_status: { $in: ["unpaid", "pending", "held"] } },
        { $set: { payment_status: "failed", updated_at: new Date() } },
      );
    },

    async onEscrowRefunded(event: DomainEvent) {
      const data = event.data as DomainEvent<"payment.escrow_refunded">["data"];
      await this.models.bookings.updateOne(
        { _id: data.booking_id },
        { $set: { payment_status: "refunded", updated_at: new Date() } },
      );
    },

    /** The escrow was captured and split: the booking completes with its final price. */
    async onEscrowReleased(event: DomainEvent) {
      const data = event.data as DomainEvent<"payment.escrow_released">["data"];
      try {
        await this.applyCommand(
          data.booking_id,
          { type: "complete", actor: SYSTEM },
          { finalPriceCents: data.runner_payout_cents + data.platform_fee_cents },
        );
      } catch (error) {
        if ((error as { code?: number }).code !== 409) throw error; // already completed: a repeat
      }
    },
  },
};

export default BookingService;
