import type { Model } from "mongoose";
import type { BookingEntity, PaymentEntity, RunnerEntity } from "../../contracts";
import type { RunnerLockDoc } from "../../models/runner-lock.model";
import { describeWithInfra } from "../support/infra";
import { pinOf, proofPhoto } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

const trip = {
  pet_type: "cat",
  pet_name: "Mochi",
  pickup: { lat: -6.2, lng: 106.8 },
  dropoff: { lat: -6.25, lng: 106.85 },
};

/**
 * An app whose request timed out does not know whether it took effect, so it sends it again.
 * Each write it may retry has one effect (README, "Retries").
 */
describeWithInfra(["mongo"], "retried writes, embedded", (infra) => {
  let system: System;
  let owner: string;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    owner = system.token("owner", "owner-retries");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const create = (key: string, body: unknown = trip, token = owner) =>
    system.api<BookingEntity & { message?: string }>("POST", "/api/bookings", {
      token,
      body,
      headers: { "idempotency-key": key },
    });
  const get = async (id: string) =>
    (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body;
  const listed = async () =>
    (await system.api<{ items: BookingEntity[] }>("GET", "/api/bookings", { token: owner })).body
      .items;

  it("makes one booking of a create sent twice with one Idempotency-Key (201, then 200 with the same booking)", async () => {
    const before = (await listed()).length;
    const first = await create("app-try-1");
    const again = await create("app-try-1");
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual(first.body);
    expect((await listed()).length).toEqual(before + 1);
  });

  it("makes one booking of the same create sent five times at once", async () => {
    const before = (await listed()).length;
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => create("app-burst")));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(answers.map((answer) => answer.body.booking_id)).size).toEqual(1);
    expect((await listed()).length).toEqual(before + 1);
  });

  it("refuses a key used for another request (409) and keys one owner's keys apart from another's", async () => {
    await create("app-key-2");
    const changed = await create("app-key-2", { ...trip, pet_name: "Nori" });
    expect(changed.status).toEqual(409);
    expect(changed.body.message).toEqual(
      "This Idempotency-Key was used for another booking request",
    );
    const otherOwner = await create("app-key-2", trip, system.token("owner", "owner-retries-2"));
    expect(otherOwner.status).toEqual(201);
  });

  it("refuses a malformed key with 422 naming the header, and creates nothing", async () => {
    const before = (await listed()).length;
    const bad = await create("x".repeat(256));
    expect(bad.status).toEqual(422);
    expect(bad.body).toMatchObject({ data: [{ field: "Idempotency-Key" }] });
    expect((await listed()).length).toEqual(before);
  });

  it("answers a move sent twice as the first did, with one effect: pay, accept, pickup, depart, deliver, confirm", async () => {
    const runner = system.token("runner", "runner-retries");
    const booking = (await create("life-1")).body;
    const id = booking.booking_id;
    const twice = async (path: string, token: string, body: unknown = {}) => {
      const first = await system.api<BookingEntity>("POST", `/api/bookings/${id}/${path}`, {
        token,
        body,
      });
      const again = await system.api<BookingEntity>("POST", `/api/bookings/${id}/${path}`, {
        token,
        body,
      });
      return [first, again];
    };
    const [paid, paidAgain] = await twice("payment", owner);
    expect([paid.status, paidAgain.status]).toEqual([201, 200]);
    await eventually(async () => (await get(id)).payment_status === "held" || undefined, {
      what: "escrow held",
    });
    await verifiedRunner(system, runner);
    await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: { lat: -6.2, lng: 106.8 },
    });
    // The app sends a retried handover as it sent it: the same photo, the same PIN.
    const proof = async (path: string) =>
      path === "pickup"
        ? { photo_id: await proofPhoto(system, id, runner, "pickup") }
        : path === "deliver"
          ? {
              photo_id: await proofPhoto(system, id, runner, "dropoff"),
              pin: await pinOf(system, id, owner),
            }
          : {};
    for (const [path, status] of [
      ["accept", "accepted"],
      ["pickup", "picked_up"],
      ["depart", "in_transit"],
      ["deliver", "delivered"],
    ] as const) {
      const answers = await twice(path, runner, await proof(path));
      expect(answers.map((answer) => [answer.status, answer.body.status])).toEqual([
        [200, status],
        [200, status],
      ]);
    }
    const confirms = await twice("confirm", owner);
    expect(confirms.map((answer) => answer.status)).toEqual([200, 200]);
    await eventually(async () => (await get(id)).status === "completed" || undefined, {
      what: "completed",
    });
    // A confirm retried after the booking completed still answers 200, and captures nothing more.
    const late = await system.api<BookingEntity>("POST", `/api/bookings/${id}/confirm`, {
      token: owner,
      body: {},
    });
    expect([late.status, late.body.status]).toEqual([200, "completed"]);
    const payment = (
      await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner })
    ).body;
    expect(payment.captured_cents).toEqual(booking.estimated_price_cents);
    // One event per move: the owner heard of each once.
    const inbox = (
      await system.api<{ items: { booking_id: string; event_type: string }[] }>(
        "GET",
        "/api/notifications?limit=100",
        { token: owner },
      )
    ).body.items.filter((entry) => entry.booking_id === id);
    const types = inbox.map((entry) => entry.event_type);
    expect(types.length).toEqual(new Set(types).size);
  });

  it("answers a cancel sent twice with 200 both times, and releases the hold once", async () => {
    const id = (await create("cancel-1")).body.booking_id;
    await system.api("POST", `/api/bookings/${id}/payment`, { token: owner, body: {} });
    const cancel = () =>
      system.api<BookingEntity>("POST", `/api/bookings/${id}/cancel`, {
        token: owner,
        body: { reason: "plans changed" },
      });
    const answers = [await cancel(), await cancel()];
    expect(answers.map((answer) => [answer.status, answer.body.status])).toEqual([
      [200, "cancelled"],
      [200, "cancelled"],
    ]);
    const payment = await eventually(
      async () => {
        const current = (
          await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner })
        ).body;
        return current.status === "canceled" ? current : undefined;
      },
      { what: "hold released" },
    );
    expect([payment.refunded_cents, payment.captured_cents]).toEqual([payment.amount_cents, 0]);
  });

  const heldFor = async (key: string) => {
    const id = (await create(key)).body.booking_id;
    await system.api("POST", `/api/bookings/${id}/payment`, { token: owner, body: {} });
    await eventually(async () => (await get(id)).payment_status === "held" || undefined, {
      what: "escrow held",
    });
    return id;
  };
  const onlineRunner = async (sub: string) => {
    const token = system.token("runner", sub);
    await verifiedRunner(system, token);
    await system.api("POST", "/api/runners/me/online", { token, body: trip.pickup });
    return token;
  };
  const accept = (id: string, token: string) =>
    system.api<BookingEntity>("POST", `/api/bookings/${id}/accept`, { token, body: {} });
  const runnerNow = async (token: string) =>
    (await system.api<RunnerEntity>("GET", "/api/runners/me", { token })).body;

  it("takes an accept run again after a crash left the runner's slot taken and the runner claimed, but the booking requested (200, runner busy on it)", async () => {
    const id = await heldFor("crashed-accept");
    const runner = await onlineRunner("runner-crashed-accept");
    // What node A did before it was killed: the slot, then the claim; not the booking's write.
    const { runnerLocks } = (
      system.brokers[0].getLocalService("booking") as unknown as {
        models: { runnerLocks: Model<RunnerLockDoc> };
      }
    ).models;
    await runnerLocks.create({
      _id: "runner-crashed-accept",
      booking_id: id,
      token: "token-of-the-killed-call",
      taken_at: new Date(),
    });
    await system.brokers[0].call("runner.claim", {
      runner_id: "runner-crashed-accept",
      booking_id: id,
      accepted_at: new Date().toISOString(),
    });
    expect([(await get(id)).status, (await runnerNow(runner)).availability]).toEqual([
      "requested",
      "busy",
    ]);

    const retried = await accept(id, runner);
    expect([retried.status, retried.body.status, retried.body.runner_id]).toEqual([
      200,
      "accepted",
      "runner-crashed-accept",
    ]);
    expect(await runnerNow(runner)).toEqual(
      expect.objectContaining({ availability: "busy", active_booking_id: id }),
    );
  });

  it("answers an accept tapped three times at once with 200 each, and leaves the runner busy on the booking", async () => {
    for (const round of [1, 2, 3]) {
      const id = await heldFor(`triple-tap-${round}`);
      const runner = await onlineRunner(`runner-triple-tap-${round}`);
      const answers = await Promise.all([1, 2, 3].map(() => accept(id, runner)));
      expect(answers.map((answer) => [answer.status, answer.body.status])).toEqual([
        [200, "accepted"],
        [200, "accepted"],
        [200, "accepted"],
      ]);
      expect(await runnerNow(runner)).toEqual(
        expect.objectContaining({ availability: "busy", active_booking_id: id }),
      );
    }
  });

  it("still refuses another runner's accept of an accepted booking (409)", async () => {
    const id = (await create("taken-1")).body.booking_id;
    await system.api("POST", `/api/bookings/${id}/payment`, { token: owner, body: {} });
    await eventually(async () => (await get(id)).payment_status === "held" || undefined, {
      what: "escrow held",
    });
    const [first, second] = ["runner-retries-a", "runner-retries-b"].map((sub) =>
      system.token("runner", sub),
    );
    for (const token of [first, second]) {
      await verifiedRunner(system, token);
      await system.api("POST", "/api/runners/me/online", {
        token,
        body: { lat: -6.2, lng: 106.8 },
      });
    }
    expect(
      (await system.api("POST", `/api/bookings/${id}/accept`, { token: first, body: {} })).status,
    ).toEqual(200);
    expect(
      (await system.api("POST", `/api/bookings/${id}/accept`, { token: second, body: {} })).status,
    ).toEqual(409);
  });
});
