import type { ServiceBroker } from "moleculer";
import type { Model } from "mongoose";
import { createBroker } from "../../services";
import { loadConfig, type Config } from "../../lib/config";
import { runtimeOf } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import type { BookingEntity } from "../../contracts";
import { describeWithInfra, uniqueName } from "../support/infra";
import { ANYWHERE } from "../support/service-area";
import { eventually } from "../support/wait";

describeWithInfra(["mongo"], "auto-confirm survives a restart (FerretDB)", (infra) => {
  const brokers: ServiceBroker[] = [];
  afterAll(async () => {
    for (const broker of brokers) await broker.stop();
  });

  const start = async (config: Config) => {
    // The runner service too: a runner accepts only once it is online there.
    const broker = createBroker(config, { services: ["booking", "runner"] });
    brokers.push(broker);
    await broker.start();
    const bookings = (
      broker.getLocalService("booking") as unknown as { models: { bookings: Model<BookingDoc> } }
    ).models.bookings;
    return { broker, bookings };
  };

  it("confirms, after the process restarted, a delivery the owner left unconfirmed", async () => {
    const config = loadConfig({
      LOG_LEVEL: "error",
      MONGO_URL: infra.mongo,
      MONGO_DB_PREFIX: uniqueName("autoconfirm"),
      SERVICE_AREA: ANYWHERE,
      AUTO_CONFIRM_AFTER: "2s",
    });
    const owner = { sub: "owner-auto", role: "owner" };
    const runner = { sub: "runner-auto", role: "runner" };
    const first = await start(config);
    const booking = await first.broker.call<BookingEntity, Record<string, unknown>>(
      "booking.create",
      {
        pet_type: "dog",
        pet_name: "Rex",
        pickup: { lat: 1, lng: 1 },
        dropoff: { lat: 1.01, lng: 1 },
      },
      { meta: { user: owner } },
    );
    // Arranged: the escrow is held (the payment service is not part of this test).
    await first.bookings.updateOne(
      { _id: booking.booking_id },
      { $set: { payment_status: "held" } },
    );
    await first.broker.call("runner.online", { lat: 1, lng: 1 }, { meta: { user: runner } });
    for (const action of ["accept", "pickup", "depart", "deliver"]) {
      await first.broker.call(
        `booking.${action}`,
        { id: booking.booking_id },
        { meta: { user: runner } },
      );
    }
    const delivered = await first.bookings.findById(booking.booking_id).lean<BookingDoc>();
    expect(delivered?.status).toEqual("delivered");
    await first.broker.stop(); // the process goes away before the window closes

    const second = await start(config);
    const confirmed = await eventually(
      async () => {
        const doc = await second.bookings.findById(booking.booking_id).lean<BookingDoc>();
        return doc?.status === "confirmed" ? doc : undefined;
      },
      { what: "the auto-confirmation" },
    );
    expect(confirmed.confirmed_at?.getTime()).toBeGreaterThanOrEqual(
      delivered?.auto_confirm_at?.getTime() ?? Infinity,
    );
    const published = await eventually(async () => {
      const records = await runtimeOf(second.broker).bus.readTopic("booking.events");
      const types = records
        .filter((r) => r.key === booking.booking_id)
        .map((r) => (JSON.parse(r.value) as { type: string }).type);
      return types.includes("booking.delivery_confirmed") ? types : undefined;
    });
    expect(published.filter((type) => type === "booking.delivery_confirmed")).toHaveLength(1);
  });
});
