import { KafkaEventBus } from "../../adapters/event-bus";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { makeMove } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { verifiedOnce } from "../support/runners";
import { bookAndHold, sendStripeWebhook } from "../support/stripe-webhook";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const SECRET = "whsec_saga";

interface WireEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** The escrow saga across four brokers: Redis transporter, Kafka, FerretDB, stripe-mock. */
describeWithInfra(
  ["kafka", "mongo", "redis", "stripe"],
  "escrow saga, services split over brokers",
  (infra) => {
    let system: System;
    let reader: KafkaEventBus;
    let owner: string;

    beforeAll(async () => {
      system = await startSystem({
        infra,
        processes: [["api"], ["booking"], ["payment"], ["notification"], ["runner", "tracking"]],
        env: { STRIPE_WEBHOOK_SECRET: SECRET },
      });
      reader = new KafkaEventBus({
        brokers: infra.kafka.split(","),
        clientId: "saga-reader",
        topicPrefix: system.config.kafkaTopicPrefix,
      });
      owner = system.token("owner", "owner-saga");
    }, 60000);
    afterAll(async () => {
      await reader?.close();
      await system?.stop();
    });

    const eventsOf = async (topic: string, bookingId: string) =>
      (await reader.readTopic(topic))
        .filter((record) => record.key === bookingId)
        .map((record) => JSON.parse(record.value) as WireEvent);
    const typesOf = async (topic: string, bookingId: string) =>
      (await eventsOf(topic, bookingId)).map((e) => e.type);
    const bookingOf = async (id: string) =>
      (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body;
    const paymentOf = async (id: string) =>
      (await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner }))
        .body;

    /** A booking whose escrow Stripe has confirmed held. */
    const heldBooking = () => bookAndHold(system, owner, SECRET);
    const move = async (id: string, token: string, ...actions: string[]) => {
      for (const action of actions) {
        // As an app does: a verified runner accepts once it is online, and proves each handover.
        if (action === "accept") {
          const { pickup } = await bookingOf(id);
          await verifiedOnce(system, token);
          await system.api("POST", "/api/runners/me/online", { token, body: pickup });
        }
        const response = await makeMove(system, id, action, { runner: token, owner });
        expect([action, response.status]).toEqual([action, 200]);
      }
    };

    it("runs the seed's event flow to completed, with payout + fee = captured", async () => {
      const { booking } = await heldBooking();
      const runner = system.token("runner", "runner-saga");
      await move(booking.booking_id, runner, "accept", "pickup", "depart", "deliver");
      await move(booking.booking_id, owner, "confirm");
      await eventually(async () =>
        (await bookingOf(booking.booking_id)).status === "completed" ? true : undefined,
      );

      const bookingEvents = await eventually(async () => {
        const types = await typesOf("booking.events", booking.booking_id);
        return types.length === 7 ? types : undefined;
      });
      expect(bookingEvents).toEqual([
        "booking.requested",
        "booking.accepted",
        "booking.pet_picked_up",
        "booking.delivery_in_progress",
        "booking.delivered",
        "booking.delivery_confirmed",
        "booking.completed",
      ]);
      const paymentEvents = await eventsOf("payment.events", booking.booking_id);
      expect(paymentEvents.map((e) => e.type)).toEqual([
        "payment.escrow_created",
        "payment.escrow_held",
        "payment.escrow_released",
      ]);
      const released = paymentEvents[2].data as {
        runner_payout_cents: number;
        platform_fee_cents: number;
        runner_id: string;
      };
      const settled = await paymentOf(booking.booking_id);
      expect(released.runner_payout_cents + released.platform_fee_cents).toEqual(
        settled.captured_cents,
      );
      expect([released.runner_id, settled.captured_cents]).toEqual([
        "runner-saga",
        booking.estimated_price_cents,
      ]);
    });

    it("refunds the escrow when a booking is cancelled before and after acceptance", async () => {
      const before = await heldBooking();
      await system.api("POST", `/api/bookings/${before.booking.booking_id}/cancel`, {
        token: owner,
        body: { reason: "changed plans" },
      });
      const after = await heldBooking();
      const runner = system.token("runner", "runner-cancels");
      await move(after.booking.booking_id, runner, "accept");
      await system.api("POST", `/api/bookings/${after.booking.booking_id}/cancel`, {
        token: runner,
        body: { reason: "flat tyre" },
      });

      for (const { booking } of [before, after]) {
        const refunded = await eventually(async () => {
          const events = await eventsOf("payment.events", booking.booking_id);
          return events.find((e) => e.type === "payment.escrow_refunded");
        });
        expect(refunded.data).toEqual(
          expect.objectContaining({
            owner_id: "owner-saga",
            amount_cents: booking.estimated_price_cents,
          }),
        );
        const payment = await paymentOf(booking.booking_id);
        expect([payment.status, payment.captured_cents, payment.refunded_cents]).toEqual([
          "canceled",
          0,
          booking.estimated_price_cents,
        ]);
      }
    });

    it("a failed authorisation publishes payment.failed with owner_id and leaves the booking cancellable", async () => {
      const booking = (
        await system.api<BookingEntity>("POST", "/api/bookings", {
          token: owner,
          body: {
            pet_type: "bird",
            pet_name: "Kiwi",
            pickup: { lat: -6.2, lng: 106.8 },
            dropoff: { lat: -6.21, lng: 106.8 },
          },
        })
      ).body;
      const payment = (
        await system.api<PaymentEntity>("POST", `/api/bookings/${booking.booking_id}/payment`, {
          token: owner,
          body: {},
        })
      ).body;
      await sendStripeWebhook(system.url, SECRET, {
        id: `evt_failed_${booking.booking_id}`,
        type: "payment_intent.payment_failed",
        object: { id: payment.provider_ref, last_payment_error: { code: "card_declined" } },
      });
      const failed = await eventually(async () =>
        (await eventsOf("payment.events", booking.booking_id)).find(
          (e) => e.type === "payment.failed",
        ),
      );
      expect(failed.data).toEqual(
        expect.objectContaining({
          owner_id: "owner-saga",
          reason: "authorisation failed: card_declined",
        }),
      );
      await eventually(async () =>
        (await bookingOf(booking.booking_id)).payment_status === "failed" ? true : undefined,
      );
      const runner = system.token("runner", "r");
      await verifiedOnce(system, runner);
      expect(
        (
          await system.api("POST", `/api/bookings/${booking.booking_id}/accept`, {
            token: runner,
          })
        ).status,
      ).toEqual(409);
      expect(
        (
          await system.api<BookingEntity>("POST", `/api/bookings/${booking.booking_id}/cancel`, {
            token: owner,
            body: { reason: "card" },
          })
        ).body.status,
      ).toEqual("cancelled");
    });

    it("a redelivered booking.delivery_confirmed captures once and releases once", async () => {
      const { booking } = await heldBooking();
      const runner = system.token("runner", "runner-redelivery");
      await move(booking.booking_id, runner, "accept", "pickup", "depart", "deliver");
      await move(booking.booking_id, owner, "confirm");
      await eventually(async () =>
        (await bookingOf(booking.booking_id)).status === "completed" ? true : undefined,
      );

      // The same CloudEvent again, as Kafka redelivers after a crash, and once more under a new id.
      const records = (await reader.readTopic("booking.events")).filter(
        (r) => r.key === booking.booking_id,
      );
      const confirmed = records.find((r) => r.value.includes('"booking.delivery_confirmed"'));
      if (!confirmed) throw new Error("no booking.delivery_confirmed on the topic");
      const copy = { key: confirmed.key, value: confirmed.value, headers: confirmed.headers };
      const renamed = {
        ...copy,
        value: confirmed.value.replace(/"id":"[0-9a-f-]{36}"/, `"id":"${crypto.randomUUID()}"`),
      };
      await reader.publishWire("booking.events", [copy, renamed]);
      await new Promise((resolve) => setTimeout(resolve, 3000));

      const released = (await eventsOf("payment.events", booking.booking_id)).filter(
        (e) => e.type === "payment.escrow_released",
      );
      expect(released).toHaveLength(1);
      const payment = await paymentOf(booking.booking_id);
      expect([payment.status, payment.captured_cents]).toEqual([
        "captured",
        booking.estimated_price_cents,
      ]);
    });

    it("money adds up: every completed booking's payout + fee = captured, no cancelled booking keeps captured money", async () => {
      const admin = system.token("admin", "admin-audit");
      const bookings: BookingEntity[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=100&cursor=${cursor}` : "?limit=100";
        const page = await system.api<{ items: BookingEntity[]; next_cursor: string | null }>(
          "GET",
          `/api/bookings${query}`,
          {
            token: admin,
          },
        );
        bookings.push(...page.body.items);
        cursor = page.body.next_cursor;
      } while (cursor);
      const completed = bookings.filter((b) => b.status === "completed");
      const cancelled = bookings.filter((b) => b.status === "cancelled");
      expect([completed.length >= 2, cancelled.length >= 3]).toEqual([true, true]);
      for (const booking of completed) {
        const payment = (
          await system.api<PaymentEntity>("GET", `/api/bookings/${booking.booking_id}/payment`, {
            token: admin,
          })
        ).body;
        expect([
          booking.booking_id,
          payment.runner_payout_cents + payment.platform_fee_cents,
        ]).toEqual([booking.booking_id, payment.captured_cents]);
        expect(booking.final_price_cents).toEqual(payment.captured_cents);
      }
      for (const booking of cancelled) {
        const payment = await system.api<PaymentEntity>(
          "GET",
          `/api/bookings/${booking.booking_id}/payment`,
          { token: admin },
        );
        // Never paid (404), or nothing kept: the hold released, the capture refunded, or it failed.
        if (payment.status === 404) continue;
        expect([booking.booking_id, payment.body.status]).toEqual([
          booking.booking_id,
          expect.stringMatching(/^(canceled|refunded|failed)$/) as string,
        ]);
        expect(payment.body.captured_cents - payment.body.refunded_cents).toBeLessThanOrEqual(0);
      }
    });
  },
);
