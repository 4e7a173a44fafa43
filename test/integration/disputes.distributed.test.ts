import type { BookingEntity, PaymentEntity } from "../../contracts";
import { makeMove } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };

/**
 * Disputes with the services split over brokers (Redis transporter, Kafka, FerretDB; the simulated
 * provider keeps its holds in the payment service's database): the resolution travels as
 * `booking.dispute_resolved` to the payment service on another broker, and its answer back.
 */
describeWithInfra(["kafka", "mongo", "redis"], "disputes, services split over brokers", (infra) => {
  let system: System;
  let owner: string;

  beforeAll(async () => {
    system = await startSystem({
      infra: { kafka: infra.kafka, mongo: infra.mongo, redis: infra.redis },
      processes: [["api"], ["booking"], ["payment"], ["notification"], ["runner", "tracking"]],
    });
    owner = system.token("owner", "owner-split-disputes");
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  const post = (path: string, token: string, body: unknown = {}) =>
    system.api<BookingEntity>("POST", path, { token, body });
  const bookingOf = async (id: string) =>
    (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body;
  const paymentOf = async (id: string) =>
    (await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner })).body;

  async function disputed(name: string) {
    const runner = system.token("runner", name);
    await verifiedRunner(system, runner);
    expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
    const booking = await heldBooking(system, owner, trip);
    const id = booking.booking_id;
    expect((await post(`/api/bookings/${id}/accept`, runner)).status).toBe(200);
    for (const move of ["pickup", "depart", "deliver"]) {
      expect((await makeMove(system, id, move, { runner, owner })).status).toBe(200);
    }
    const report = { reason: "injured", text: "Limping after the trip" };
    expect((await post(`/api/bookings/${id}/dispute`, owner, report)).status).toBe(200);
    return { id, held: booking.estimated_price_cents };
  }

  const resolve = (id: string, body: Record<string, unknown>) =>
    post(`/api/bookings/${id}/resolve`, system.token("admin", "ops-split"), body);
  const ended = (id: string, status: string) =>
    eventually(
      async () => {
        const booking = await bookingOf(id);
        return booking.status === status ? booking : undefined;
      },
      { what: `the booking ${status}`, timeoutMs: 30_000 },
    );

  it("resolves with a partial refund: captured + refunded = held, completed at the captured price", async () => {
    const { id, held } = await disputed("runner-split-partial");
    const refund = Math.floor(held / 3);
    expect((await resolve(id, { outcome: "partial_refund", refund_cents: refund })).status).toBe(
      200,
    );
    const booking = await ended(id, "completed");
    const payment = await paymentOf(id);
    expect([booking.final_price_cents, payment.captured_cents, payment.refunded_cents]).toEqual([
      held - refund,
      held - refund,
      refund,
    ]);
    expect(payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents).toBe(
      held,
    );
  });

  it("resolves with a full refund: the hold released, the booking refunded", async () => {
    const { id, held } = await disputed("runner-split-full");
    expect((await resolve(id, { outcome: "full_refund" })).status).toBe(200);
    const booking = await ended(id, "refunded");
    const payment = await paymentOf(id);
    expect([booking.payment_status, payment.status, payment.refunded_cents]).toEqual([
      "refunded",
      "canceled",
      held,
    ]);
    expect(payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents).toBe(
      held,
    );
  });
});
