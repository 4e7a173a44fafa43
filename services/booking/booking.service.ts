import { BOOKING_TUNING } from "../../config/tuning";
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { DomainMixins } from "../../mixins/domain-events.mixin";
import { Periodic } from "../../mixins/periodic.mixin";
import * as actions from "./actions";
import { models, type BookingThis } from "./context";
import { autoConfirmDue, expireUnpaid, paymentEvents } from "./saga";

/** A deadline sweep runs every quarter of its window, within its bounds: none is late by more. */
const quarterOf = (windowMs: number, { min, max }: { min: number; max: number }) =>
  Math.min(max, Math.max(min, Math.floor(windowMs / 4)));

/**
 * Bookings: an owner's request, its moves through the state machine (domain/booking.ts), and
 * what the escrow saga reports back. Each move is one write guarded on what it was decided from,
 * carrying its event in the booking's outbox (services/booking/transitions.ts).
 */
const BookingService: ServiceSchema<ServiceSettingSchema, object, object, BookingThis> = {
  name: "booking",
  mixins: [
    Periodic<BookingThis>({
      autoConfirm: {
        everyMs: ({ autoConfirmAfterMs }) =>
          quarterOf(autoConfirmAfterMs, BOOKING_TUNING.autoConfirmSweepMs),
        run: autoConfirmDue,
      },
      paymentExpiry: {
        everyMs: ({ paymentTimeoutMs }) =>
          quarterOf(paymentTimeoutMs, BOOKING_TUNING.paymentExpirySweepMs),
        run: expireUnpaid,
      },
    }),
    ...DomainMixins<BookingThis, typeof models>({
      db: "booking",
      models,
      // Every handler is a command decided on the booking's state: a repeated payment event
      // finds it recorded (or the booking completed) and changes nothing.
      deduplicate: false,
      outbox: ["bookings"],
      consume: { "service-booking-payments": paymentEvents },
    }),
  ],

  actions: {
    /** Owner books a runner: `booking.requested`. */
    create: actions.create,
    /** One booking, to whoever may see it. */
    get: actions.get,
    /** The caller's bookings, newest first. */
    list: actions.list,
    /** A runner takes the booking; 409 if another was faster or the escrow is not held yet. */
    accept: actions.accept,
    /** Its runner has the pet. */
    pickup: actions.pickup,
    /** Its runner is on the way. */
    depart: actions.depart,
    /** Its runner handed the pet over; the owner is asked to confirm. */
    deliver: actions.deliver,
    /** The owner confirms delivery: the escrow is captured, then the booking completes. */
    confirm: actions.confirm,
    /** Called off before pickup; the escrow is released. */
    cancel: actions.cancel,
  },
};

export default BookingService;
