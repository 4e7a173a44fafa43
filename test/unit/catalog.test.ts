import { z } from "zod";
import {
  ALL_TOPICS,
  CONSUMER_GROUPS,
  EVENTS,
  consumersOf,
  eventDefinition,
  type EventType,
} from "../../events/catalog";

/** The seed catalog's consumer-group table, verbatim. */
const SEED_GROUPS: Record<string, { service: string; topic: string; events: EventType[] }> = {
  "service-booking-payments": {
    service: "service-booking",
    topic: "payment.events",
    events: ["payment.escrow_released"],
  },
  "service-payment-bookings": {
    service: "service-payment",
    topic: "booking.events",
    events: ["booking.delivery_confirmed", "booking.cancelled"],
  },
  "service-tracking-bookings": {
    service: "service-tracking",
    topic: "booking.events",
    events: ["booking.accepted", "booking.delivery_confirmed"],
  },
  "service-tracking-runners": {
    service: "service-tracking",
    topic: "runner.events",
    events: ["runner.location_update"],
  },
  "service-notification-bookings": {
    service: "service-notification",
    topic: "booking.events",
    events: [
      "booking.requested",
      "booking.accepted",
      "booking.pet_picked_up",
      "booking.delivery_in_progress",
      "booking.delivery_confirmed",
      "booking.completed",
      "booking.cancelled",
    ],
  },
  "service-notification-payments": {
    service: "service-notification",
    topic: "payment.events",
    events: [
      "payment.escrow_held",
      "payment.escrow_released",
      "payment.escrow_refunded",
      "payment.failed",
    ],
  },
  "service-notification-tracking": {
    service: "service-notification",
    topic: "tracking.events",
    events: ["tracking.started", "tracking.completed"],
  },
};

const fieldsOf = (type: EventType) => Object.keys(eventDefinition(type).schema.shape).sort();
const requiredOf = (type: EventType) =>
  (z.toJSONSchema(eventDefinition(type).schema) as { required?: string[] }).required ?? [];

describe("event catalog", () => {
  it("has the seed's 4 topics and 19 events plus our additions", () => {
    expect(ALL_TOPICS).toEqual([
      "booking.events",
      "payment.events",
      "runner.events",
      "tracking.events",
    ]);
    // Added: booking.delivered, booking.expired, booking.handover_locked,
    // runner.verification_decided, tracking.stopped and tracking.resumed; booking.rated;
    // booking.disputed, booking.dispute_resolved, booking.refunded, payment.partially_refunded;
    // payment.card_saved, payment.hold_renewal_failed;
    // booking.runner_arrived, booking.no_show, booking.returned.
    expect(EVENTS).toHaveLength(35);
    expect(EVENTS.filter((e) => e.topic === "booking.events")).toHaveLength(17);
    expect(EVENTS.filter((e) => e.topic === "payment.events")).toHaveLength(8);
    expect(EVENTS.filter((e) => e.topic === "runner.events")).toHaveLength(5);
    expect(EVENTS.filter((e) => e.topic === "tracking.events")).toHaveLength(5);
  });

  it("keeps the seed's payload fields, field for field", () => {
    expect(fieldsOf("booking.requested")).toEqual(
      [
        "booking_id",
        "booking_number",
        "owner_id",
        "pet_type",
        "pet_name",
        "pickup_lat",
        "pickup_lng",
        "dropoff_lat",
        "dropoff_lng",
        "estimated_price_cents",
        "currency",
        "occurred_at",
      ]
        // Plus what carrying the pets takes (a marked change, optional): dispatch needs it.
        .concat(["pet_count", "species", "crate_size", "needs_ac"])
        // Plus when the pet is to be picked up (a marked change, optional).
        .concat(["pickup_at"])
        .sort(),
    );
    expect(requiredOf("booking.requested")).not.toContain("pet_count");
    // Plus its parties (a marked change): whoever reacts knows them without a copy of the booking.
    expect(fieldsOf("booking.cancelled")).toEqual(
      ["booking_id", "booking_number", "cancelled_by", "reason", "occurred_at"]
        .concat(["owner_id", "runner_id"])
        .sort(),
    );
    expect(fieldsOf("runner.location_update")).toEqual(
      [
        "runner_id",
        "booking_id",
        "latitude",
        "longitude",
        "speed_kmh",
        "heading_degrees",
        "timestamp",
        "occurred_at",
      ].sort(),
    );
    expect(requiredOf("runner.location_update")).not.toContain("booking_id");
    // Plus its owner (a marked change), so that the owner's integrations hear of the payout, and
    // the booking number (a marked change), so that its message names the booking.
    expect(fieldsOf("payment.escrow_released")).toEqual(
      [
        "payment_id",
        "booking_id",
        "owner_id",
        "runner_id",
        "runner_payout_cents",
        "platform_fee_cents",
        "currency",
        "occurred_at",
      ]
        .concat(["booking_number"])
        .sort(),
    );
    // Plus the booking number and its owner (marked changes): the message names the booking, and
    // the owner's integrations hear of the offer; and what carrying the pets takes (optional).
    expect(fieldsOf("runner.assigned")).toEqual(
      ["runner_id", "booking_id", "occurred_at"]
        .concat(["booking_number", "owner_id"])
        .concat(["pet_count", "species", "crate_size", "needs_ac"])
        .sort(),
    );
    // Plus the booking number and the pet's name (marked changes), for the same reason.
    expect(fieldsOf("tracking.completed")).toEqual(
      ["track_id", "booking_id", "runner_id", "total_distance_km", "completed_at", "occurred_at"]
        .concat(["owner_id", "booking_number", "pet_name"])
        .sort(),
    );
  });

  it.each([
    "payment.escrow_held",
    "payment.escrow_released",
    "payment.escrow_refunded",
    "payment.failed",
    "runner.assigned",
    "tracking.started",
    "tracking.completed",
  ] as EventType[])("names the booking by number in %s, a marked change", (type) => {
    expect(requiredOf(type)).toContain("booking_number");
    expect(eventDefinition(type).changes).toMatch(/booking_number/);
  });

  it.each(["booking.expired", "tracking.started", "tracking.completed"] as EventType[])(
    "names the pet in %s, a marked change",
    (type) => {
      expect(fieldsOf(type)).toContain("pet_name");
      expect(eventDefinition(type).changes).toMatch(/pet_name/);
    },
  );

  it.each([
    "payment.escrow_held",
    "payment.failed",
    "tracking.started",
    "tracking.completed",
  ] as EventType[])("fixes the seed's gap: owner_id is required in %s", (type) => {
    expect(requiredOf(type)).toContain("owner_id");
  });

  it("contains the seed's 7 consumer groups with at least their seed events", () => {
    for (const [groupId, seed] of Object.entries(SEED_GROUPS)) {
      const group = CONSUMER_GROUPS.find((candidate) => candidate.groupId === groupId);
      expect(group).toEqual(expect.objectContaining({ service: seed.service, topic: seed.topic }));
      expect(group?.events).toEqual(expect.arrayContaining(seed.events));
    }
  });

  it("marks every departure from the seed's groups as an addition", () => {
    for (const group of CONSUMER_GROUPS) {
      const seed = SEED_GROUPS[group.groupId];
      const added = group.events.filter((type) => !seed?.events.includes(type));
      expect([group.groupId, added.sort()]).toEqual([
        group.groupId,
        [...(group.addition?.events ?? [])].sort(),
      ]);
    }
  });

  it("lets a group handle only events of its own topic", () => {
    for (const group of CONSUMER_GROUPS) {
      for (const type of group.events)
        expect([type, eventDefinition(type).topic]).toEqual([type, group.topic]);
    }
  });

  it("keys booking, payment and tracking events by booking, runner events by runner", () => {
    for (const definition of EVENTS) {
      expect(requiredOf(definition.type)).toContain(definition.partitionKey);
      expect(definition.partitionKey).toEqual(
        definition.topic === "runner.events" ? "runner_id" : "booking_id",
      );
    }
  });

  it("derives each event's consumers from the groups", () => {
    expect(consumersOf("booking.delivery_confirmed").sort()).toEqual(
      ["service-notification", "service-payment", "service-tracking"].sort(),
    );
    expect(consumersOf("booking.delivered").sort()).toEqual(
      ["service-notification", "service-runner", "service-tracking"].sort(),
    );
    expect(consumersOf("payment.escrow_created")).toEqual([]);
    expect(consumersOf("tracking.updated")).toEqual([]);
  });
});
