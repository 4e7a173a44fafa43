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
    const { booking_id, booking_number, runner_id } = event.data;
    const trackId = trackIdOf(booking_id);
    const last = await this.models.waypoints
      .findOne({ track_id: trackId })
      .sort({ recorded_at: -1 })
      .lean<WaypointDoc>();
    await commandTrack(this, trackId, {
      type: "complete",
      runner_id,
      booking_number,
      total_distance_km: round3(last?.total_distance_km ?? 0),
      at: new Date(),
    });
    forgetTrackEverywhere(this, booking_id, runner_id);
  },

  /** The trip ends with the booking; so does a welfare watch (an open alert clears). */
  async "booking.cancelled"(event) {
    const { booking_id } = event.data;
    await commandTrack(this, trackIdOf(booking_id), { type: "cancel", at: new Date() });
    forgetTrackEverywhere(this, booking_id);
  },
};
