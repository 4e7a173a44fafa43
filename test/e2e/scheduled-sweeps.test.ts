import type { ServiceBroker } from "moleculer";
import type { BookingEntity, PaymentEntity, PaymentEscalation } from "../../contracts";
import type { PaymentDoc } from "../../models/payment.model";
import type { PaymentThis } from "../../services/payment/models";
import { holdSavedCards, renewHolds } from "../../services/payment/schedule";
import { describeWithInfra } from "../support/infra";
import { heldBooking } from "../support/trips";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** What one sweep reads at most (services/payment/schedule.ts). */
const PAGE = 100;
/** Far from any runner: dispatch searches, nobody is offered it. */
const trip = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.25, lng: 106.85 } };

function paymentService(brokers: ServiceBroker[]): PaymentThis {
  const service = brokers.map((broker) => broker.getLocalService("payment")).find(Boolean);
  if (!service) throw new Error("no payment service here");
  return service as PaymentThis;
}

/**
 * The payment service's sweeps (saved cards held off-session, holds renewed) go on past a page of
 * payments that fail every time, and what they could not do reaches operations: the failed holds
 * and renewals on the operations page's list, with the deadline that counts.
 */
describeWithInfra(["mongo"], "the scheduled payments' sweeps", (infra) => {
  let system: System;
  const prefix = `schsw${Date.now().toString(36)}`;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      // The periodic sweeps stay out of the way: the tests run them.
      env: { MONGO_DB_PREFIX: prefix, NAMESPACE: prefix, SCHEDULE_SWEEP_MS: String(HOUR) },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  const payments = () => paymentService(system.brokers);
  const book = async (token: string, pickupAt: Date) => {
    const created = await system.api<BookingEntity>("POST", "/api/bookings", {
      token,
      body: { pet_type: "dog", pet_name: "Rex", ...trip, pickup_at: pickupAt.toISOString() },
    });
    expect(created.status).toBe(201);
    return created.body.booking_id;
  };
  const pay = (token: string, id: string, paymentMethod = "pm_card_visa") =>
    system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
      token,
      body: { payment_method: paymentMethod },
    });
  const stored = async (id: string) => {
    const doc = await payments().models.payments.findOne({ booking_id: id }).lean<PaymentDoc>();
    if (!doc) throw new Error(`no payment of ${id}`);
    return doc;
  };

  /**
   * A page of copies of `template`, due before it, whose provider calls throw every time (an
   * unreadable record, a provider bug): their ids, and the provider's spy to restore.
   */
  async function failingPage(template: PaymentDoc, due: Partial<PaymentDoc>) {
    const ids = Array.from({ length: PAGE }, (_, i) => `bad-${template._id}-${i}`);
    await payments().models.payments.insertMany(
      ids.map((id) => ({
        ...template,
        ...due,
        _id: id,
        booking_id: `booking-${id}`,
        outbox: [],
      })),
    );
    const { provider } = payments();
    const authorize = provider.authorize.bind(provider);
    const spy = jest.spyOn(provider, "authorize").mockImplementation((request, key) => {
      if (ids.includes(request.paymentId)) throw new Error("unreadable payment");
      return authorize(request, key);
    });
    return {
      spy,
      tried: () => spy.mock.calls.filter(([request]) => ids.includes(request.paymentId)).length,
      remove: async () => {
        spy.mockRestore();
        await payments().models.payments.deleteMany({ _id: { $in: ids } });
      },
    };
  }

  it("holds a saved card behind a page of payments that fail every time, within two runs", async () => {
    const owner = system.token("owner", "owner-behind-bad-page");
    const id = await book(owner, new Date(Date.now() + 10 * DAY));
    expect((await pay(owner, id)).body.status).toBe("card_saved");
    await payments().models.payments.updateOne(
      { booking_id: id },
      { $set: { hold_at: new Date(Date.now() - 1000) } },
    );
    const bad = await failingPage(await stored(id), {
      hold_at: new Date(Date.now() - HOUR),
    });
    try {
      expect(await holdSavedCards.call(payments())).toBe(0);
      expect(bad.tried()).toBe(PAGE);
      expect((await stored(id)).status).toBe("card_saved");
      // The next run starts behind the page that failed.
      expect(await holdSavedCards.call(payments())).toBe(1);
      expect(bad.tried()).toBe(PAGE);
      expect((await stored(id)).status).toBe("held");
      // Then back to the front: the failing ones are tried again.
      expect(await holdSavedCards.call(payments())).toBe(0);
      expect(bad.tried()).toBe(2 * PAGE);
    } finally {
      await bad.remove();
    }
  });

  it("renews a hold behind a page of payments that fail every time, within two runs", async () => {
    const owner = system.token("owner", "owner-renewal-behind");
    const id = (await heldBooking(system, owner, trip)).booking_id;
    await payments().models.payments.updateOne(
      { booking_id: id },
      { $set: { hold_expires_at: new Date(Date.now() + HOUR) } },
    );
    const before = await stored(id);
    const bad = await failingPage(before, {
      hold_expires_at: new Date(Date.now() + 10 * 60_000),
      provider_ref: "pi_unreadable",
    });
    try {
      expect(await renewHolds.call(payments())).toBe(0);
      expect(bad.tried()).toBe(PAGE);
      expect(await renewHolds.call(payments())).toBe(1);
      const renewed = await stored(id);
      expect([renewed.renewals, renewed.releasing_ref]).toEqual([1, null]);
      expect(renewed.provider_ref).not.toBe(before.provider_ref);
    } finally {
      await bad.remove();
    }
  });

  it("lists failed off-session holds and renewals for operators, with the deadline, until settled", async () => {
    const admin = system.token("admin", "admin-escalations");
    const list = async () => {
      const listed = await system.api<{ items: PaymentEscalation[] }>(
        "GET",
        "/api/ops/payment-escalations",
        { token: admin },
      );
      expect(listed.status).toBe(200);
      return listed.body.items;
    };

    // An off-session hold declined: the owner may pay until pay_by.
    const declined = system.token("owner", "owner-hold-declined");
    const failedId = await book(declined, new Date(Date.now() + 10 * DAY));
    expect((await pay(declined, failedId, "pm_card_chargeCustomerFail")).body.status).toBe(
      "card_saved",
    );
    await payments().models.payments.updateOne(
      { booking_id: failedId },
      { $set: { hold_at: new Date(Date.now() - 1000) } },
    );
    await holdSavedCards.call(payments());
    const failed = await stored(failedId);
    expect(failed.status).toBe("failed");

    // A renewal refused: the old hold stays until it lapses.
    const lapsing = system.token("owner", "owner-renewal-refused");
    const heldId = (await heldBooking(system, lapsing, trip)).booking_id;
    const lapsesAt = new Date(Date.now() + HOUR);
    await payments().models.payments.updateOne(
      { booking_id: heldId },
      { $set: { hold_expires_at: lapsesAt, payment_method: "pm_card_chargeDeclined" } },
    );
    await renewHolds.call(payments());
    expect((await stored(heldId)).renewal_failed_at).toBeInstanceOf(Date);

    const items = await list();
    const holdFailed = items.find((item) => item.booking_id === failedId);
    expect(holdFailed).toMatchObject({
      kind: "hold_failed",
      owner_id: "owner-hold-declined",
      failure_reason: "card_declined",
      pay_by: failed.pay_by?.toISOString(),
      hold_expires_at: null,
    });
    expect(holdFailed?.booking_number).toEqual(expect.any(String));
    expect(items.find((item) => item.booking_id === heldId)).toMatchObject({
      kind: "renewal_failed",
      owner_id: "owner-renewal-refused",
      hold_expires_at: lapsesAt.toISOString(),
      pay_by: null,
    });

    // Operators only; bad paging is refused.
    const owners = await system.api("GET", "/api/ops/payment-escalations", { token: declined });
    expect(owners.status).toBe(403);
    const badLimit = await system.api("GET", "/api/ops/payment-escalations?limit=0", {
      token: admin,
    });
    expect(badLimit.status).toBe(422);

    // The owner pays again with another card: the failed hold leaves the list.
    expect((await pay(declined, failedId)).status).toBe(201);
    await eventually(
      async () => ((await list()).some((item) => item.booking_id === failedId) ? undefined : true),
      { what: "the paid booking off the list" },
    );
    expect((await list()).some((item) => item.booking_id === heldId)).toBe(true);
  });
});
