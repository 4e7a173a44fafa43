import type { ServiceBroker } from "moleculer";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { loadConfig } from "../../lib/config";
import type { AuthorizeRequest, PaymentProvider } from "../../adapters/payments/port";
import type { SimulatedIntentDoc } from "../../adapters/payments/simulated-intents";
import { createBroker } from "../../services";
import type { PaymentThis } from "../../services/payment/models";
import { describeWithInfra, uniqueName } from "../support/infra";
import { ANYWHERE } from "../support/service-area";
import { eventually } from "../support/wait";

/**
 * A booking cancelled while its card is being authorised: the cancellation finds the payment
 * not yet held (nothing to release), and the hold the provider then places must not stay on
 * the owner's card.
 */
describeWithInfra(["mongo"], "a booking cancelled while its card is authorised", (infra) => {
  let broker: ServiceBroker;
  afterAll(async () => {
    await broker?.stop();
  });

  it("leaves no money held: the late hold is released, refunded = held", async () => {
    const config = loadConfig({
      LOG_LEVEL: "error",
      MONGO_URL: infra.mongo,
      MONGO_DB_PREFIX: uniqueName("latehold"),
      SERVICE_AREA: ANYWHERE,
    });
    broker = createBroker(config, { services: ["booking", "payment", "runner"] });
    await broker.start();
    const owner = { meta: { user: { sub: "owner-late", role: "owner" } } };

    // The provider answers the authorisation only once the booking is cancelled.
    const payments = broker.getLocalService("payment") as unknown as PaymentThis;
    const provider: PaymentProvider = payments.provider;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    payments.provider = Object.assign(Object.create(provider) as PaymentProvider, {
      authorize: async (request: AuthorizeRequest, key: string) => {
        await gate;
        return provider.authorize(request, key);
      },
    });

    const booking = await broker.call<BookingEntity, Record<string, unknown>>(
      "booking.create",
      {
        pet_type: "cat",
        pet_name: "Mochi",
        pickup: { lat: 1, lng: 1 },
        dropoff: { lat: 1.02, lng: 1 },
      },
      owner,
    );
    const id = booking.booking_id;
    const paying = broker.call<PaymentEntity, { id: string }>("payment.create", { id }, owner);
    const opened = () => broker.call<PaymentEntity, { id: string }>("payment.get", { id }, owner);
    await eventually(async () => ((await opened()).status === "created" ? true : undefined));

    await broker.call("booking.cancel", { id, reason: "changed my mind" }, owner);
    await eventually(async () => ((await opened()).status === "canceled" ? true : undefined), {
      what: "the cancellation to reach the payment",
    });
    release();

    const answered = await paying;
    expect([answered.status, answered.refunded_cents]).toEqual([
      "canceled",
      booking.estimated_price_cents,
    ]);
    const settled = await opened();
    expect([settled.status, settled.captured_cents, settled.refunded_cents]).toEqual([
      "canceled",
      0,
      settled.amount_cents,
    ]);
    // At the provider: the hold it placed is cancelled, not waiting to be captured.
    const intent = await payments.models.simulatedIntents
      .findById(settled.provider_ref)
      .lean<SimulatedIntentDoc>();
    expect(intent?.status).toEqual("canceled");
  });
});
