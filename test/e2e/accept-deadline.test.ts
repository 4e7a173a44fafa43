import type { BookingEntity, NotificationEntity, PaymentEntity } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

/** Far from any runner: nobody is offered it, nobody accepts it. */
const trip = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.25, lng: 106.85 } };

/**
 * A held booking no runner accepts within ACCEPT_TIMEOUT is cancelled, its hold released in full,
 * and its owner told why.
 */
describeWithInfra(["mongo"], "a held booking nobody accepts, embedded", (infra) => {
  let system: System;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { ACCEPT_TIMEOUT: "1500ms" },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("is cancelled at its accept deadline, the hold released and the owner told why", async () => {
    const owner = system.token("owner", "owner-nobody-came");
    const held = await heldBooking(system, owner, trip);
    const due = Date.parse(String(held.accept_due_at));
    expect(due - Date.parse(held.updated_at)).toBeGreaterThanOrEqual(1000);

    const cancelled = await eventually(
      async () => {
        const now = await system.api<BookingEntity>("GET", `/api/bookings/${held.booking_id}`, {
          token: owner,
        });
        return now.body.status === "cancelled" ? now.body : undefined;
      },
      { what: "the booking cancelled at its accept deadline", timeoutMs: 15_000 },
    );
    expect(cancelled.cancel_reason).toBe("no runner accepted the booking in time");
    expect(Date.now()).toBeGreaterThanOrEqual(due);

    const payment = await eventually(
      async () => {
        const now = await system.api<PaymentEntity>(
          "GET",
          `/api/bookings/${held.booking_id}/payment`,
          { token: owner },
        );
        return now.body.status === "canceled" || now.body.status === "refunded"
          ? now.body
          : undefined;
      },
      { what: "the hold released" },
    );
    expect([payment.refunded_cents, payment.captured_cents]).toEqual([payment.amount_cents, 0]);
    await eventually(
      async () => {
        const inbox = await system.api<{ items: NotificationEntity[] }>(
          "GET",
          "/api/notifications",
          { token: owner },
        );
        return inbox.body.items.find(
          (note) =>
            note.booking_id === held.booking_id &&
            note.body.includes("no runner accepted the booking in time"),
        );
      },
      { what: "the owner told why" },
    );
  });
});
