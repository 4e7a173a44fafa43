import { PaymentRejected } from "../../adapters/payments/port";
import { MemorySimulatedStore, SimulatedPaymentProvider } from "../../adapters/payments/simulated";

const hold = {
  paymentId: "pay-1",
  bookingId: "b-1",
  amountCents: 50_000,
  currency: "IDR",
  paymentMethod: "pm_card_visa",
};
const capture = (providerRef: string) => ({
  paymentId: "pay-1",
  providerRef,
  amountCents: 50_000,
  currency: "IDR",
  payoutCents: 40_000,
});

describe("simulated payment provider (Stripe's manual-capture rules)", () => {
  it("given a good card, holds; given a declined test card, declines", async () => {
    const provider = new SimulatedPaymentProvider();
    expect(await provider.authorize(hold, "pay-1:authorize")).toEqual({
      status: "held",
      providerRef: expect.stringMatching(/^sim_pi_/) as string,
    });
    expect(
      await provider.authorize(
        { ...hold, paymentMethod: "pm_card_chargeDeclined" },
        "pay-2:authorize",
      ),
    ).toEqual({
      status: "declined",
      providerRef: null,
      reason: "card_declined",
    });
  });

  it("replays the first answer under the same idempotency key, and runs the step once", async () => {
    const provider = new SimulatedPaymentProvider();
    const first = await provider.authorize(hold, "pay-1:authorize");
    expect(await provider.authorize(hold, "pay-1:authorize")).toEqual(first);
    if (first.status !== "held") throw new Error("not held");
    expect(await provider.capture(capture(first.providerRef), "pay-1:capture")).toEqual({
      capturedCents: 50_000,
    });
    expect(await provider.capture(capture(first.providerRef), "pay-1:capture")).toEqual({
      capturedCents: 50_000,
    });
    await expect(
      provider.capture(capture(first.providerRef), "pay-1:capture-again"),
    ).rejects.toThrow(new PaymentRejected("cannot capture a succeeded payment"));
  });

  it("cancels only a hold, refunds only a capture, never more than captured", async () => {
    const provider = new SimulatedPaymentProvider(new MemorySimulatedStore());
    const held = await provider.authorize(hold, "a");
    if (held.status !== "held") throw new Error("not held");
    await expect(provider.refund(held.providerRef, 1, "r0")).rejects.toThrow(
      "cannot refund a requires_capture payment",
    );
    await provider.cancel(held.providerRef, "c1");
    await expect(provider.capture(capture(held.providerRef), "k1")).rejects.toThrow(
      "cannot capture a canceled payment",
    );

    const other = await provider.authorize({ ...hold, paymentId: "pay-3" }, "b");
    if (other.status !== "held") throw new Error("not held");
    await provider.capture(capture(other.providerRef), "k2");
    await expect(provider.cancel(other.providerRef, "c2")).rejects.toThrow(
      "cannot cancel a succeeded payment",
    );
    expect(await provider.refund(other.providerRef, 30_000, "r1")).toEqual({
      refundedCents: 30_000,
    });
    await expect(provider.refund(other.providerRef, 30_000, "r2")).rejects.toThrow(
      "refund exceeds the captured amount",
    );
  });
});
