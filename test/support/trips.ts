import type { Model } from "mongoose";
import type { BookingEntity } from "../../contracts";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerDoc } from "../../models/runner.model";
import type { Client, System } from "./system";
import { eventually } from "./wait";

interface Point {
  lat: number;
  lng: number;
}

/**
 * A booking paid with the simulated provider, once its escrow is held (a runner may accept).
 * Asserts each step's status, so a broken step fails here rather than later.
 */
export function heldBooking(
  system: System,
  owner: string,
  trip: { pickup: Point; dropoff: Point; pet_type?: string; pet_name?: string },
): Promise<BookingEntity> {
  return heldBookingOf(system, owner, {
    pet_type: trip.pet_type ?? "dog",
    pet_name: trip.pet_name ?? "Rex",
    ...trip,
  });
}

/** `heldBooking` of the owner's pet profiles (`pet_ids`), or of any body POST /api/bookings takes. */
export async function heldBookingOf(
  system: System,
  owner: string,
  body: { pickup: Point; dropoff: Point } & Record<string, unknown>,
): Promise<BookingEntity> {
  const created = await system.api<BookingEntity>("POST", "/api/bookings", { token: owner, body });
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

/**
 * The runner's record of its active trip as if accepted `ms` ago. Fixes naming a booking count
 * from its acceptance, and a test of a buffered stretch cannot wait the minutes it spans. Call it
 * before the runner's first fix naming the booking (the runner service keeps what it read).
 */
export async function acceptedAgo(system: System, runnerId: string, ms: number) {
  const service = system.brokers
    .map((broker) => broker.getLocalService("runner"))
    .find((local) => local !== undefined) as unknown as
    { models: { runners: Model<RunnerDoc> } } | undefined;
  if (!service) throw new Error("no runner service in this test process");
  await service.models.runners.updateOne(
    { _id: runnerId },
    { $set: { active_since: new Date(Date.now() - ms) } },
  );
}

/** A paid booking's dispatch as the runner service's store holds it, searching since `since`. */
export function searchingDispatch(
  dispatches: Model<DispatchDoc>,
  id: string,
  pickup: Point,
  since: Date,
) {
  return dispatches.create({
    _id: id,
    pickup,
    escrow_held: true,
    status: "searching",
    runner_id: null,
    offer_expires_at: null,
    tried: [],
    created_at: since,
    updated_at: since,
  });
}

/**
 * The runner's fix at `point`, sent a moment after its last one (the speed between them stays
 * possible), once the tracking service has it as the track's last position.
 */
export async function fixRecordedAt(
  system: Client,
  runner: string,
  bookingId: string,
  point: { lat: number; lng: number },
  timeoutMs?: number,
) {
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const fix = { ...point, timestamp: new Date().toISOString(), booking_id: bookingId };
  const sent = await system.api("POST", "/api/runners/me/location", { token: runner, body: fix });
  expect(sent.status).toBe(202);
  await eventually(
    async () => {
      const track = await system.api<{ waypoints: { lat: number; lng: number }[] }>(
        "GET",
        `/api/bookings/${bookingId}/track`,
        { token: runner },
      );
      const last = track.body.waypoints.at(-1);
      return last?.lat === point.lat && last.lng === point.lng ? true : undefined;
    },
    { what: `the runner's fix at ${point.lat},${point.lng}`, ...(timeoutMs ? { timeoutMs } : {}) },
  );
}
