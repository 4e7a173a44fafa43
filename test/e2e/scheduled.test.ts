import type { ServiceBroker } from "moleculer";
import type { BookingEntity, NotificationEntity, PaymentEntity } from "../../contracts";
import { CARD_NOT_CHARGED } from "../../domain/schedule";
import type { BookingThis } from "../../services/booking/models";
import { cancelOverdue } from "../../services/booking/deadlines";
import type { PaymentThis } from "../../services/payment/models";
import { holdSavedCards, renewHolds } from "../../services/payment/schedule";
import type { RunnerThis } from "../../services/runner/models";
import { sweep as dispatchSweep } from "../../services/runner/sweep";
import { describeWithInfra } from "../support/infra";
import { heldBooking } from "../support/trips";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Far from any runner: dispatch searches, nobody is offered it. */
const trip = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.25, lng: 106.85 } };

/** A service of the system, as its own code sees it (its models, for moving its timers). */
function local<S>(brokers: ServiceBroker[], name: string): S {
  const service = brokers.map((broker) => broker.getLocalService(name)).find(Boolean);
  if (!service) throw new Error(`no ${name} service here`);
  return service as S;
}

const past = () => new Date(Date.now() - 1000);

/**
 * A booking 10 days ahead, beyond the authorisation window: its card is saved, then held
 * off-session at its stored `hold_at` (moved into the past here, not waited for), and dispatched
 * from its stored lead before the pickup; a card that declines off-session leaves the owner a
 * deadline, and past it the booking is cancelled with nothing held.
 */
describeWithInfra(["mongo"], "a booking scheduled beyond the authorisation window", (infra) => {
  let system: System;
  const prefix = `sched${Date.now().toString(36)}`;
  const start = () =>
    startSystem({
      infra: { mongo: infra.mongo },
      env: { MONGO_DB_PREFIX: prefix, NAMESPACE: prefix },
    });

  beforeAll(async () => {
    system = await start();
  });
  afterAll(async () => {
    await system?.stop();
  });

  const book = async (token: string, pickupAt: Date) =>
    system.api<BookingEntity & { errors?: { field: string }[] }>("POST", "/api/bookings", {
      token,
      body: { pet_type: "dog", pet_name: "Rex", ...trip, pickup_at: pickupAt.toISOString() },
    });
  const booking = async (token: string, id: string) =>
    (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token })).body;
  const payment = async (token: string, id: string) =>
    (await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token })).body;
  const payments = () => local<PaymentThis>(system.brokers, "payment");
  /** The saved card's time to be held has come. */
  const holdDue = (id: string) =>
    payments().models.payments.updateOne({ booking_id: id }, { $set: { hold_at: past() } });
  const inbox = async (token: string) =>
    (await system.api<{ items: NotificationEntity[] }>("GET", "/api/notifications", { token })).body
      .items;

  it("refuses a pickup in the past or beyond BOOKING_MAX_LEAD_DAYS, storing nothing", async () => {
    const owner = system.token("owner", "owner-too-far");
    for (const pickupAt of [new Date(Date.now() - HOUR), new Date(Date.now() + 31 * DAY)]) {
      const refused = await book(owner, pickupAt);
      expect(refused.status).toBe(422);
      expect(JSON.stringify(refused.body)).toContain("pickup_at");
    }
    const listed = await system.api<{ items: BookingEntity[] }>("GET", "/api/bookings", {
      token: owner,
    });
    expect(listed.body.items).toEqual([]);
  });

  it("answers a retried booking with its first answer, even once its pickup 'now' has passed", async () => {
    const owner = system.token("owner", "owner-retries-late");
    // Just inside the two minutes a pickup may lie in the past; the retry comes just outside.
    const body = {
      pet_type: "dog",
      pet_name: "Rex",
      ...trip,
      pickup_at: new Date(Date.now() - 119_000).toISOString(),
    };
    const headers = { "idempotency-key": "book-once-late" };
    const first = await system.api<BookingEntity>("POST", "/api/bookings", {
      token: owner,
      body,
      headers,
    });
    expect(first.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const retried = await system.api<BookingEntity>("POST", "/api/bookings", {
      token: owner,
      body,
      headers,
    });
    expect([retried.status, retried.body.booking_id]).toEqual([200, first.body.booking_id]);
  });

  it("saves the card, holds it off-session at hold_at, and dispatches from the lead", async () => {
    const owner = system.token("owner", "owner-next-week");
    const pickupAt = new Date(Math.floor((Date.now() + 10 * DAY) / 1000) * 1000);
    const created = await book(owner, pickupAt);
    expect(created.status).toBe(201);
    expect(created.body.pickup_at).toBe(pickupAt.toISOString());
    const id = created.body.booking_id;

    const paid = await system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
      token: owner,
      body: {},
    });
    expect(paid.status).toBe(201);
    expect([paid.body.status, paid.body.hold_at, paid.body.provider_ref]).toEqual([
      "card_saved",
      new Date(pickupAt.getTime() - DAY).toISOString(),
      null,
    ]);
    const saved = await eventually(
      async () => {
        const now = await booking(owner, id);
        return now.payment_status === "card_saved" ? now : undefined;
      },
      { what: "the booking showing the card saved" },
    );
    expect(saved.payment_due_at).toBeNull();

    // A restart between the save and the hold forgets nothing: the time is stored.
    await system.stop();
    system = await start();
    await holdDue(id);
    expect(await holdSavedCards.call(payments())).toBe(1);
    const held = await eventually(
      async () => {
        const now = await booking(owner, id);
        return now.payment_status === "held" ? now : undefined;
      },
      { what: "the off-session hold recorded on the booking" },
    );
    expect(held.accept_due_at).toBe(new Date(pickupAt.getTime() + 30 * 60_000).toISOString());
    const hold = await payment(owner, id);
    expect([hold.status, hold.hold_at, hold.amount_cents]).toEqual([
      "held",
      null,
      held.estimated_price_cents,
    ]);
    expect(Date.parse(String(hold.hold_expires_at)) - Date.now()).toBeGreaterThan(6 * DAY);
    // The sweep again: nothing is held twice.
    expect(await holdSavedCards.call(payments())).toBe(0);

    // Held, but not offered before DISPATCH_LEAD_MINUTES before the pickup.
    const runner = local<RunnerThis>(system.brokers, "runner");
    const waiting = await eventually(
      async () => {
        const doc = await runner.models.dispatches.findById(id).lean();
        return doc?.escrow_held ? doc : undefined;
      },
      { what: "dispatch knowing the escrow is held" },
    );
    expect([waiting.status, waiting.starts_at]).toEqual([
      "waiting",
      new Date(pickupAt.getTime() - 30 * 60_000),
    ]);
    await dispatchSweep.call(runner);
    expect((await runner.models.dispatches.findById(id).lean())?.status).toBe("waiting");
    await runner.models.dispatches.updateOne({ _id: id }, { $set: { starts_at: past() } });
    await dispatchSweep.call(runner);
    expect((await runner.models.dispatches.findById(id).lean())?.status).toBe("searching");
  });

  it("a card declined off-session: the owner is told the deadline, then the booking is cancelled", async () => {
    const owner = system.token("owner", "owner-card-fails");
    const pickupAt = new Date(Date.now() + 10 * DAY);
    const id = (await book(owner, pickupAt)).body.booking_id;
    const paid = await system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
      token: owner,
      body: { payment_method: "pm_card_chargeCustomerFail" },
    });
    expect([paid.status, paid.body.status]).toEqual([201, "card_saved"]);
    await eventually(
      async () => ((await booking(owner, id)).payment_status === "card_saved" ? true : undefined),
      { what: "the card saved" },
    );
    await holdDue(id);
    await holdSavedCards.call(payments());

    const failed = await payment(owner, id);
    expect([failed.status, failed.failure_reason]).toEqual(["failed", "card_declined"]);
    const payBy = Date.parse(String(failed.pay_by));
    expect(Math.abs(payBy - (Date.now() + 12 * HOUR))).toBeLessThan(60_000);
    const told = await eventually(
      async () =>
        (await inbox(owner)).find((note) => note.booking_id === id && /Pay by/.test(note.body)),
      { what: "the owner told the deadline" },
    );
    expect(told.body).toContain(new Date(payBy).toISOString().slice(0, 16).replace("T", " "));
    const unpaid = await eventually(
      async () => {
        const now = await booking(owner, id);
        return now.pay_by ? now : undefined;
      },
      { what: "the deadline on the booking" },
    );
    expect([unpaid.status, unpaid.payment_status]).toEqual(["requested", "failed"]);

    // The deadline passes unpaid.
    const bookings = local<BookingThis>(system.brokers, "booking");
    await bookings.models.bookings.updateOne({ _id: id }, { $set: { pay_by: past() } });
    await cancelOverdue.call(bookings);
    const cancelled = await booking(owner, id);
    expect([cancelled.status, cancelled.cancel_reason]).toEqual(["cancelled", CARD_NOT_CHARGED]);
    await eventually(
      async () =>
        (await inbox(owner)).find(
          (note) => note.booking_id === id && note.body.includes(CARD_NOT_CHARGED),
        ),
      { what: "the owner told why" },
    );
    const after = await payment(owner, id);
    expect([after.captured_cents, after.refunded_cents, after.provider_ref]).toEqual([0, 0, null]);
  });

  it("renews a hold about to lapse, releasing the old one; a renewal refused is escalated", async () => {
    const owner = system.token("owner", "owner-long-hold");
    const held = await heldBooking(system, owner, trip);
    const id = held.booking_id;
    const first = await payment(owner, id);
    expect(Date.parse(String(first.hold_expires_at)) - Date.now()).toBeGreaterThan(6 * DAY);
    const store = payments().models;
    const lapsesSoon = () =>
      store.payments.updateOne(
        { booking_id: id },
        { $set: { hold_expires_at: new Date(Date.now() + HOUR) } },
      );
    await lapsesSoon();
    expect(await renewHolds.call(payments())).toBe(1);
    const renewed = await store.payments.findOne({ booking_id: id }).lean();
    expect([renewed?.status, renewed?.renewals, renewed?.releasing_ref]).toEqual(["held", 1, null]);
    expect(renewed?.provider_ref).not.toBe(first.provider_ref);
    // One hold live: the old one released at the provider, the new one held.
    const statusOf = async (ref: string | null | undefined) =>
      (await store.simulatedIntents.findById(String(ref)).lean())?.status;
    expect([await statusOf(first.provider_ref), await statusOf(renewed?.provider_ref)]).toEqual([
      "canceled",
      "requires_capture",
    ]);
    const money = await payment(owner, id);
    expect([money.amount_cents, money.captured_cents, money.refunded_cents]).toEqual([
      held.estimated_price_cents,
      0,
      0,
    ]);
    // Not due any more: nothing renewed twice.
    expect(await renewHolds.call(payments())).toBe(0);

    // The card now declines: the old hold stays, the owner (and operations) hear of it.
    await store.payments.updateOne(
      { booking_id: id },
      { $set: { payment_method: "pm_card_chargeDeclined" } },
    );
    await lapsesSoon();
    await renewHolds.call(payments());
    const escalated = await store.payments.findOne({ booking_id: id }).lean();
    expect([escalated?.status, escalated?.provider_ref, escalated?.renewals]).toEqual([
      "held",
      renewed?.provider_ref,
      1,
    ]);
    expect(escalated?.renewal_failed_at).toBeInstanceOf(Date);
    await eventually(
      async () =>
        (await inbox(owner)).find(
          (note) => note.booking_id === id && note.title.includes("payment hold ending"),
        ),
      { what: "the owner told the hold could not be renewed" },
    );
    // Escalated once: the sweep leaves it to operations.
    expect(await renewHolds.call(payments())).toBe(0);
  });
});
