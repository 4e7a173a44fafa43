import type { ServiceBroker } from "moleculer";
import type { BookingEntity, OfferEntity, PaymentEntity } from "../../contracts";
import type { PaymentThis } from "../../services/payment/models";
import type { RunnerThis } from "../../services/runner/models";
import { sweep as dispatchSweep } from "../../services/runner/sweep";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const DAY = 24 * 3_600_000;
const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };

/** A service on whichever broker hosts it, as its own code sees it (its models). */
function local<S>(brokers: ServiceBroker[], name: string): S {
  const service = brokers.map((broker) => broker.getLocalService(name)).find(Boolean);
  if (!service) throw new Error(`no ${name} service here`);
  return service as S;
}

/**
 * A booking made 10 days ahead with the services split over brokers (Redis transporter, Kafka):
 * its card saved, then held off-session by the payment service's own periodic sweep once its
 * stored `hold_at` came (moved into the past here), the hold travelling to the booking and to
 * dispatch on other brokers; dispatch waits until its stored `starts_at`, then offers it.
 */
describeWithInfra(["kafka", "mongo", "redis"], "a scheduled booking, services split", (infra) => {
  let system: System;

  beforeAll(async () => {
    system = await startSystem({
      infra: { kafka: infra.kafka, mongo: infra.mongo, redis: infra.redis },
      processes: [["api"], ["booking"], ["payment"], ["notification"], ["runner", "tracking"]],
      env: { SCHEDULE_SWEEP_MS: "500" },
    });
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  it("holds the saved card at hold_at, and offers the booking only from its starts_at", async () => {
    const owner = system.token("owner", "owner-split-scheduled");
    const runner = system.token("runner", "runner-split-scheduled");
    await verifiedRunner(system, runner);
    const online = await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: pickup,
    });
    expect(online.status).toBe(200);
    const offered = async (id: string) =>
      (
        await system.api<{ items: OfferEntity[] }>("GET", "/api/runners/me/offers", {
          token: runner,
        })
      ).body.items.some((offer) => offer.booking_id === id);
    const bookingOf = async (id: string) =>
      (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body;

    const pickupAt = new Date(Math.floor((Date.now() + 10 * DAY) / 1000) * 1000);
    const created = await system.api<BookingEntity>("POST", "/api/bookings", {
      token: owner,
      body: { pet_type: "dog", pet_name: "Rex", ...trip, pickup_at: pickupAt.toISOString() },
    });
    expect(created.status).toBe(201);
    const id = created.body.booking_id;
    const paid = await system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
      token: owner,
      body: {},
    });
    expect([paid.status, paid.body.status]).toEqual([201, "card_saved"]);
    await eventually(
      async () => ((await bookingOf(id)).payment_status === "card_saved" ? true : undefined),
      { what: "the booking showing the card saved", timeoutMs: 30_000 },
    );

    // Its time to be held comes: the payment service's sweep (every SCHEDULE_SWEEP_MS) holds it.
    const payments = local<PaymentThis>(system.brokers, "payment");
    await payments.models.payments.updateOne(
      { booking_id: id },
      { $set: { hold_at: new Date(Date.now() - 1000) } },
    );
    const held = await eventually(
      async () => {
        const booking = await bookingOf(id);
        return booking.payment_status === "held" ? booking : undefined;
      },
      { what: "the off-session hold reaching the booking", timeoutMs: 30_000 },
    );
    expect(held.status).toBe("requested");
    const payment = (
      await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner })
    ).body;
    expect([payment.status, payment.hold_at, payment.amount_cents]).toEqual([
      "held",
      null,
      held.estimated_price_cents,
    ]);

    // Dispatch knows of the hold, and waits for the lead before the pickup.
    const runners = local<RunnerThis>(system.brokers, "runner");
    const waiting = await eventually(
      async () => {
        const doc = await runners.models.dispatches.findById(id).lean();
        return doc?.escrow_held ? doc : undefined;
      },
      { what: "dispatch knowing the escrow is held", timeoutMs: 30_000 },
    );
    expect([waiting.status, waiting.starts_at]).toEqual([
      "waiting",
      new Date(pickupAt.getTime() - 30 * 60_000),
    ]);
    await dispatchSweep.call(runners);
    expect(await offered(id)).toBe(false);

    // The lead comes: the runner near the pickup is offered it.
    await runners.models.dispatches.updateOne(
      { _id: id },
      { $set: { starts_at: new Date(Date.now() - 1000) } },
    );
    await dispatchSweep.call(runners);
    await eventually(async () => ((await offered(id)) ? true : undefined), {
      what: "the offer to the runner near the pickup",
      timeoutMs: 30_000,
    });
  }, 120_000);
});
