import type { ServiceBroker } from "moleculer";
import { createEvent } from "../../events/envelope";
import type { PaymentDoc } from "../../models/payment.model";
import { bookingEvents, settleEnded } from "../../services/payment/escrow";
import type { PaymentThis } from "../../services/payment/models";
import { renewHolds } from "../../services/payment/schedule";
import { describeWithInfra } from "../support/infra";
import { heldBooking } from "../support/trips";
import { startSystem, type System } from "../support/system";

const HOUR = 3_600_000;
const trip = { pickup: { lat: -6.2, lng: 106.8 }, dropoff: { lat: -6.25, lng: 106.85 } };

function paymentService(brokers: ServiceBroker[]): PaymentThis {
  const service = brokers.map((broker) => broker.getLocalService("payment")).find(Boolean);
  if (!service) throw new Error("no payment service here");
  return service as PaymentThis;
}

/** A point a call waits at: `arrived` once it is there, on until `open()`. */
function pausePoint() {
  let reach = () => {};
  let open = () => {};
  const arrived = new Promise<void>((resolve) => (reach = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    arrived,
    open,
    wait: async () => {
      reach();
      await opened;
    },
  };
}

type Settle = "capture" | "release";

/**
 * A hold renewal racing a capture (delivery confirmed) or a release (booking cancelled), each
 * interleaving forced by pausing one side at a provider call or at a write: once both finish one
 * hold at most is live at the provider, the payment names the one captured or released, and
 * payout + fee + refunded = held.
 */
describeWithInfra(["mongo"], "a hold renewal racing a capture or a release", (infra) => {
  let system: System;
  const prefix = `renrace${Date.now().toString(36)}`;

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
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const payments = () => paymentService(system.brokers);
  const stored = async (bookingId: string) => {
    const doc = await payments()
      .models.payments.findOne({ booking_id: bookingId })
      .lean<PaymentDoc>();
    if (!doc) throw new Error(`no payment of ${bookingId}`);
    return doc;
  };
  const intentStatus = async (ref: string | null) =>
    (await payments().models.simulatedIntents.findById(String(ref)).lean())?.status;

  /** A held booking whose hold lapses within the renewal margin: its id and hold A. */
  async function lapsingHold(name: string) {
    const owner = system.token("owner", `owner-${name}`);
    const bookingId = (await heldBooking(system, owner, trip)).booking_id;
    await payments().models.payments.updateOne(
      { booking_id: bookingId },
      { $set: { hold_expires_at: new Date(Date.now() + HOUR) } },
    );
    const held = await stored(bookingId);
    if (!held.provider_ref) throw new Error("not held");
    return { bookingId, ownerId: held.owner_id, holdA: held.provider_ref };
  }

  const settle = async (kind: Settle, bookingId: string, ownerId: string) => {
    if (kind === "release") return settleEnded(payments(), bookingId, "booking cancelled");
    const at = new Date().toISOString();
    const confirmed = bookingEvents["booking.delivery_confirmed"];
    if (!confirmed) throw new Error("no handler");
    const data = {
      booking_id: bookingId,
      booking_number: bookingId,
      runner_id: "runner-race",
      owner_id: ownerId,
      delivered_at: at,
      occurred_at: at,
    };
    const event = createEvent("booking.delivery_confirmed", data, { service: "booking" });
    const meta = { topic: "t", partition: 0, offset: "0", groupId: "g", attempt: 1 };
    return confirmed.call(payments(), event, meta);
  };

  /** Which hold ended as what: the one settled, the other released; the money adds up. */
  async function expectSettled(kind: Settle, bookingId: string, settled: string, other: string) {
    const after = await stored(bookingId);
    expect(after.provider_ref).toBe(settled);
    expect(after.releasing_ref ?? null).toBeNull();
    expect(await intentStatus(other)).toBe("canceled");
    if (kind === "capture") {
      expect(after.status).toBe("captured");
      expect(await intentStatus(settled)).toBe("succeeded");
    } else {
      expect(after.status).toBe("canceled");
      expect(await intentStatus(settled)).toBe("canceled");
      expect(after.refunded_cents).toBe(after.amount_cents);
    }
    expect(after.runner_payout_cents + after.platform_fee_cents + after.refunded_cents).toBe(
      after.amount_cents,
    );
  }

  /** Pauses the renewal once its new hold B is placed, before it is recorded. */
  function pauseRenewalAfterPlacing() {
    const point = pausePoint();
    const { provider } = payments();
    const authorize = provider.authorize.bind(provider);
    jest.spyOn(provider, "authorize").mockImplementation(async (request, key) => {
      const answer = await authorize(request, key);
      if (key.includes(":renew")) await point.wait();
      return answer;
    });
    return point;
  }

  /** Pauses the release of hold `ref` by the renewal (B recorded, A not released yet). */
  function pauseRenewalRelease(ref: string) {
    const point = pausePoint();
    const { provider } = payments();
    const cancel = provider.cancel.bind(provider);
    jest.spyOn(provider, "cancel").mockImplementation(async (providerRef, key) => {
      if (providerRef === ref && key.includes(":unrenew")) await point.wait();
      return cancel(providerRef, key);
    });
    return point;
  }

  /** Pauses a capture's or release's claim of the hold, after it read the payment. */
  function pauseClaim() {
    const point = pausePoint();
    const store = payments().aggregate(payments().models.payments, "payment");
    const save = store.save.bind(store);
    jest.spyOn(store, "save").mockImplementation(async (id, before, decision) => {
      if ("settling_at" in decision.changes) await point.wait();
      return save(id, before, decision);
    });
    return point;
  }

  describe.each<Settle>(["capture", "release"])("%s", (kind) => {
    it(`renewal places B, the ${kind} runs to its end on A, then the renewal records: A is settled, B released`, async () => {
      const { bookingId, ownerId, holdA } = await lapsingHold(`${kind}-first`);
      const paused = pauseRenewalAfterPlacing();
      const renewing = renewHolds.call(payments());
      await paused.arrived;
      await settle(kind, bookingId, ownerId);
      paused.open();
      await renewing;
      const after = await stored(bookingId);
      expect(after.renewals ?? 0).toBe(0);
      expect(after.provider_ref).toBe(holdA);
      expect(await intentStatus(holdA)).toBe(kind === "capture" ? "succeeded" : "canceled");
      // Every hold the renewal placed for this payment went back.
      const placed = await payments().models.simulatedIntents.find({
        _id: { $nin: [holdA] },
        canceled_by: new RegExp(`^${after._id}:unrenew`),
      });
      expect(placed).toHaveLength(1);
      expect(placed[0].status).toBe("canceled");
      await expectSettled(kind, bookingId, holdA, placed[0]._id);
    });

    it(`the ${kind} reads A, the renewal records B and releases A, then the ${kind} claims: B is settled`, async () => {
      const { bookingId, ownerId, holdA } = await lapsingHold(`${kind}-read-first`);
      const paused = pauseClaim();
      const settling = settle(kind, bookingId, ownerId);
      await paused.arrived;
      expect(await renewHolds.call(payments())).toBeGreaterThan(0);
      const renewed = await stored(bookingId);
      expect([renewed.renewals, renewed.releasing_ref]).toEqual([1, null]);
      const holdB = renewed.provider_ref;
      if (!holdB) throw new Error("no hold B");
      paused.open();
      await settling;
      await expectSettled(kind, bookingId, holdB, holdA);
    });

    it(`the renewal records B, the ${kind} runs to its end before A is released: B is settled, A released`, async () => {
      const { bookingId, ownerId, holdA } = await lapsingHold(`${kind}-between`);
      const paused = pauseRenewalRelease(holdA);
      const renewing = renewHolds.call(payments());
      await paused.arrived;
      const holdB = (await stored(bookingId)).provider_ref;
      if (!holdB || holdB === holdA) throw new Error("no hold B");
      await settle(kind, bookingId, ownerId);
      paused.open();
      await renewing;
      await expectSettled(kind, bookingId, holdB, holdA);
    });
  });
});
