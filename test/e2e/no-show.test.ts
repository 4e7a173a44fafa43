import type { Model } from "mongoose";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { runtimeOf } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import type { BookingThis } from "../../services/booking/models";
import { makeMove, pinOf, proofPhoto } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking, fixRecordedAt } from "../support/trips";
import { eventually } from "../support/wait";

/** A short trip (about 330 m), so the runner can move between its ends in a few seconds. */
const pickup = { lat: -6.2, lng: 106.8 };
const dropoff = { lat: -6.203, lng: 106.8 };
const trip = { pickup, dropoff };
/** About 280 m from the pickup: too far to have arrived. */
const faraway = { lat: -6.2025, lng: 106.8 };
/** PLATFORM_FEE_BPS's default, NO_SHOW_FEE_CENTS's and NO_SHOW_WAIT's. */
const FEE_BPS = 2000;
const NO_SHOW_FEE = 1_500_000;
const WAIT_MS = 10 * 60_000;

type Answer = BookingEntity & { type?: string; message?: string; data?: Record<string, unknown> };

/**
 * No-shows through the public API: the runner reports its arrival (its tracked position checked),
 * waits NO_SHOW_WAIT (moved back in the database, not slept), and declares that nobody came. At
 * the pickup the booking is cancelled, the fee captured for the runner and the rest refunded; at
 * the drop-off the pet goes back to the pickup on a tracked leg, and the booking ends returned.
 */
function noShowSuite(
  name: string,
  infraNeeded: ("mongo" | "stripe")[],
  withStripe: boolean,
  mode: "return" | "ops" = "return",
) {
  describeWithInfra(infraNeeded, name, (infra) => {
    let system: System;
    let owner: string;

    beforeAll(async () => {
      system = await startSystem({
        infra: { mongo: infra.mongo, ...(withStripe ? { stripe: infra.stripe } : {}) },
        // The runner crosses the short trip in a second or two.
        env: { MAX_SPEED_KMH: "1000", NO_SHOW_DROPOFF: mode },
      });
      owner = system.token("owner", `owner-no-show-${withStripe ? "stripe" : "sim"}-${mode}`);
    });
    afterAll(async () => {
      await system?.stop();
    });

    const post = (path: string, token: string, body: unknown = {}) =>
      system.api<Answer>("POST", path, { token, body });
    const get = <T>(path: string, token?: string) => system.api<T>("GET", path, { token });
    const bookingOf = async (id: string) =>
      (await get<BookingEntity>(`/api/bookings/${id}`, owner)).body;
    const paymentOf = async (id: string) =>
      (await get<PaymentEntity>(`/api/bookings/${id}/payment`, owner)).body;
    const bookings = () =>
      (
        system.brokers[0].getLocalService("booking") as unknown as BookingThis & {
          models: { bookings: Model<BookingDoc> };
        }
      ).models.bookings;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    /** The runner's fix at `point`, once the track has it as its last position. */
    const at = (runner: string, id: string, point: { lat: number; lng: number }) =>
      fixRecordedAt(system, runner, id, point);

    /** The arrival at `where`, as if it was reported NO_SHOW_WAIT (and a second) ago. */
    const waited = (id: string, where: "pickup" | "dropoff") =>
      bookings().updateOne(
        { _id: id },
        { $set: { [`arrived_at_${where}`]: new Date(Date.now() - WAIT_MS - 1000) } },
      );

    /** The booking's events as published, in order. */
    async function publishedTypes(id: string): Promise<string[]> {
      const records = await runtimeOf(system.brokers[0]).bus.readTopic("booking.events");
      return records
        .filter((record) => record.key === id)
        .map((record) => (JSON.parse(record.value) as { type: string }).type);
    }

    /** A paid booking a fresh verified runner accepted, the runner at the pickup. */
    async function accepted(runnerName: string) {
      const runner = system.token("runner", runnerName);
      await verifiedRunner(system, runner);
      expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
      const booking = await heldBooking(system, owner, trip);
      const id = booking.booking_id;
      expect((await post(`/api/bookings/${id}/accept`, runner)).status).toBe(200);
      await at(runner, id, pickup);
      return { id, runner, held: booking.estimated_price_cents };
    }

    /** The payment once settled (captured, or its hold released). */
    const settledPayment = (id: string) =>
      eventually(
        async () => {
          const payment = await paymentOf(id);
          return ["captured", "canceled", "refunded"].includes(payment.status)
            ? payment
            : undefined;
        },
        { what: "the escrow to settle" },
      );

    /** A booking `accepted` made carried to the drop-off, arrived there NO_SHOW_WAIT ago. */
    async function waitingAtDropoff(runnerName: string) {
      const trip = await accepted(runnerName);
      const who = { runner: trip.runner, owner };
      for (const move of ["pickup", "depart"]) {
        expect((await makeMove(system, trip.id, move, who)).status).toBe(200);
      }
      await at(trip.runner, trip.id, dropoff);
      expect((await post(`/api/bookings/${trip.id}/arrive`, trip.runner)).status).toBe(200);
      await waited(trip.id, "dropoff");
      return trip;
    }

    /**
     * Two requests at once; in odd rounds the second leads by a few milliseconds, so that either
     * may win (the answers in the order given).
     */
    async function both<A, B>(first: () => Promise<A>, second: () => Promise<B>, round: number) {
      if (round % 2 === 0) return Promise.all([first(), second()]);
      const led = second();
      await sleep(10 * round);
      return Promise.all([first(), led]);
    }

    const addsUp = (payment: PaymentEntity) =>
      payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents;

    if (mode === "ops") {
      it("NO_SHOW_DROPOFF=ops: disputed with the runner's dispute, an admin resolves with a partial refund, the money adds up", async () => {
        const { id, runner, held } = await waitingAtDropoff(`runner-ns-ops-${withStripe}`);
        const declared = await post(`/api/bookings/${id}/no_show`, runner, {
          reason: "Nobody at the gate",
        });
        expect([declared.status, declared.body.status, declared.body.no_show?.outcome]).toEqual([
          200,
          "disputed",
          "ops",
        ]);
        expect(declared.body.dispute).toEqual(
          expect.objectContaining({
            reason: "no_show",
            text: "Nobody at the gate",
            opened_at: expect.any(String) as string,
            outcome: null,
          }),
        );
        const admin = system.token("admin", "ops-no-show");
        const open = await get<{ items: BookingEntity[] }>("/api/ops/disputes", admin);
        expect(open.body.items.map((b) => b.booking_id)).toContain(id);
        // The escrow stays held until the admin decides.
        expect((await paymentOf(id)).captured_cents).toBe(0);

        const refund = Math.floor(held / 2);
        const resolved = await post(`/api/bookings/${id}/resolve`, admin, {
          outcome: "partial_refund",
          refund_cents: refund,
          note: "the runner waited; half back",
        });
        expect([resolved.status, resolved.body.dispute?.outcome]).toEqual([200, "partial_refund"]);
        const payment = await settledPayment(id);
        const captured = held - refund;
        const fee = Math.round((captured * FEE_BPS) / 10_000);
        expect(payment).toEqual(
          expect.objectContaining({
            status: "captured",
            amount_cents: held,
            captured_cents: captured,
            refunded_cents: refund,
            platform_fee_cents: fee,
            runner_payout_cents: captured - fee,
          }),
        );
        expect(addsUp(payment)).toBe(held);
        const booking = await eventually(async () => {
          const now = await bookingOf(id);
          return now.payment_status === "released" ? now : undefined;
        });
        expect([booking.status, booking.final_price_cents]).toEqual(["completed", captured]);
        expect(await publishedTypes(id)).toEqual(
          expect.arrayContaining(["booking.no_show", "booking.dispute_resolved"]),
        );
      });
      return;
    }

    it("a drop-off no-show racing the runner's late deliver: one wins, the other is a 409, the money follows the winner", async () => {
      const winners: string[] = [];
      for (let round = 0; round < 3; round += 1) {
        const { id, runner, held } = await waitingAtDropoff(
          `runner-ns-race-d${round}-${withStripe}`,
        );
        // Everything the deliver needs is ready before both are fired at once.
        const photo_id = await proofPhoto(system, id, runner, "dropoff");
        const pin = await pinOf(system, id, owner);
        // Sent at once, each going first in turn: both ways of winning are taken.
        const [delivered, noShow] = await both(
          () => post(`/api/bookings/${id}/deliver`, runner, { photo_id, pin }),
          () => post(`/api/bookings/${id}/no_show`, runner),
          round,
        );
        expect([delivered.status, noShow.status].sort()).toEqual([200, 409]);
        const booking = await bookingOf(id);
        if (delivered.status === 200) {
          winners.push("deliver");
          expect([booking.status, booking.no_show ?? null]).toEqual(["delivered", null]);
          expect((await post(`/api/bookings/${id}/confirm`, owner)).status).toBe(200);
          const payment = await settledPayment(id);
          expect([payment.status, payment.captured_cents, payment.refunded_cents]).toEqual([
            "captured",
            held,
            0,
          ]);
          expect(addsUp(payment)).toBe(held);
        } else {
          winners.push("no_show");
          expect([booking.status, booking.no_show?.outcome]).toEqual(["returning", "returning"]);
          const payment = await paymentOf(id);
          expect([payment.status, payment.captured_cents]).toEqual(["held", 0]);
        }
      }
      expect(winners).toHaveLength(3);
    });

    it("a pickup no-show racing the owner's cancel: one wins, the money adds up to the hold", async () => {
      const winners: string[] = [];
      for (let round = 0; round < 4; round += 1) {
        const { id, runner, held } = await accepted(`runner-ns-race-p${round}-${withStripe}`);
        expect((await post(`/api/bookings/${id}/arrive`, runner)).status).toBe(200);
        await waited(id, "pickup");
        const [cancelled, noShow] = await both(
          () => post(`/api/bookings/${id}/cancel`, owner, { reason: "changed my mind" }),
          () => post(`/api/bookings/${id}/no_show`, runner),
          round,
        );
        expect([cancelled.status, noShow.status].sort()).toEqual([200, 409]);
        winners.push(noShow.status === 200 ? "no_show" : "cancel");
        const payment = await settledPayment(id);
        const booking = await bookingOf(id);
        expect(booking.status).toBe("cancelled");
        if (noShow.status === 200) {
          expect(booking.cancel_reason).toBe("no-show at pickup");
          expect([payment.captured_cents, payment.refunded_cents]).toEqual([
            NO_SHOW_FEE,
            held - NO_SHOW_FEE,
          ]);
        } else {
          expect([booking.cancel_reason, booking.no_show ?? null]).toEqual([
            "changed my mind",
            null,
          ]);
          expect([payment.status, payment.captured_cents, payment.refunded_cents]).toEqual([
            "canceled",
            0,
            held,
          ]);
        }
        expect(addsUp(payment)).toBe(held);
      }
      expect(winners).toHaveLength(4);
    });

    it("at the pickup: arrival checked, too early refused, then cancelled with the fee to the runner and the rest refunded", async () => {
      const { id, runner, held } = await accepted(`runner-ns-pickup-${withStripe}`);
      const arrived = await post(`/api/bookings/${id}/arrive`, runner);
      expect([arrived.status, arrived.body.status]).toEqual([200, "accepted"]);
      expect(arrived.body.arrived_at_pickup).toEqual(expect.any(String));

      // Too early: refused with the time left, nothing changes.
      const early = await post(`/api/bookings/${id}/no_show`, runner);
      expect(early.status).toBe(409);
      expect(early.body.message).toMatch(/^Wait \d+ min( \d+ s)? more/);
      expect(early.body.data?.seconds_left).toBeGreaterThan(500);
      // Only its runner declares it.
      expect((await post(`/api/bookings/${id}/no_show`, owner)).status).toBe(403);
      const stranger = system.token("runner", `runner-ns-stranger-${withStripe}`);
      expect((await post(`/api/bookings/${id}/no_show`, stranger)).status).toBe(404);
      await waited(id, "pickup");
      expect((await post(`/api/bookings/${id}/no_show`, stranger)).status).toBe(404);
      expect((await bookingOf(id)).status).toBe("accepted");

      const photo_id = await proofPhoto(system, id, runner, "pickup");
      const declared = await post(`/api/bookings/${id}/no_show`, runner, {
        reason: "Nobody answered the door",
        photo_id,
      });
      expect(declared.status).toBe(200);
      expect(declared.body).toEqual(
        expect.objectContaining({
          status: "cancelled",
          cancel_reason: "no-show at pickup",
          no_show: expect.objectContaining({
            where: "pickup",
            outcome: "cancelled",
            fee_cents: NO_SHOW_FEE,
            reason: "Nobody answered the door",
            photo_id,
          }) as unknown,
        }),
      );
      // A double tap answers as the first.
      expect((await post(`/api/bookings/${id}/no_show`, runner)).status).toBe(200);

      const payment = await settledPayment(id);
      const fee = Math.round((NO_SHOW_FEE * FEE_BPS) / 10_000);
      expect(payment).toEqual(
        expect.objectContaining({
          status: "captured",
          amount_cents: held,
          captured_cents: NO_SHOW_FEE,
          refunded_cents: held - NO_SHOW_FEE,
          platform_fee_cents: fee,
          runner_payout_cents: NO_SHOW_FEE - fee,
        }),
      );
      expect(
        payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents,
      ).toBe(held);
      const booking = await eventually(async () => {
        const now = await bookingOf(id);
        return now.payment_status === "released" ? now : undefined;
      });
      expect([booking.status, booking.final_price_cents]).toEqual(["cancelled", NO_SHOW_FEE]);
      const types = await publishedTypes(id);
      expect(types).toEqual(expect.arrayContaining(["booking.runner_arrived", "booking.no_show"]));
      expect(types).not.toContain("booking.cancelled");
      expect(types.filter((t) => t === "booking.no_show")).toHaveLength(1);

      // The runner is free again: it may accept another booking.
      const next = await heldBooking(system, owner, trip);
      expect((await post(`/api/bookings/${next.booking_id}/accept`, runner)).status).toBe(200);
    });

    it("refuses an arrival from too far (422 with the distance) and a no-show never arrived; nothing changes", async () => {
      const { id, runner } = await accepted(`runner-ns-far-${withStripe}`);
      const notArrived = await post(`/api/bookings/${id}/no_show`, runner);
      expect([notArrived.status, notArrived.body.message]).toEqual([
        409,
        "Report your arrival at the pickup first (POST /api/bookings/:id/arrive)",
      ]);
      await at(runner, id, faraway);
      const far = await post(`/api/bookings/${id}/arrive`, runner);
      expect(far.status).toBe(422);
      expect(far.body.message).toMatch(/^You are 2\d\d m from the pickup: come within 150 m$/);
      expect(far.body.data).toEqual({ distance_m: expect.any(Number) as number, radius_m: 150 });
      const booking = await bookingOf(id);
      expect([booking.status, booking.arrived_at_pickup]).toEqual(["accepted", undefined]);
      expect((await post(`/api/bookings/${id}/arrive`, owner)).status).toBe(403);
      expect(await publishedTypes(id)).not.toContain("booking.runner_arrived");
    });

    it("two arrivals decided on the same read: the first stands, the owner hears it once", async () => {
      const name = `runner-ns-taps-${withStripe}`;
      const { id } = await accepted(name);
      const service = system.brokers[0].getLocalService("booking") as unknown as BookingThis;
      // Both decided on the booking as read before either wrote, as two taps at once are.
      const read = await service.models.bookings.findById(id).lean<BookingDoc>();
      const arrive = (at: Date) =>
        service.move(
          id,
          {
            type: "arrive_at_pickup",
            actor: { role: "runner", sub: name },
            at,
            autoConfirmAfterMs: 0,
          },
          read,
        );
      const first = new Date(Date.now() - 2000);
      expect((await arrive(first)).ok).toBe(true);
      expect((await arrive(new Date())).ok).toBe(true);
      expect((await bookingOf(id)).arrived_at_pickup).toEqual(first.toISOString());
      await sleep(500); // the relay publishes what was written
      const arrivals = (await publishedTypes(id)).filter(
        (type) => type === "booking.runner_arrived",
      );
      expect(arrivals).toEqual(["booking.runner_arrived"]);
    });

    it("at the drop-off: returning, the return leg tracked, handed back at the pickup; the fee captured, the rest refunded", async () => {
      const { id, runner, held } = await accepted(`runner-ns-dropoff-${withStripe}`);
      const who = { runner, owner };
      for (const move of ["pickup", "depart"]) {
        expect((await makeMove(system, id, move, who)).status).toBe(200);
      }
      await at(runner, id, dropoff);
      expect((await post(`/api/bookings/${id}/arrive`, runner)).body.arrived_at_dropoff).toEqual(
        expect.any(String),
      );
      await waited(id, "dropoff");
      // A photo from before the no-show (the drop-off's) proves no hand-back later.
      const atDoor = await proofPhoto(system, id, runner, "dropoff");
      const declared = await post(`/api/bookings/${id}/no_show`, runner, { reason: "No answer" });
      expect([declared.status, declared.body.status, declared.body.no_show?.outcome]).toEqual([
        200,
        "returning",
        "returning",
      ]);

      // The return leg: the track takes its fixes; a hand-back away from the pickup is refused.
      const photo_id = await proofPhoto(system, id, runner, "pickup");
      const early = await post(`/api/bookings/${id}/return_pet`, runner, { photo_id });
      expect([early.status, early.body.message]).toEqual([
        422,
        expect.stringMatching(/^You are \d+ m from the pickup/) as string,
      ]);
      expect((await bookingOf(id)).status).toBe("returning");
      await at(runner, id, pickup);
      const pickedUpWith = (await bookingOf(id)).pickup_proof?.photo_id ?? "";
      // Taken minutes before the no-show in a real trip (here, seconds: beyond the clock slack
      // allowed between two instances only once moved back).
      const service = system.brokers[0].getLocalService("booking") as unknown as BookingThis;
      await service.db
        .collection<{ _id: string; uploadDate: Date }>("photos")
        .updateMany(
          { _id: { $in: [pickedUpWith, atDoor] } },
          { $set: { uploadDate: new Date(Date.now() - 10 * 60_000) } },
        );
      for (const old of [pickedUpWith, atDoor]) {
        const stale = await post(`/api/bookings/${id}/return_pet`, runner, { photo_id: old });
        expect([stale.status, stale.body.message]).toEqual([
          422,
          expect.stringContaining("taken before this step of the trip") as string,
        ]);
      }
      expect((await bookingOf(id)).status).toBe("returning");
      const returned = await post(`/api/bookings/${id}/return_pet`, runner, { photo_id });
      expect([returned.status, returned.body.status]).toEqual([200, "returned"]);
      expect(returned.body.return_proof).toEqual(
        expect.objectContaining({ photo_id, position: pickup }),
      );

      // NO_SHOW_RETURN_CHARGE=fee (the default): the fee captured for the runner, the rest refunded.
      const payment = await settledPayment(id);
      const fee = Math.round((NO_SHOW_FEE * FEE_BPS) / 10_000);
      expect(payment).toEqual(
        expect.objectContaining({
          status: "captured",
          captured_cents: NO_SHOW_FEE,
          refunded_cents: held - NO_SHOW_FEE,
          platform_fee_cents: fee,
          runner_payout_cents: NO_SHOW_FEE - fee,
        }),
      );
      const booking = await eventually(async () => {
        const now = await bookingOf(id);
        return now.payment_status === "released" ? now : undefined;
      });
      expect([booking.status, booking.final_price_cents]).toEqual(["returned", NO_SHOW_FEE]);
      const track = await eventually(async () => {
        const now = await get<{ status: string }>(`/api/bookings/${id}/track`, owner);
        return now.body.status === "completed" ? now.body : undefined;
      });
      expect(track.status).toBe("completed");
      expect(await publishedTypes(id)).toEqual(
        expect.arrayContaining(["booking.no_show", "booking.returned"]),
      );
    });
  });
}

noShowSuite("no-shows, embedded", ["mongo"], false);
noShowSuite("no-shows, embedded, NO_SHOW_DROPOFF=ops", ["mongo"], false, "ops");
