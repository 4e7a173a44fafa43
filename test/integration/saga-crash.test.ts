import { createBroker } from "../../services";
import type { Config } from "../../lib/config";
import { KafkaEventBus } from "../../adapters/event-bus";
import { createRuntime } from "../../lib/runtime";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { FlakyPublishBus } from "../support/flaky-bus";
import { makeMove } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { bookAndHold } from "../support/stripe-webhook";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const SECRET = "whsec_crash";

describeWithInfra(
  ["kafka", "mongo", "redis", "stripe"],
  "payment service down between capture and publish",
  (infra) => {
    let system: System;
    let paymentBus: FlakyPublishBus | undefined;

    beforeAll(async () => {
      system = await startSystem({
        infra,
        processes: [["api"], ["booking"], ["payment"], ["notification"], ["runner", "tracking"]],
        env: { STRIPE_WEBHOOK_SECRET: SECRET },
        busFor: (services, config: Config) => {
          if (!services.includes("payment")) return undefined;
          paymentBus = new FlakyPublishBus(createRuntime(config).bus);
          return paymentBus;
        },
      });
    }, 60000);
    afterAll(async () => {
      await system?.stop();
      await paymentBus?.close();
    });

    it("publishes payment.escrow_released exactly once after the restart, and the booking completes", async () => {
      const owner = system.token("owner", "owner-crash");
      const runner = system.token("runner", "runner-crash");
      const { booking } = await bookAndHold(system, owner, SECRET);
      const bookingOf = async () =>
        (
          await system.api<BookingEntity>("GET", `/api/bookings/${booking.booking_id}`, {
            token: owner,
          })
        ).body;
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: booking.pickup });
      for (const action of ["accept", "pickup", "depart", "deliver"]) {
        await makeMove(system, booking.booking_id, action, { runner, owner });
      }

      // The payment process loses Kafka for producing; the owner confirms; it captures.
      if (!paymentBus) throw new Error("no payment bus");
      paymentBus.publishing = false;
      await system.api("POST", `/api/bookings/${booking.booking_id}/confirm`, {
        token: owner,
        body: {},
      });
      const captured = await eventually(async () => {
        const current = (
          await system.api<PaymentEntity>("GET", `/api/bookings/${booking.booking_id}/payment`, {
            token: owner,
          })
        ).body;
        return current.status === "captured" ? current : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the relay's fast path and sweeps fail
      const reader = new KafkaEventBus({
        brokers: infra.kafka.split(","),
        clientId: "crash-reader",
        topicPrefix: system.config.kafkaTopicPrefix,
      });
      const released = async () =>
        (await reader.readTopic("payment.events")).filter(
          (r) => r.key === booking.booking_id && r.value.includes('"payment.escrow_released"'),
        );
      try {
        expect(await released()).toEqual([]);
        expect((await bookingOf()).status).toEqual("confirmed");

        // The process stops with the event unsent; a new one starts.
        const [, , oldPayment] = system.brokers;
        await oldPayment.stop();
        const restarted = createBroker({
          ...system.config,
          nodeID: `${system.config.namespace}-payment-2`,
          services: ["payment"],
        });
        system.brokers.push(restarted);
        await restarted.start();

        await eventually(
          async () => ((await bookingOf()).status === "completed" ? true : undefined),
          {
            what: "the booking to complete",
          },
        );
        const records = await released();
        expect(records).toHaveLength(1);
        const data = (
          JSON.parse(records[0].value) as {
            data: { runner_payout_cents: number; platform_fee_cents: number };
          }
        ).data;
        expect(data.runner_payout_cents + data.platform_fee_cents).toEqual(captured.captured_cents);
        expect((await bookingOf()).final_price_cents).toEqual(captured.captured_cents);
      } finally {
        await reader.close();
      }
    });
  },
);
