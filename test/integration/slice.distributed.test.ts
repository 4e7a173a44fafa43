import { KafkaEventBus } from "../../adapters/event-bus";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

interface Booking {
  booking_id: string;
  booking_number: string;
  status: string;
}
interface Inbox {
  items: { event_type: string; booking_id: string; title: string }[];
  unread_count: number;
}

describeWithInfra(
  ["kafka", "mongo", "redis"],
  "vertical slice, services split over four brokers",
  (infra) => {
    let system: System;

    beforeAll(async () => {
      system = await startSystem({
        infra,
        processes: [["api"], ["booking"], ["payment"], ["notification"], ["runner", "tracking"]],
      });
    });
    afterAll(async () => {
      await system?.stop();
    });

    it("reports what the gateway uses ready, and with ?all=true every service present", async () => {
      const ready = await system.api<{ status: string; checks: Record<string, { ok: boolean }> }>(
        "GET",
        "/ready?all=true",
      );
      expect(ready.status).toEqual(200);
      expect(ready.body.status).toEqual("ready");
      // The gateway process: no database, no Kafka, no Stripe of its own to wait for.
      expect(Object.keys(ready.body.checks).sort()).toEqual(["redis", "services", "transporter"]);
      expect(Object.values(ready.body.checks).every((check) => check.ok)).toEqual(true);
    });

    it("POST /api/bookings → booking.requested on Kafka → the owner's inbox", async () => {
      const owner = system.token("owner", "owner-slice");
      const created = await system.api<Booking>("POST", "/api/bookings", {
        token: owner,
        body: {
          pet_type: "cat",
          pet_name: "Mochi",
          pickup: { lat: -6.2, lng: 106.81 },
          dropoff: { lat: -6.22, lng: 106.84 },
        },
      });
      expect(created.status).toEqual(201);
      expect(created.body.status).toEqual("requested");
      expect(created.body.booking_number).toMatch(/^KLT-\d{8}-[0-9A-HJKMNP-TV-Z]{6}$/);

      const inbox = await eventually(
        async () => {
          const response = await system.api<Inbox>("GET", "/api/notifications", { token: owner });
          return response.body.items.length > 0 ? response.body : undefined;
        },
        { what: "the owner's notification" },
      );
      expect(inbox.unread_count).toEqual(1);
      expect(inbox.items).toEqual([
        expect.objectContaining({
          event_type: "booking.requested",
          booking_id: created.body.booking_id,
          title: `Booking ${created.body.booking_number} received`,
        }),
      ]);

      // The event on the wire: one record, keyed by the booking id.
      const bus = new KafkaEventBus({
        brokers: infra.kafka.split(","),
        clientId: "slice-reader",
        topicPrefix: system.config.kafkaTopicPrefix,
      });
      const records = await bus.readTopic("booking.events");
      await bus.close();
      expect(
        records.map((record) => [record.key, (JSON.parse(record.value) as { type: string }).type]),
      ).toEqual([[created.body.booking_id, "booking.requested"]]);
    });

    it("another owner sees neither the booking nor the notification", async () => {
      const owner = system.token("owner", "owner-a");
      const stranger = system.token("owner", "owner-b");
      const created = await system.api<Booking>("POST", "/api/bookings", {
        token: owner,
        body: {
          pet_type: "dog",
          pet_name: "Bolt",
          pickup: { lat: 1.3, lng: 103.8 },
          dropoff: { lat: 1.31, lng: 103.85 },
        },
      });
      expect(
        (await system.api("GET", `/api/bookings/${created.body.booking_id}`, { token: stranger }))
          .status,
      ).toEqual(404);
      expect(
        (await system.api("GET", `/api/bookings/${created.body.booking_id}`, { token: owner }))
          .status,
      ).toEqual(200);
      const inbox = await system.api<Inbox>("GET", "/api/notifications", { token: stranger });
      expect(inbox.body.items).toEqual([]);
    });
  },
);
