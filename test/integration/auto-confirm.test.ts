import type { ServiceBroker } from "moleculer";
import type { Model } from "mongoose";
import { createBroker } from "../../services";
import { loadConfig, type Config } from "../../lib/config";
import { runtimeOf } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import type { BookingEntity } from "../../contracts";
import { makeMoveOn } from "../support/handover";
import { describeWithInfra, uniqueName } from "../support/infra";
import { verifiedRunnerOn } from "../support/runners";
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
    const owner = { sub: "owner-auto", role: "owner" } as const;
    const runner = { sub: "runner-auto", role: "runner" } as const;
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
    await verifiedRunnerOn(first.broker, runner);
    await first.broker.call("runner.online", { lat: 1, lng: 1 }, { meta: { user: runner } });
    for (const action of ["accept", "pickup", "depart", "deliver"]) {
      await makeMoveOn(first.broker, booking.booking_id, action, { runner, owner });
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

  it("auto-confirms and expires due bookings behind more than a page of ones that cannot be moved", async () => {
    const config = loadConfig({
      LOG_LEVEL: "fatal", // each unmovable booking logs a warning per try
      MONGO_URL: infra.mongo,
      MONGO_DB_PREFIX: uniqueName("starved"),
      SERVICE_AREA: ANYWHERE,
      AUTO_CONFIRM_AFTER: "2s",
      PAYMENT_TIMEOUT: "2s",
    });
    const owner = { sub: "owner-starved", role: "owner" } as const;
    const runner = { sub: "runner-starved", role: "runner" } as const;
    const { broker, bookings } = await start(config);
    // Arranged: 101 delivered and 101 unpaid bookings, due long ago, in a shape no move takes
    // (written before a schema change, say), stored before the good ones.
    const longAgo = Date.now() - 3_600_000;
    const unmovable = (status: string, field: string) =>
      Array.from({ length: 101 }, (_, i) => ({
        _id: `broken-${status}-${String(i).padStart(3, "0")}`,
        status,
        payment_status: status === "delivered" ? "held" : "unpaid",
        [field]: new Date(longAgo + i),
      }));
    await bookings.collection.insertMany([
      ...unmovable("delivered", "auto_confirm_at"),
      ...unmovable("requested", "payment_due_at"),
    ] as never[]);
    const create = () =>
      broker.call<BookingEntity, Record<string, unknown>>(
        "booking.create",
        {
          pet_type: "dog",
          pet_name: "Rex",
          pickup: { lat: 1, lng: 1 },
          dropoff: { lat: 1.01, lng: 1 },
        },
        { meta: { user: owner } },
      );
    const toDeliver = await create();
    await bookings.updateOne({ _id: toDeliver.booking_id }, { $set: { payment_status: "held" } });
    await verifiedRunnerOn(broker, runner);
    await broker.call("runner.online", { lat: 1, lng: 1 }, { meta: { user: runner } });
    for (const action of ["accept", "pickup", "depart", "deliver"]) {
      await makeMoveOn(broker, toDeliver.booking_id, action, { runner, owner });
    }
    const unpaid = await create();

    const statusOf = async (id: string) =>
      (await bookings.findById(id, { status: 1 }).lean<BookingDoc>())?.status;
    const settled = await eventually(
      async () => {
        const both = [await statusOf(toDeliver.booking_id), await statusOf(unpaid.booking_id)];
        return both.join() === "confirmed,expired" ? both : undefined;
      },
      { what: "the good bookings moved", timeoutMs: 30_000 },
    );
    expect(settled).toEqual(["confirmed", "expired"]);
    // The unmovable ones are still there, unmoved (and still tried).
    expect(
      await bookings.countDocuments({
        _id: /^broken-/,
        status: { $in: ["delivered", "requested"] },
      }),
    ).toEqual(202);
  });
});
