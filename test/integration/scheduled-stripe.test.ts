import Stripe from "stripe";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { StripePaymentProvider } from "../../adapters/payments/stripe";
import type { PaymentThis } from "../../services/payment/models";
import { holdSavedCards } from "../../services/payment/schedule";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";

const DAY = 24 * 3_600_000;

/**
 * A scheduled booking's card with Stripe (stripe-mock checks every request against Stripe's
 * OpenAPI spec) and its payment stored in FerretDB: a customer and a SetupIntent for off-session
 * use, then an off-session PaymentIntent on the saved card when the stored hold time comes.
 */
describeWithInfra(["stripe", "mongo"], "scheduled holds with Stripe (stripe-mock)", (infra) => {
  it("saves the card with a SetupIntent for the owner's customer", async () => {
    const url = new URL(infra.stripe);
    const stripe = new Stripe("sk_test_schedule", {
      host: url.hostname,
      port: Number(url.port),
      protocol: "http",
    });
    const provider = new StripePaymentProvider(stripe);
    const saved = await provider.saveCard(
      { paymentId: "pay-1", bookingId: "b-1", ownerId: "owner-1", paymentMethod: "pm_card_visa" },
      "pay-1:save",
    );
    expect(saved).toEqual({
      setupRef: expect.stringMatching(/^seti_/) as string,
      customerRef: expect.stringMatching(/^cus_/) as string,
      paymentMethod: expect.stringMatching(/^pm_/) as string,
    });
    // Off-session on the saved card: stripe-mock answers from a fixture (requires_payment_method),
    // so the adapter waits for the webhook; what matters is that Stripe took the request.
    const hold = await provider.authorize(
      {
        paymentId: "pay-1",
        bookingId: "b-1",
        amountCents: 56358,
        currency: "IDR",
        paymentMethod: saved.paymentMethod,
        offSession: { customerRef: saved.customerRef },
      },
      "pay-1:authorize",
    );
    expect(hold).toEqual({
      status: "pending",
      providerRef: expect.stringMatching(/^pi_/) as string,
    });
  });

  describe("through the API", () => {
    let system: System;
    beforeAll(async () => {
      system = await startSystem({ infra: { mongo: infra.mongo, stripe: infra.stripe } });
    });
    afterAll(async () => {
      await system?.stop();
    });

    it("a booking 10 days ahead saves the card, and its stored hold time places the hold", async () => {
      const owner = system.token("owner", "owner-stripe-ahead");
      const created = await system.api<BookingEntity>("POST", "/api/bookings", {
        token: owner,
        body: {
          pet_type: "cat",
          pet_name: "Mochi",
          pickup: { lat: -6.2, lng: 106.8 },
          dropoff: { lat: -6.25, lng: 106.85 },
          pickup_at: new Date(Date.now() + 10 * DAY).toISOString(),
        },
      });
      expect(created.status).toBe(201);
      const id = created.body.booking_id;
      const paid = await system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
        token: owner,
        body: {},
      });
      expect([paid.status, paid.body.status, paid.body.provider]).toEqual([
        201,
        "card_saved",
        "stripe",
      ]);

      const payments = system.brokers
        .map((broker) => broker.getLocalService("payment"))
        .find(Boolean) as PaymentThis;
      const stored = await payments.models.payments.findOne({ booking_id: id }).lean();
      expect([stored?.setup_ref?.slice(0, 5), stored?.customer_ref?.slice(0, 4)]).toEqual([
        "seti_",
        "cus_",
      ]);
      await payments.models.payments.updateOne(
        { booking_id: id },
        { $set: { hold_at: new Date(Date.now() - 1000) } },
      );
      expect(await holdSavedCards.call(payments)).toBe(1);
      const placed = await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, {
        token: owner,
      });
      expect([placed.body.status, placed.body.provider_ref?.slice(0, 3)]).toEqual([
        "pending",
        "pi_",
      ]);
    });
  });
});
