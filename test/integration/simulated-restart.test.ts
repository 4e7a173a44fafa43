import type { ServiceBroker } from "moleculer";
import { createBroker } from "../../services";
import { loadConfig } from "../../lib/config";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { makeMoveOn } from "../support/handover";
import { describeWithInfra, uniqueName } from "../support/infra";
import { verifiedRunnerOn } from "../support/runners";
import { ANYWHERE } from "../support/service-area";
import { eventually } from "../support/wait";

describeWithInfra(
  ["mongo"],
  "embedded payments survive a restart (simulated provider on FerretDB)",
  (infra) => {
    const brokers: ServiceBroker[] = [];
    afterAll(async () => {
      for (const broker of brokers) await broker.stop();
    });

    it("captures after a restart a hold placed before it", async () => {
      const config = loadConfig({
        LOG_LEVEL: "error",
        MONGO_URL: infra.mongo,
        MONGO_DB_PREFIX: uniqueName("simrestart"),
        SERVICE_AREA: ANYWHERE,
      });
      const who = {
        owner: { sub: "owner-sim", role: "owner" },
        runner: { sub: "runner-sim", role: "runner" },
      } as const;
      const owner = { meta: { user: who.owner } };
      const runner = { meta: { user: who.runner } };
      const start = async () => {
        const broker = createBroker(config, { services: ["booking", "payment", "runner"] });
        brokers.push(broker);
        await broker.start();
        return broker;
      };

      const before = await start();
      const booking = await before.call<BookingEntity, Record<string, unknown>>(
        "booking.create",
        {
          pet_type: "cat",
          pet_name: "Mochi",
          pickup: { lat: 1, lng: 1 },
          dropoff: { lat: 1.02, lng: 1 },
        },
        owner,
      );
      const payment = await before.call<PaymentEntity, { id: string }>(
        "payment.create",
        { id: booking.booking_id },
        owner,
      );
      expect(payment.status).toEqual("held");
      await eventually(async () => {
        const current = await before.call<BookingEntity, { id: string }>(
          "booking.get",
          { id: booking.booking_id },
          owner,
        );
        return current.payment_status === "held" ? true : undefined;
      });
      await before.stop();

      const after = await start();
      await verifiedRunnerOn(after, who.runner);
      await after.call("runner.online", { lat: 1, lng: 1 }, runner);
      for (const action of ["accept", "pickup", "depart", "deliver"]) {
        await makeMoveOn(after, booking.booking_id, action, who);
      }
      await after.call("booking.confirm", { id: booking.booking_id }, owner);
      const completed = await eventually(async () => {
        const current = await after.call<BookingEntity, { id: string }>(
          "booking.get",
          { id: booking.booking_id },
          owner,
        );
        return current.status === "completed" ? current : undefined;
      });
      const settled = await after.call<PaymentEntity, { id: string }>(
        "payment.get",
        { id: booking.booking_id },
        owner,
      );
      expect([settled.status, settled.captured_cents, completed.final_price_cents]).toEqual([
        "captured",
        booking.estimated_price_cents,
        booking.estimated_price_cents,
      ]);
    });
  },
);
