import type { ServiceBroker } from "moleculer";
import type { Model } from "mongoose";
import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import type { WireMessage } from "../../events/envelope";
import { createBroker } from "../../services";
import { loadConfig, type Config } from "../../lib/config";
import { KafkaEventBus, type EventBus } from "../../adapters/event-bus";
import { createRuntime } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import type { NotificationDoc } from "../../models/notification.model";
import { FlakyPublishBus } from "../support/flaky-bus";
import { describeWithInfra, uniqueName } from "../support/infra";
import { eventually } from "../support/wait";

/** Kafka as seen by a process whose producer connection is down: every publish fails. */
function unreachable(real: EventBus): EventBus {
  const bus = new FlakyPublishBus(real);
  bus.publishing = false;
  return bus;
}

const owner = { sub: "owner-outbox", role: "owner" as const };
const bookingParams = {
  pet_type: "rabbit",
  pet_name: "Snow",
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.21, lng: 106.82 },
};

describeWithInfra(
  ["kafka", "mongo"],
  "transactional outbox and idempotent consumers (Kafka, FerretDB)",
  (infra) => {
    let config: Config;
    let reader: KafkaEventBus;
    const brokers: ServiceBroker[] = [];

    const buses: EventBus[] = [];
    /** A process hosting `services`; with `bus`, that bus instead of its own Kafka client. */
    const start = async (services: ("booking" | "notification")[], bus?: EventBus) => {
      if (bus) buses.push(bus);
      const broker = createBroker(config, { services, runtime: bus ? { config, bus } : undefined });
      brokers.push(broker);
      await broker.start();
      return { broker };
    };
    const recordsOf = async (topic: string) =>
      (await reader.readTopic(topic)).map(
        (record) => JSON.parse(record.value) as { id: string; type: string; subject: string },
      );

    beforeEach(async () => {
      const run = uniqueName("outbox");
      config = loadConfig({
        NODE_ENV: "test",
        LOG_LEVEL: "error",
        NAMESPACE: run,
        MONGO_URL: infra.mongo,
        MONGO_DB_PREFIX: run,
        KAFKA_BROKERS: infra.kafka,
        KAFKA_TOPIC_PREFIX: `${run}.`,
        OUTBOX_SWEEP_MS: "200",
      });
      reader = new KafkaEventBus({
        brokers: config.kafkaBrokers ?? [],
        clientId: "outbox-test",
        topicPrefix: config.kafkaTopicPrefix,
      });
      await reader.ensureTopics(ALL_TOPICS, PARTITIONS);
    });

    afterEach(async () => {
      for (const broker of brokers.splice(0)) await broker.stop();
      for (const bus of buses.splice(0)) await bus.close();
      await reader.close();
    });

    it("keeps the event with the state change while Kafka is down, and publishes it after a restart", async () => {
      // Process 1: Kafka unreachable. The booking is stored with its event in the same document.
      const realBus = createRuntime(config).bus;
      const down = await start(["booking"], unreachable(realBus));
      const booking = await down.broker.call<{ booking_id: string }, typeof bookingParams>(
        "booking.create",
        bookingParams,
        {
          meta: { user: owner },
        },
      );
      const bookings = (
        down.broker.getLocalService("booking") as unknown as {
          models: { bookings: Model<BookingDoc> };
        }
      ).models.bookings;
      await new Promise((resolve) => setTimeout(resolve, 600)); // fast path and a few sweeps fail
      const stored = await bookings.findById(booking.booking_id).lean<BookingDoc>();
      expect(stored?.status).toEqual("requested");
      expect(stored?.outbox.map((entry) => entry.type)).toEqual(["booking.requested"]);
      const eventId = stored?.outbox[0].id;
      await down.broker.stop(); // the process dies with the event unsent
      brokers.splice(0);
      expect(await recordsOf("booking.events")).toEqual([]);

      // Process 2: Kafka is back. Its relay sweeps the outbox at start-up.
      const up = await start(["booking"]);
      const upBookings = (
        up.broker.getLocalService("booking") as unknown as {
          models: { bookings: Model<BookingDoc> };
        }
      ).models.bookings;
      await eventually(
        async () => {
          const doc = await upBookings.findById(booking.booking_id).lean<BookingDoc>();
          return doc?.outbox.length === 0 ? true : undefined;
        },
        { what: "the outbox to drain" },
      );
      const records = await recordsOf("booking.events");
      expect(records.map((record) => [record.id, record.type, record.subject])).toEqual([
        [eventId, "booking.requested", booking.booking_id],
      ]);
    });

    it("publishes what its fast path failed once Kafka is back, on the next sweep, without waiting for a full one", async () => {
      const flaky = new FlakyPublishBus(createRuntime(config).bus);
      flaky.publishing = false;
      const process1 = await start(["booking"], flaky);
      const booking = await process1.broker.call<{ booking_id: string }, typeof bookingParams>(
        "booking.create",
        bookingParams,
        { meta: { user: owner } },
      );
      await new Promise((resolve) => setTimeout(resolve, 300)); // the fast path failed
      flaky.publishing = true;
      // Sweeps run every 200 ms here and read the whole collection one time in ten (at start):
      // the retry comes from what the relay remembers of its failures.
      await eventually(
        async () => {
          const records = await recordsOf("booking.events");
          return records.some((record) => record.subject === booking.booking_id) ? true : undefined;
        },
        { what: "the retried publish", timeoutMs: 1500 },
      );
    });

    it("removes what several aggregates published in one write, and publishes each event once", async () => {
      const { broker } = await start(["booking"]);
      const bookings = (
        broker.getLocalService("booking") as unknown as {
          models: { bookings: Model<BookingDoc> };
        }
      ).models.bookings;
      const updatesOfBookings = (): number => {
        const item: { value?: number } | null | undefined = broker.metrics
          .getMetric("kilat.db.commands.total")
          ?.get({ db: "booking", command: "update", collection: "bookings" });
        return item?.value ?? 0;
      };
      const before = updatesOfBookings();
      const created = await Promise.all(
        Array.from({ length: 6 }, () =>
          broker.call<{ booking_id: string }, typeof bookingParams>(
            "booking.create",
            bookingParams,
            {
              meta: { user: owner },
            },
          ),
        ),
      );
      const ids = created.map((booking) => booking.booking_id);
      await eventually(
        async () =>
          (await bookings.countDocuments({ _id: { $in: ids }, "outbox.0": { $exists: true } })) ===
          0
            ? true
            : undefined,
        { what: "every outbox to drain" },
      );
      // Six events published, their removals written together (one write per linger window).
      expect(updatesOfBookings() - before).toBeLessThan(ids.length);
      await new Promise((resolve) => setTimeout(resolve, 500)); // room for a wrong republish
      const subjects = (await recordsOf("booking.events")).map((record) => record.subject);
      expect(subjects.sort()).toEqual([...ids].sort());
    });

    it("a repeated CloudEvent (published twice, as after a crash between ack and removal) has one effect", async () => {
      const { broker } = await start(["notification"]);
      const notifications = (
        broker.getLocalService("notification") as unknown as {
          models: { notifications: Model<NotificationDoc> };
        }
      ).models.notifications;
      const event: WireMessage = {
        key: "booking-dup",
        headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
        value: JSON.stringify({
          specversion: "1.0",
          id: "3b0b6f8e-8d1c-4c1e-9a54-6f0f5a1d2c11",
          source: "/kilat/booking",
          type: "booking.requested",
          subject: "booking-dup",
          time: "2026-11-26T10:00:00.000Z",
          datacontenttype: "application/json",
          partitionkey: "booking-dup",
          data: {
            booking_id: "booking-dup",
            booking_number: "KLT-20261126-DUP000",
            owner_id: "owner-dup",
            pet_type: "dog",
            pet_name: "Rex",
            pickup_lat: -6.2,
            pickup_lng: 106.8,
            dropoff_lat: -6.25,
            dropoff_lng: 106.85,
            estimated_price_cents: 50000,
            currency: "IDR",
            occurred_at: "2026-11-26T10:00:00.000Z",
          },
        }),
      };
      await reader.publishWire("booking.events", [event, event]);

      await eventually(async () =>
        (await notifications.countDocuments({ recipient_id: "owner-dup" })) > 0 ? true : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 1500)); // room for a wrong second effect
      const inbox = await notifications
        .find({ recipient_id: "owner-dup" })
        .lean<NotificationDoc[]>();
      expect(inbox.map((entry) => entry._id)).toEqual([
        "3b0b6f8e-8d1c-4c1e-9a54-6f0f5a1d2c11:owner:owner-dup",
      ]);
      expect((await recordsOf("booking.events")).length).toEqual(2);
    });
  },
);
