import { CONSUMER_GROUPS, type EventPayload, type EventType } from "../../events/catalog";
import { createEvent, type DomainEvent } from "../../events/envelope";
import { userKey } from "../../domain/access";
import { TEMPLATES, notificationsFor, partiesOfEvent } from "../../domain/notifications";

const at = "2026-11-26T10:00:00.000Z";
const event = <T extends EventType>(type: T, data: EventPayload<T>) =>
  createEvent(type, data, { service: "test" });
/** Each message's recipient as the inbox keys it, role and sub: from the event alone. */
const recipients = (domainEvent: DomainEvent) =>
  notificationsFor(domainEvent).map((message) =>
    userKey({ role: message.recipient_role, sub: message.recipient_id }),
  );

describe("notification templates", () => {
  it("has a template for every event the notification groups consume, and none for tracking.updated", () => {
    const consumed = CONSUMER_GROUPS.filter((group) => group.service === "service-notification")
      .flatMap((group) => group.events)
      .sort();
    expect(Object.keys(TEMPLATES).sort()).toEqual(consumed);
    expect(consumed).not.toContain("tracking.updated");
  });

  it("tells both parties about a confirmed delivery, each their own message", () => {
    const messages = notificationsFor(
      event("booking.delivery_confirmed", {
        booking_id: "b-1",
        booking_number: "KLT-1",
        runner_id: "runner-1",
        owner_id: "owner-1",
        delivered_at: at,
        occurred_at: at,
      }),
    );
    expect(messages.map((m) => [m.recipient_role, m.recipient_id])).toEqual([
      ["owner", "owner-1"],
      ["runner", "runner-1"],
    ]);
    expect(messages[1].body).toMatch(/payout/);
    expect(messages.every((m) => m.booking_number === "KLT-1" && m.booking_id === "b-1")).toBe(
      true,
    );
  });

  it("finds the parties of a cancellation in the event itself", () => {
    const cancelled = event("booking.cancelled", {
      booking_id: "b-1",
      booking_number: "KLT-1",
      owner_id: "owner-1",
      runner_id: "runner-1",
      cancelled_by: "owner-1",
      reason: "plans changed",
      occurred_at: at,
    });
    expect(recipients(cancelled)).toEqual(["owner:owner-1", "runner:runner-1"]);
    const beforeAcceptance = event("booking.cancelled", {
      booking_id: "b-1",
      booking_number: "KLT-1",
      owner_id: "owner-1",
      cancelled_by: "owner-1",
      reason: "plans changed",
      occurred_at: at,
    });
    expect(recipients(beforeAcceptance)).toEqual(["owner:owner-1"]);
    expect(partiesOfEvent(cancelled)).toEqual(["owner:owner-1", "runner:runner-1"]);
  });

  it("sends the payout to the runner and names the booking by the number the event carries", () => {
    const released = event("payment.escrow_released", {
      payment_id: "p-1",
      booking_id: "b-1",
      booking_number: "KLT-20261126-ABC123",
      owner_id: "owner-1",
      runner_id: "runner-1",
      runner_payout_cents: 4_000_000,
      platform_fee_cents: 1_000_000,
      currency: "IDR",
      occurred_at: at,
    });
    const [message] = notificationsFor(released);
    expect(message).toEqual({
      recipient_id: "runner-1",
      recipient_role: "runner",
      title: "Booking KLT-20261126-ABC123: payout released",
      body: "IDR 40,000.00 is on its way to you.",
      booking_id: "b-1",
      booking_number: "KLT-20261126-ABC123",
    });
    // A payment stored before booking numbers names the booking by its id (domain/payment.ts).
    const legacy = event("payment.escrow_released", {
      ...released.data,
      booking_number: "b-1",
    });
    expect(notificationsFor(legacy)[0].title).toEqual("Booking b-1: payout released");
  });

  it("offers a job to the runner only, and tells a payment failure to the owner only", () => {
    expect(
      recipients(
        event("runner.assigned", {
          runner_id: "runner-9",
          booking_id: "b-1",
          booking_number: "KLT-1",
          occurred_at: at,
        }),
      ),
    ).toEqual(["runner:runner-9"]);
    expect(
      recipients(
        event("payment.failed", {
          payment_id: "p-1",
          booking_id: "b-1",
          booking_number: "KLT-1",
          owner_id: "owner-1",
          reason: "card_declined",
          occurred_at: at,
        }),
      ),
    ).toEqual(["owner:owner-1"]);
  });

  it("given an owner and a runner who share a sub, when the booking completes, then each hears once, as themselves", () => {
    const completed = event("booking.completed", {
      booking_id: "b-1",
      booking_number: "KLT-1",
      runner_id: "same",
      owner_id: "same",
      final_price_cents: 100,
      currency: "IDR",
      occurred_at: at,
    });
    expect(recipients(completed)).toEqual(["owner:same", "runner:same"]);
  });

  it("notifies no one about events without a template", () => {
    const updated = event("tracking.updated", {
      track_id: "t",
      booking_id: "b-1",
      runner_id: "r",
      latitude: 0,
      longitude: 0,
      speed_kmh: 10,
      occurred_at: at,
    });
    expect(notificationsFor(updated)).toEqual([]);
  });

  it("names the booking and the pet from the event alone: an expiry, a trip started and finished", () => {
    const [expired] = notificationsFor(
      event("booking.expired", {
        booking_id: "b-1",
        booking_number: "KLT-1",
        owner_id: "owner-1",
        pet_name: "Rex",
        payment_due_at: at,
        occurred_at: at,
      }),
    );
    expect([expired.title, expired.body]).toEqual([
      "Booking KLT-1 expired",
      "It was not paid for in time, so no runner was sent for Rex. Nothing is charged; book again when you are ready.",
    ]);
    const trip = { track_id: "t-1", booking_id: "b-1", booking_number: "KLT-1" };
    const parties = { runner_id: "runner-1", owner_id: "owner-1" };
    const [started] = notificationsFor(
      event("tracking.started", {
        ...trip,
        ...parties,
        pet_name: "Rex",
        started_at: at,
        occurred_at: at,
      }),
    );
    expect([started.title, started.body]).toEqual([
      "Booking KLT-1: live tracking on",
      "Watch Rex's trip live in the app.",
    ]);
    const completed = {
      ...trip,
      ...parties,
      total_distance_km: 4.25,
      completed_at: at,
      occurred_at: at,
    };
    const [finished] = notificationsFor(
      event("tracking.completed", { ...completed, pet_name: "rex" }),
    );
    expect([finished.title, finished.body, finished.booking_number]).toEqual([
      "Booking KLT-1: trip finished",
      "Rex travelled 4.3 km.",
      "KLT-1",
    ]);
    // A trip whose request the tracking service never saw does not know the pet's name.
    expect(notificationsFor(event("tracking.completed", completed))[0].body).toEqual(
      "Your pet travelled 4.3 km.",
    );
  });
});
