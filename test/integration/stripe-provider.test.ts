import Stripe from "stripe";
import { StripePaymentProvider } from "../../adapters/payments/stripe";
import { describeWithInfra } from "../support/infra";

interface RequestSeen {
  method: string;
  path: string;
  idempotency_key?: string;
}

/** The Stripe adapter against stripe-mock, which checks every request against Stripe's OpenAPI spec. */
describeWithInfra(["stripe"], "Stripe payment provider (stripe-mock)", (infra) => {
  const url = new URL(infra.stripe);
  const stripe = new Stripe("sk_test_provider", {
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
  });
  const seen: RequestSeen[] = [];
  // The SDK's typings leave on() untyped; it emits one "request" event per API call.
  (stripe as unknown as { on(name: "request", listener: (event: RequestSeen) => void): void }).on(
    "request",
    (event) =>
      seen.push({ method: event.method, path: event.path, idempotency_key: event.idempotency_key }),
  );
  const provider = new StripePaymentProvider(stripe);

  beforeEach(() => seen.splice(0));

  it("authorises with a manual-capture PaymentIntent under the step's idempotency key", async () => {
    const result = await provider.authorize(
      {
        paymentId: "pay-1",
        bookingId: "booking-1",
        amountCents: 56358,
        currency: "IDR",
        paymentMethod: "pm_card_visa",
      },
      "pay-1:authorize",
    );
    // stripe-mock answers from fixtures (status requires_payment_method): the adapter waits for
    // the webhook instead of claiming a hold. Real Stripe answers requires_capture → "held".
    expect(result).toEqual({
      status: "pending",
      providerRef: expect.stringMatching(/^pi_/) as string,
    });
    expect(seen).toEqual([
      { method: "POST", path: "/v1/payment_intents", idempotency_key: "pay-1:authorize" },
    ]);
  });

  it("captures, then transfers the runner's share when they have a connected account", async () => {
    const captured = await provider.capture(
      {
        paymentId: "pay-2",
        providerRef: "pi_123",
        amountCents: 50000,
        currency: "IDR",
        payoutCents: 40000,
        destination: "acct_runner",
      },
      "pay-2:capture",
    );
    expect(captured).toEqual({ capturedCents: 50000 });
    expect(seen.map((request) => [request.method, request.path, request.idempotency_key])).toEqual([
      ["POST", "/v1/payment_intents/pi_123/capture", "pay-2:capture"],
      ["POST", "/v1/transfers", "pay-2:capture:transfer"],
    ]);
  });

  it("captures without a transfer when the runner has no connected account", async () => {
    await provider.capture(
      {
        paymentId: "pay-4",
        providerRef: "pi_321",
        amountCents: 50000,
        currency: "IDR",
        payoutCents: 40000,
      },
      "pay-4:capture",
    );
    expect(seen.map((request) => request.path)).toEqual(["/v1/payment_intents/pi_321/capture"]);
  });

  it("captures less than the hold (a dispute's partial refund) with amount_to_capture, and transfers the runner's share of it", async () => {
    const capture = jest.spyOn(stripe.paymentIntents, "capture");
    const captured = await provider.capture(
      {
        paymentId: "pay-5",
        providerRef: "pi_partial",
        amountCents: 37_500,
        currency: "IDR",
        payoutCents: 30_000,
        destination: "acct_runner",
      },
      "pay-5:capture",
    );
    expect(captured).toEqual({ capturedCents: 37_500 });
    expect(capture).toHaveBeenCalledWith(
      "pi_partial",
      { amount_to_capture: 37_500 },
      { idempotencyKey: "pay-5:capture" },
    );
    expect(seen.map((request) => [request.method, request.path])).toEqual([
      ["POST", "/v1/payment_intents/pi_partial/capture"],
      ["POST", "/v1/transfers"],
    ]);
    capture.mockRestore();
  });

  it("cancels a hold and refunds a capture, each under its own key", async () => {
    await provider.cancel("pi_456", "pay-3:cancel");
    const refund = await provider.refund("pi_789", 1200, "pay-3:refund");
    expect(refund.refundedCents).toEqual(expect.any(Number) as number);
    expect(seen.map((request) => [request.method, request.path, request.idempotency_key])).toEqual([
      ["POST", "/v1/payment_intents/pi_456/cancel", "pay-3:cancel"],
      ["POST", "/v1/refunds", "pay-3:refund"],
    ]);
  });
});
