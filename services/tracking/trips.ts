import { decide, trackIdOf, type TrackCommand } from "../../domain/track";
import type { Outcome } from "../../lib/aggregate";
import type { EventHandlers } from "../../mixins/domain-events.mixin";
import type { TrackDoc, WaypointDoc } from "../../models/track.model";
import { round3 } from "./distance";
import type { TrackingThis } from "./models";
import { forgetTrackEverywhere } from "./track-cache";

/** One command to a booking's track, decided on what is stored (a repeat changes nothing). */
export function commandTrack(
  service: TrackingThis,
  trackId: string,
  command: TrackCommand,
): Promise<Outcome<TrackDoc>> {
  return service.aggregate(service.models.tracks, "track").execute(trackId, decide, () => command);
}

/**
 * A booking's trip follows the booking (domain/track.ts): each handler is one command to the
 * track `trk-<booking>`, decided on its status, so a repeated event changes nothing. Every move
 * tells each instance to drop its cached copy (the fix path judges against the cache).
 */
export const bookingEvents: EventHandlers<TrackingThis> = {
  /** The drop-off is known from the request on: the ETA needs it. The trip's events name the pet. */
  async "booking.requested"(event) {
    const { booking_id, owner_id, dropoff_lat, dropoff_lng, pet_name } = event.data;
    const dropoff = { lat: dropoff_lat, lng: dropoff_lng };
    await commandTrack(this, trackIdOf(booking_id), {
      type: "open",
      booking_id,
      owner_id,
      dropoff,
      pet_name,
      at: new Date(),
    });
  },

  /** A runner took the booking: the trip starts, `tracking.started`. */
  async "booking.accepted"(event) {
    const { booking_id, booking_number, owner_id, runner_id } = event.data;
    const trackId = trackIdOf(booking_id);
    const at = new Date();
    const start = { type: "start", runner_id, booking_number, at } as const;
    const started = await commandTrack(this, trackId, start);
    // Same partition as the request, so its track exists — unless it predates this service.
    if (!started.ok && started.rejection.kind === "not_found") {
      await commandTrack(this, trackId, {
        type: "open",
        booking_id,
        owner_id,
        dropoff: null,
        pet_name: event.data.pet_name,
        at,
      });
      await commandTrack(this, trackId, start);
    }
    forgetTrackEverywhere(this, booking_id, runner_id);
  },

  /** The pet is aboard: the welfare watch starts (domain/welfare.ts). */
  async "booking.pet_picked_up"(event) {
    const { booking_id, booking_number, runner_id } = event.data;
    await commandTrack(this, trackIdOf(booking_id), {
      type: "pickup",
      runner_id,
      booking_number,
      at: new Date(),
    });
    // The fix path reloads the track with its watch.
    forgetTrackEverywhere(this, booking_id, runner_id);
  },

  /**
   * The pet is handed over: the runner is free, its next fixes belong to its next trip. The
   * welfare watch ends (an open alert clears: `tracking.resumed`).
   */
  async "booking.delivered"(event) {
    const { booking_id, runner_id } = event.data;
    await commandTrack(this, trackIdOf(booking_id), { type: "deliver", at: new Date() });
    forgetTrackEverywhere(this, booking_id, runner_id);
  },

  /** The owner confirmed: the trip is over, `tracking.completed` with its distance. */
  async "booking.delivery_confirmed"(event) {
    await completeTrip(this, event.data);
  },

  /**
   * An admin resolved the owner's dispute: whatever the outcome (the runner paid, part or all of
   * the money refunded), the trip itself happened, so it completes as on a confirmation. Once: a
   * completed track takes no second `complete`.
   */
  async "booking.dispute_resolved"(event) {
    await completeTrip(this, event.data);
  },

  /** The trip ends with the booking; so does a welfare watch (an open alert clears). */
  async "booking.cancelled"(event) {
    const { booking_id } = event.data;
    await commandTrack(this, trackIdOf(booking_id), { type: "cancel", at: new Date() });
    forgetTrackEverywhere(this, booking_id);
  },

  /**
   * Nobody came. At the pickup the trip ends with the booking. At the drop-off, with the pet on
   * its way back (returning), the track takes the return leg's fixes and keeps its welfare
   * watch; held for operations, it takes no more (the admin's resolution completes it).
   */
  async "booking.no_show"(event) {
    const { booking_id, runner_id, outcome } = event.data;
    if (outcome === "returning") return;
    const at = new Date();
    await commandTrack(
      this,
      trackIdOf(booking_id),
      outcome === "cancelled" ? { type: "cancel", at } : { type: "deliver", at },
    );
    forgetTrackEverywhere(this, booking_id, runner_id);
  },

  /** The pet is back at the pickup: the watch ends, and the trip, both legs, completes. */
  async "booking.returned"(event) {
    const at = new Date();
    await commandTrack(this, trackIdOf(event.data.booking_id), { type: "deliver", at });
    await completeTrip(this, event.data);
  },
};

/** The trip is over: `tracking.completed` with the distance of its last waypoint. */
async function completeTrip(
  service: TrackingThis,
  booking: { booking_id: string; booking_number: string; runner_id: string },
) {
  const { booking_id, booking_number, runner_id } = booking;
  const trackId = trackIdOf(booking_id);
  const last = await service.models.waypoints
    .findOne({ track_id: trackId })
    .sort({ recorded_at: -1 })
    .lean<WaypointDoc>();
  await commandTrack(service, trackId, {
    type: "complete",
    runner_id,
    booking_number,
    total_distance_km: round3(last?.total_distance_km ?? 0),
    at: new Date(),
  });
  forgetTrackEverywhere(service, booking_id, runner_id);
}
