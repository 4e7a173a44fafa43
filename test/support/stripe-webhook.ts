import Stripe from "stripe";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import type { ApiResponse, System } from "./system";
import { eventually } from "./wait";

const signer = new Stripe("sk_test_signer");

/** Posts a Stripe webhook event to a Kilat gateway, signed as Stripe signs it. */
export function sendStripeWebhook(
  baseUrl: string,
  secret: string,
  event: { id: string; type: string; object: Record<string, unknown> },
): Promise<Response> {
  const payload = JSON.stringify({
    id: event.id,
    object: "event",
    type: event.type,
    data: { object: event.object },
  });
  return fetch(`${baseUrl}/api/webhooks/stripe`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "stripe-signature": signer.webhooks.generateTestHeaderString({ payload, secret }),
    },
    body: payload,
  });
}

/** A booking through the public API, and its owner's request to pay into escrow. */
export async function bookAndPay(
  system: System,
  ownerToken: string,
): Promise<{ booking: BookingEntity; payment: ApiResponse<PaymentEntity> }> {
  const booking = (
    await system.api<BookingEntity>("POST", "/api/bookings", {
      token: ownerToken,
      body: {
        pet_type: "dog",
        pet_name: "Bolt",
        pickup: { lat: -6.2, lng: 106.8 },
        dropoff: { lat: -6.23, lng: 106.83 },
      },
    })
  ).body;
  const payment = await system.api<PaymentEntity>(
    "POST",
    `/api/bookings/${booking.booking_id}/payment`,
    {
      token: ownerToken,
      body: {},
    },
  );
  return { booking, payment };
}

/** A booking whose escrow Stripe (stripe-mock + a signed webhook) holds. */
export async function bookAndHold(
  system: System,
  ownerToken: string,
  secret: string,
): Promise<{ booking: BookingEntity; payment: PaymentEntity }> {
  const { booking, payment: response } = await bookAndPay(system, ownerToken);
  const payment = response.body;
  const held = await sendStripeWebhook(system.url, secret, {
    id: `evt_held_${booking.booking_id}`,
    type: "payment_intent.amount_capturable_updated",
    object: { id: payment.provider_ref, object: "payment_intent" },
  });
  if (held.status !== 200) throw new Error(`the held webhook answered ${held.status}`);
  await eventually(
    async () => {
      const current = await system.api<BookingEntity>(
        "GET",
        `/api/bookings/${booking.booking_id}`,
        {
          token: ownerToken,
        },
      );
      return current.body.payment_status === "held" ? true : undefined;
    },
    { what: "the escrow to be held" },
  );
  return { booking, payment };
}
