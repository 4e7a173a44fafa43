import type { BookingEntity } from "../../contracts";
import type { System } from "./system";
import { eventually } from "./wait";

interface Point {
  lat: number;
  lng: number;
}

/**
 * A booking paid with the simulated provider, once its escrow is held (a runner may accept).
 * Asserts each step's status, so a broken step fails here rather than later.
 */
export async function heldBooking(
  system: System,
  owner: string,
  trip: { pickup: Point; dropoff: Point; pet_type?: string; pet_name?: string },
): Promise<BookingEntity> {
  const created = await system.api<BookingEntity>("POST", "/api/bookings", {
    token: owner,
    body: { pet_type: trip.pet_type ?? "dog", pet_name: trip.pet_name ?? "Rex", ...trip },
  });
  expect(created.status).toBe(201);
  const id = created.body.booking_id;
  const paid = await system.api("POST", `/api/bookings/${id}/payment`, { token: owner, body: {} });
  expect(paid.status).toBe(201);
  return eventually(
    async () => {
      const booking = await system.api<BookingEntity>("GET", `/api/bookings/${id}`, {
        token: owner,
      });
      return booking.body.payment_status === "held" ? booking.body : undefined;
    },
    { what: "escrow held" },
  );
}

/** Waits until the tracking service has started the booking's track (fixes count from then). */
export async function trackStarted(system: System, token: string, bookingId: string) {
  await eventually(
    async () =>
      (
        await system.api<{ status: string }>("GET", `/api/bookings/${bookingId}/track`, {
          token,
        })
      ).body.status === "active"
        ? true
        : undefined,
    { what: "the track to start" },
  );
}
