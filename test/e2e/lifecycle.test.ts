import type { Model } from "mongoose";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const trip = {
  pet_type: "dog",
  pet_name: "Rex",
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
};

/** The booking lifecycle and the escrow saga over REST, embedded (simulated payment provider). */
describeWithInfra(["mongo"], "booking lifecycle and escrow, embedded", (infra) => {
  let system: System;
  let owner: string;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { AUTO_CONFIRM_AFTER: "1s" },
    });
    owner = system.token("owner", "owner-life");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const book = async () =>
    (await system.api<BookingEntity>("POST", "/api/bookings", { token: owner, body: trip })).body;
  const booking = async (id: string) =>
    (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body;
  const pay = (id: string, payment_method?: string) =>
    system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
      token: owner,
      body: payment_method ? { payment_method } : {},
    });
  const step = (id: string, action: string, token: string, body: unknown = {}) =>
    system.api<BookingEntity & { type?: string }>("POST", `/api/bookings/${id}/${action}`, {
      token,
      body,
    });
  const held = (id: string) =>
    eventually(async () => ((await booking(id)).payment_status === "held" ? true : undefined), {
      what: "escrow held",
    });

  it("lets one runner hold one active booking: of two accepts at once one wins, the other after delivery", async () => {
    const runner = system.token("runner", "runner-one-at-a-time");
    const [first, second] = [await book(), await book()];
    await Promise.all([pay(first.booking_id), pay(second.booking_id)]);
    await Promise.all([held(first.booking_id), held(second.booking_id)]);

    const answers = await Promise.all([
      step(first.booking_id, "accept", runner),
      step(second.booking_id, "accept", runner),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const [won, lost] = answers[0].status === 200 ? [first, second] : [second, first];
    expect((await booking(lost.booking_id)).status).toBe("requested");

    for (const action of ["pickup", "depart", "deliver"]) {
      expect((await step(won.booking_id, action, runner)).status).toBe(200);
    }
    expect((await step(lost.booking_id, "accept", runner)).status).toBe(200);
  });

  it("runs requested → accepted → … → completed, and payout + fee = captured", async () => {
    const runner = system.token("runner", "runner-life");
    const created = await book();

    const tooEarly = await step(created.booking_id, "accept", runner);
    expect([tooEarly.status, tooEarly.body.type]).toEqual([409, "CONFLICT"]);

    const payment = await pay(created.booking_id);
    expect(payment.status).toEqual(201);
    const again = await pay(created.booking_id);
    expect([again.status, again.body.payment_id]).toEqual([200, payment.body.payment_id]); // no second hold
    expect(payment.body).toEqual(
      expect.objectContaining({
        status: "held",
        amount_cents: created.estimated_price_cents,
        provider: "simulated",
      }),
    );
    await held(created.booking_id);

    for (const [action, status] of [
      ["accept", "accepted"],
      ["pickup", "picked_up"],
      ["depart", "in_transit"],
      ["deliver", "delivered"],
    ] as const) {
      const moved = await step(created.booking_id, action, runner);
      expect([action, moved.status, moved.body.status]).toEqual([action, 200, status]);
    }
    const confirmed = await step(created.booking_id, "confirm", owner);
    expect(confirmed.body.status).toEqual("confirmed");

    const completed = await eventually(async () => {
      const current = await booking(created.booking_id);
      return current.status === "completed" ? current : undefined;
    });
    const settled = (
      await system.api<PaymentEntity>("GET", `/api/bookings/${created.booking_id}/payment`, {
        token: runner,
      })
    ).body;
    expect(settled.status).toEqual("captured");
    expect(settled.captured_cents).toEqual(created.estimated_price_cents);
    expect(settled.runner_payout_cents + settled.platform_fee_cents).toEqual(
      settled.captured_cents,
    );
    expect(settled.platform_fee_cents).toEqual(Math.round(settled.captured_cents * 0.2));
    expect(completed.final_price_cents).toEqual(settled.captured_cents);
    expect(completed.payment_status).toEqual("released");
  });

  it("settles a payment made before payment ids followed booking ids (found by booking_id)", async () => {
    const runner = system.token("runner", "runner-legacy");
    const created = await book();
    expect((await pay(created.booking_id)).status).toBe(201);
    await held(created.booking_id);
    // As an older version stored it: a random _id, found only by its booking_id.
    const payments = (
      system.brokers[0].getLocalService("payment") as unknown as {
        models: { payments: Model<{ _id: string; booking_id: string }> };
      }
    ).models.payments;
    const stored = await payments.findOne({ booking_id: created.booking_id }).lean();
    expect(stored?._id).toBe(`pay_${created.booking_id}`);
    await payments.deleteOne({ _id: stored!._id });
    await payments.collection.insertOne({ ...stored!, _id: "3f0c9a52-legacy" } as never);
    // ...for a booking made then (payments of later bookings are looked up by _id alone).
    const bookings = (
      system.brokers[0].getLocalService("booking") as unknown as {
        models: { bookings: Model<{ _id: string; created_at: Date }> };
      }
    ).models.bookings;
    await bookings.updateOne(
      { _id: created.booking_id },
      { $set: { created_at: new Date("2026-11-20T09:00:00Z") } },
    );

    const seen = await system.api<PaymentEntity>(
      "GET",
      `/api/bookings/${created.booking_id}/payment`,
      { token: owner },
    );
    expect([seen.status, seen.body.payment_id]).toEqual([200, "3f0c9a52-legacy"]);
    const repaid = await pay(created.booking_id);
    expect([repaid.status, repaid.body.payment_id]).toEqual([200, "3f0c9a52-legacy"]);
    for (const action of ["accept", "pickup", "depart", "deliver"]) {
      expect((await step(created.booking_id, action, runner)).status).toBe(200);
    }
    await step(created.booking_id, "confirm", owner);
    await eventually(async () =>
      (await booking(created.booking_id)).status === "completed" ? true : undefined,
    );
    const settled = await system.api<PaymentEntity>(
      "GET",
      `/api/bookings/${created.booking_id}/payment`,
      { token: owner },
    );
    expect([settled.body.payment_id, settled.body.status]).toEqual(["3f0c9a52-legacy", "captured"]);
  });

  it("gives exactly one of 10 racing runners the booking; the others get 409", async () => {
    const created = await book();
    await pay(created.booking_id);
    await held(created.booking_id);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        step(created.booking_id, "accept", system.token("runner", `racer-${i}`)),
      ),
    );
    const statuses = results.map((result) => result.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    const winner = results.find((result) => result.status === 200)?.body.runner_id;
    expect((await booking(created.booking_id)).runner_id).toEqual(winner);
  });

  it("cancels before and after acceptance and releases the escrow", async () => {
    const before = await book();
    await pay(before.booking_id);
    await held(before.booking_id);
    const cancelled = await step(before.booking_id, "cancel", owner, { reason: "plans changed" });
    expect([cancelled.status, cancelled.body.status, cancelled.body.cancel_reason]).toEqual([
      200,
      "cancelled",
      "plans changed",
    ]);

    const after = await book();
    await pay(after.booking_id);
    await held(after.booking_id);
    const runner = system.token("runner", "runner-cancel");
    await step(after.booking_id, "accept", runner);
    expect(
      (await step(after.booking_id, "cancel", runner, { reason: "flat tyre" })).body.status,
    ).toEqual("cancelled");

    for (const id of [before.booking_id, after.booking_id]) {
      const payment = await eventually(async () => {
        const current = (
          await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner })
        ).body;
        return current.status === "canceled" ? current : undefined;
      });
      expect([payment.refunded_cents, payment.captured_cents]).toEqual([payment.amount_cents, 0]);
    }
    const picked = await book();
    await pay(picked.booking_id);
    await held(picked.booking_id);
    await step(picked.booking_id, "accept", runner);
    await step(picked.booking_id, "pickup", runner);
    expect((await step(picked.booking_id, "cancel", owner, { reason: "too late" })).status).toEqual(
      409,
    );
  });

  it("a declined card fails the payment: the booking stays unpayable but cancellable", async () => {
    const created = await book();
    const payment = await pay(created.booking_id, "pm_card_chargeDeclined");
    expect([payment.status, payment.body.status, payment.body.failure_reason]).toEqual([
      201,
      "failed",
      "card_declined",
    ]);
    await eventually(async () =>
      (await booking(created.booking_id)).payment_status === "failed" ? true : undefined,
    );
    expect(
      (await step(created.booking_id, "accept", system.token("runner", "r-x"))).status,
    ).toEqual(409);
    expect(
      (await step(created.booking_id, "cancel", owner, { reason: "card" })).body.status,
    ).toEqual("cancelled");
  });

  it("confirms a delivery the owner leaves unconfirmed after AUTO_CONFIRM_AFTER, then completes it", async () => {
    const runner = system.token("runner", "runner-auto");
    const created = await book();
    await pay(created.booking_id);
    await held(created.booking_id);
    for (const action of ["accept", "pickup", "depart", "deliver"])
      await step(created.booking_id, action, runner);
    const completed = await eventually(async () => {
      const current = await booking(created.booking_id);
      return current.status === "completed" ? current : undefined;
    });
    expect(completed.payment_status).toEqual("released");
  });

  it("refuses moves by people who are not part of the booking", async () => {
    const created = await book();
    const stranger = system.token("owner", "owner-stranger");
    expect((await step(created.booking_id, "confirm", stranger)).status).toEqual(404);
    expect(
      (
        await system.api("POST", `/api/bookings/${created.booking_id}/payment`, {
          token: stranger,
          body: {},
        })
      ).status,
    ).toEqual(404);
    expect(
      (await step(created.booking_id, "pickup", system.token("runner", "nobody"))).status,
    ).toEqual(403); // any runner may look at an open booking (to accept it), not move it;
    expect((await step(created.booking_id, "cancel", owner, {})).status).toEqual(422);
    expect((await booking(created.booking_id)).status).toEqual("requested");
  });
});
