import { needsOfRequest, type DispatchStep } from "../../domain/dispatch";
import { dispatchStartsAt } from "../../domain/schedule";
import { runtimeOf } from "../../lib/runtime";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import { commandDispatch, commandRunner, releaseOffer } from "./commands";
import type { RunnerThis } from "./models";
import { tryDispatch } from "./offer-round";
import { takeBooking } from "./offers";
import { countRating } from "./ratings";

/** Dispatch starts once both halves are known, whichever event came first. */
async function noteReady(service: RunnerThis, bookingId: string, step: DispatchStep, known?: null) {
  const noted = await commandDispatch(service, bookingId, step, known);
  if (noted.ok && noted.state.status === "searching")
    await tryDispatch(service, bookingId, noted.state);
}

/** The booking and payment services' events (groups service-runner-bookings, -payments). */
export const bookingEvents: EventHandlers<RunnerThis> = {
  async "booking.requested"(event) {
    const { booking_id, booking_number, owner_id, pickup_lat, pickup_lng, pickup_at } = event.data;
    const needs = needsOfRequest(event.data);
    // A booking made ahead is offered only from DISPATCH_LEAD_MINUTES before its pickup.
    const { schedule } = runtimeOf(this.broker).config;
    const startsAt = dispatchStartsAt(pickup_at ? new Date(pickup_at) : null, schedule);
    // The booking's first event, so its dispatch is created, not read first: when the escrow's
    // event came first (or this is a repeat), the insert finds it there and it is read then.
    await noteReady(
      this,
      booking_id,
      {
        type: "pickup_known",
        pickup: { lat: pickup_lat, lng: pickup_lng },
        booking_number,
        owner_id,
        ...(needs ? { needs } : {}),
        ...(startsAt ? { starts_at: startsAt } : {}),
      },
      null,
    );
  },

  /** The booking is taken (by the offered runner or another): dispatch ends, runner is busy. */
  async "booking.accepted"(event) {
    const { booking_id, runner_id } = event.data;
    const accepted = await commandDispatch(this, booking_id, { type: "accepted", runner_id });
    const offeredTo =
      accepted.ok && accepted.before?.status === "offered" ? accepted.before.runner_id : null;
    if (offeredTo && offeredTo !== runner_id) await releaseOffer(this, offeredTo, booking_id);
    // The accept claimed the runner already (runner.claim), so this is mostly a repeat. It is
    // kept as the repair of a runner that is not busy on an accepted booking (a claim given back
    // by a call that lost meanwhile, an accept made before claims existed), but it takes only a
    // runner on no other booking: late, this event must not pull a runner off its next trip.
    await takeBooking(this, runner_id, booking_id, new Date(), "event");
  },

  /** The pet is handed over: the runner is free for the next job. */
  async "booking.delivered"(event) {
    const { booking_id, runner_id } = event.data;
    await commandDispatch(this, booking_id, { type: "closed" });
    await commandRunner(this, runner_id, { type: "free", booking_id, at: new Date() });
    // Its fixes naming the booking are no longer trip fixes here (elsewhere: after tripTrustMs).
    this.trips.delete(runner_id);
  },

  async "booking.cancelled"(event) {
    await ended(this, event.data.booking_id);
  },

  /** Unpaid by its deadline; a hold that lands as it expires may have started dispatch. */
  async "booking.expired"(event) {
    await ended(this, event.data.booking_id);
  },

  /**
   * Nobody came. At the pickup the booking ended: its runner is free. At the drop-off the runner
   * stays on it while it brings the pet back (returning); held for operations, it is free.
   */
  async "booking.no_show"(event) {
    const { booking_id, runner_id, outcome } = event.data;
    if (outcome === "cancelled") await ended(this, booking_id);
    else if (outcome === "ops") await freed(this, booking_id, runner_id);
  },

  /** The pet is back at the pickup: the runner is free for the next job. */
  async "booking.returned"(event) {
    await freed(this, event.data.booking_id, event.data.runner_id);
  },

  /** An owner's rating of its runner, once shown: it counts in the runner's average. */
  async "booking.rated"(event) {
    await countRating(this, event);
  },
};

/** The runner's hands are free of the booking: dispatch closes it and the runner is free. */
async function freed(service: RunnerThis, bookingId: string, runnerId: string): Promise<void> {
  await commandDispatch(service, bookingId, { type: "closed" });
  await commandRunner(service, runnerId, { type: "free", booking_id: bookingId, at: new Date() });
  service.trips.delete(runnerId);
}

/** A booking that will not go ahead: no more offers, and its runner (if one had it) is free. */
async function ended(service: RunnerThis, bookingId: string): Promise<void> {
  const cancelled = await commandDispatch(service, bookingId, { type: "cancelled" });
  const runnerId = cancelled.ok ? cancelled.before?.runner_id : null;
  if (!runnerId) return;
  await releaseOffer(service, runnerId, bookingId);
  await commandRunner(service, runnerId, { type: "free", booking_id: bookingId, at: new Date() });
  service.trips.delete(runnerId);
}

export const paymentEvents: EventHandlers<RunnerThis> = {
  async "payment.escrow_held"(event) {
    await noteReady(this, event.data.booking_id, { type: "escrow_held" });
  },
};
