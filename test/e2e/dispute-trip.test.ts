import type { BookingEntity } from "../../contracts";
import { fromWire, type DomainEvent } from "../../events/envelope";
import { runtimeOf } from "../../lib/runtime";
import type { TrackingThis } from "../../services/tracking/models";
import { bookingEvents } from "../../services/tracking/trips";
import { describeWithInfra } from "../support/infra";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };

/**
 * A disputed booking never has its delivery confirmed: its trip completes when an admin resolves
 * the dispute, whatever the outcome (the trip itself happened), and once.
 */
describeWithInfra(["mongo"], "the trip of a disputed booking, embedded", (infra) => {
  let system: System;
  let owner: string;
  const admin = () => system.token("admin", "ops-dispute-trips");

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    owner = system.token("owner", "owner-dispute-trips");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const post = (path: string, token: string, body: unknown = {}) =>
    system.api<BookingEntity>("POST", path, { token, body });

  /** A delivered booking its owner disputed: its id. */
  async function disputed(name: string) {
    const runner = system.token("runner", name);
    await verifiedRunner(system, runner);
    expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
    const id = (await heldBooking(system, owner, trip)).booking_id;
    for (const move of ["accept", "pickup", "depart", "deliver"]) {
      expect((await makeMove(system, id, move, { runner, owner })).status).toBe(200);
    }
    const report = { reason: "late", text: "An hour late" };
    expect((await post(`/api/bookings/${id}/dispute`, owner, report)).status).toBe(200);
    return id;
  }

  const trackOf = async (id: string) =>
    (await system.api<{ status: string }>("GET", `/api/bookings/${id}/track`, { token: owner }))
      .body;

  /** The events of a topic about one booking, as published. */
  async function published(topic: string, id: string): Promise<DomainEvent[]> {
    const records = await runtimeOf(system.brokers[0]).bus.readTopic(topic);
    return records.map((record) => fromWire(record)).filter((event) => event.subject === id);
  }
  const completions = async (id: string) =>
    (await published("tracking.events", id)).filter((e) => e.type === "tracking.completed");

  it.each([
    ["a partial refund", { outcome: "partial_refund", refund_cents: 1000 }, "completed"],
    ["a full refund", { outcome: "full_refund" }, "refunded"],
    ["a release", { outcome: "release" }, "completed"],
  ])("completes the trip once the dispute is resolved with %s", async (_what, resolution, ends) => {
    const id = await disputed(`runner-trip-${resolution.outcome}`);
    expect((await trackOf(id)).status).toBe("delivered");
    expect((await post(`/api/bookings/${id}/resolve`, admin(), resolution)).status).toBe(200);

    await eventually(async () => ((await trackOf(id)).status === "completed" ? true : undefined), {
      what: "the trip completed",
    });
    await eventually(async () => ((await completions(id)).length === 1 ? true : undefined), {
      what: "tracking.completed published",
    });
    await eventually(
      async () => {
        const booking = await system.api<BookingEntity>("GET", `/api/bookings/${id}`, {
          token: owner,
        });
        return booking.body.status === ends ? true : undefined;
      },
      { what: `the booking ${ends}` },
    );

    // The resolution delivered again (at-least-once): no second completion.
    const resolved = (await published("booking.events", id)).find(
      (e) => e.type === "booking.dispute_resolved",
    ) as DomainEvent<"booking.dispute_resolved">;
    const tracking = system.brokers[0].getLocalService("tracking") as unknown as TrackingThis;
    await bookingEvents["booking.dispute_resolved"]?.call(tracking, resolved, {
      topic: "booking.events",
      partition: 0,
      offset: "0",
      groupId: "service-tracking-bookings",
      attempt: 2,
    });
    expect((await trackOf(id)).status).toBe("completed");
    expect(await completions(id)).toHaveLength(1);
  });
});
