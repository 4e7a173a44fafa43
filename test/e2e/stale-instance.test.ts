import type { BookingEntity } from "../../contracts";
import { SERVICE_NAMES } from "../../lib/config";
import type { EventBus } from "../../adapters/event-bus";
import { createRuntime } from "../../lib/runtime";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";

const trip = {
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
};

/**
 * Two booking instances, each behind its own gateway (a gateway calls its local instance first).
 * Each remembers what it last wrote of a booking; the other may have moved it since.
 */
describeWithInfra(
  ["mongo", "redis"],
  "a repeat answered by an instance that is behind",
  (infra) => {
    let system: System;
    let bus: EventBus | undefined;

    beforeAll(async () => {
      system = await startSystem({
        infra: { mongo: infra.mongo, redis: infra.redis },
        processes: [[...SERVICE_NAMES], ["api", "booking"]],
        // One in-process bus for both: events reach whichever instance consumes them.
        busFor: (_services, config) => (bus ??= createRuntime(config).bus),
      });
    });
    afterAll(async () => {
      await system?.stop();
      await bus?.close();
    });

    const on =
      (gateway: number) =>
      (path: string, token: string, body: unknown = {}) =>
        fetch(`${system.gatewayUrls[gateway]}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }).then(async (response) => ({
          status: response.status,
          body: (await response.json()) as BookingEntity & { message?: string },
        }));

    it("refuses a runner's accept retried on the instance that accepted it, after the owner cancelled through the other (409, not 200 accepted)", async () => {
      const owner = system.token("owner", "owner-two-instances");
      const runner = system.token("runner", "runner-two-instances");
      const { booking_id: id } = await heldBooking(system, owner, trip);
      await verifiedRunner(system, runner);
      expect((await on(0)("/api/runners/me/online", runner, trip.pickup)).status).toBe(200);

      const accepted = await on(0)(`/api/bookings/${id}/accept`, runner);
      expect([accepted.status, accepted.body.status]).toEqual([200, "accepted"]);
      const cancelled = await on(1)(`/api/bookings/${id}/cancel`, owner, {
        reason: "plans changed",
      });
      expect([cancelled.status, cancelled.body.status]).toEqual([200, "cancelled"]);

      const retried = await on(0)(`/api/bookings/${id}/accept`, runner);
      expect([retried.status, retried.body.message]).toEqual([
        409,
        "A cancelled booking cannot be accepted",
      ]);
    });
  },
);
