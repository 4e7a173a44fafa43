import type { BookingEntity, PaymentEntity } from "../../contracts";
import { makeMove, proofPhoto } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, fixRecordedAt } from "../support/trips";
import { eventually } from "../support/wait";

/** A short trip (about 330 m): the runner crosses it in a second or two. */
const pickup = { lat: -6.2, lng: 106.8 };
const dropoff = { lat: -6.203, lng: 106.8 };
const trip = { pickup, dropoff };
/** NO_SHOW_FEE_CENTS's default. */
const NO_SHOW_FEE = 1_500_000;
/** NO_SHOW_WAIT, short: the test waits it out rather than editing the database of another broker. */
const WAIT_MS = 1500;

type Answer = BookingEntity & { message?: string };

/**
 * No-shows with the services split over brokers (Redis transporter, Kafka, FerretDB; the simulated
 * provider keeps its holds in the payment service's database): the arrival checks the runner's
 * track on the tracking service's broker, `booking.no_show` and `booking.returned` travel to the
 * payment service on another, and the money adds up to the hold.
 */
describeWithInfra(["kafka", "mongo", "redis"], "no-shows, services split over brokers", (infra) => {
  let system: System;
  let owner: string;

  beforeAll(async () => {
    system = await startSystem({
      infra: { kafka: infra.kafka, mongo: infra.mongo, redis: infra.redis },
      processes: [["api"], ["booking"], ["payment"], ["notification"], ["runner", "tracking"]],
      env: { MAX_SPEED_KMH: "1000", NO_SHOW_WAIT: `${WAIT_MS}ms` },
    });
    owner = system.token("owner", "owner-split-no-show");
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  const post = (path: string, token: string, body: unknown = {}) =>
    system.api<Answer>("POST", path, { token, body });
  const get = <T>(path: string, token: string) => system.api<T>("GET", path, { token });
  const bookingOf = async (id: string) =>
    (await get<BookingEntity>(`/api/bookings/${id}`, owner)).body;
  const paymentOf = async (id: string) =>
    (await get<PaymentEntity>(`/api/bookings/${id}/payment`, owner)).body;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** The runner's fix at `point`, once the tracking service has it as the track's last one. */
  const at = (runner: string, id: string, point: { lat: number; lng: number }) =>
    fixRecordedAt(system, runner, id, point, 30_000);

  /** A paid booking a fresh verified runner accepted, the runner at the pickup. */
  async function accepted(name: string) {
    const runner = system.token("runner", name);
    await verifiedRunner(system, runner);
    expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
    const booking = await heldBooking(system, owner, trip);
    const id = booking.booking_id;
    expect((await post(`/api/bookings/${id}/accept`, runner)).status).toBe(200);
    await at(runner, id, pickup);
    return { id, runner, held: booking.estimated_price_cents };
  }

  /** The booking once its escrow settled (payment_status released), and its payment. */
  async function settled(id: string) {
    const booking = await eventually(
      async () => {
        const now = await bookingOf(id);
        return now.payment_status === "released" ? now : undefined;
      },
      { what: "the escrow to settle", timeoutMs: 30_000 },
    );
    return { booking, payment: await paymentOf(id) };
  }

  it("at the pickup: cancelled, the fee captured for the runner, the rest refunded", async () => {
    const { id, runner, held } = await accepted("runner-split-ns-pickup");
    expect((await post(`/api/bookings/${id}/arrive`, runner)).status).toBe(200);
    await sleep(WAIT_MS + 200);
    const declared = await post(`/api/bookings/${id}/no_show`, runner, { reason: "No answer" });
    expect([declared.status, declared.body.status]).toEqual([200, "cancelled"]);

    const { booking, payment } = await settled(id);
    expect([booking.status, booking.final_price_cents]).toEqual(["cancelled", NO_SHOW_FEE]);
    expect([payment.status, payment.captured_cents, payment.refunded_cents]).toEqual([
      "captured",
      NO_SHOW_FEE,
      held - NO_SHOW_FEE,
    ]);
    expect(payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents).toBe(
      held,
    );
  });

  it("at the drop-off: returning, handed back at the pickup, the fee captured, the rest refunded", async () => {
    const { id, runner, held } = await accepted("runner-split-ns-dropoff");
    for (const move of ["pickup", "depart"]) {
      expect((await makeMove(system, id, move, { runner, owner })).status).toBe(200);
    }
    await at(runner, id, dropoff);
    expect((await post(`/api/bookings/${id}/arrive`, runner)).status).toBe(200);
    await sleep(WAIT_MS + 200);
    const declared = await post(`/api/bookings/${id}/no_show`, runner);
    expect([declared.status, declared.body.status]).toEqual([200, "returning"]);

    await at(runner, id, pickup);
    const photo_id = await proofPhoto(system, id, runner, "pickup");
    const returned = await post(`/api/bookings/${id}/return_pet`, runner, { photo_id });
    expect([returned.status, returned.body.status]).toEqual([200, "returned"]);

    const { booking, payment } = await settled(id);
    expect([booking.status, booking.final_price_cents]).toEqual(["returned", NO_SHOW_FEE]);
    expect([payment.status, payment.captured_cents, payment.refunded_cents]).toEqual([
      "captured",
      NO_SHOW_FEE,
      held - NO_SHOW_FEE,
    ]);
    expect(payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents).toBe(
      held,
    );
  });
});
