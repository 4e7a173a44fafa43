import type {
  BookingEntity,
  NotificationEntity,
  PaymentEntity,
  RunnerEntity,
} from "../../contracts";
import type { PaymentProvider } from "../../adapters/payments/port";
import { DISPATCH_TUNING } from "../../config/tuning";
import type { GeoIndex } from "../../adapters/geo-index";
import { createRuntime } from "../../lib/runtime";
import type { DispatchDoc } from "../../models/dispatch.model";
import * as paymentStore from "../../services/payment/commands";
import type { RunnerThis } from "../../services/runner/models";
import { tryDispatch } from "../../services/runner/offer-round";
import { describeWithInfra } from "../support/infra";
import { makeMove } from "../support/handover";
import { LaggingConsumerBus } from "../support/lagging-bus";
import { verifiedOnce } from "../support/runners";
import { heldBooking, searchingDispatch } from "../support/trips";
import { startSystem, type ApiResponse, type System } from "../support/system";
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
  /** A move as the apps make it: pickup and deliver with their proof unless `body` is given. */
  const step = (
    id: string,
    action: string,
    token: string,
    body?: unknown,
  ): Promise<ApiResponse<BookingEntity & { type?: string; message?: string }>> =>
    body === undefined && (action === "pickup" || action === "deliver")
      ? makeMove(system, id, action, { runner: token, owner })
      : system.api<BookingEntity & { type?: string; message?: string }>(
          "POST",
          `/api/bookings/${id}/${action}`,
          { token, body: body ?? {} },
        );
  /** A verified runner's app goes online at the pickup before it accepts: the runner's token. */
  const onlineRunner = async (id: string) => {
    const token = system.token("runner", id);
    await verifiedOnce(system, token);
    const online = await system.api("POST", "/api/runners/me/online", {
      token,
      body: trip.pickup,
    });
    expect(online.status).toBe(200);
    return token;
  };
  const runnerNow = async (token: string) =>
    (await system.api<RunnerEntity>("GET", "/api/runners/me", { token })).body;
  const held = (id: string) =>
    eventually(async () => ((await booking(id)).payment_status === "held" ? true : undefined), {
      what: "escrow held",
    });

  it("lets one runner hold one active booking: of two accepts at once one wins, the other after delivery", async () => {
    const runner = await onlineRunner("runner-one-at-a-time");
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
    const runner = await onlineRunner("runner-life");
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

  it("gives exactly one of 10 racing runners the booking; the others get 409", async () => {
    const created = await book();
    await pay(created.booking_id);
    await held(created.booking_id);
    const racers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => onlineRunner(`racer-${i}`)),
    );
    const results = await Promise.all(
      racers.map((racer) => step(created.booking_id, "accept", racer)),
    );
    const statuses = results.map((result) => result.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    const winner = results.find((result) => result.status === 200)?.body.runner_id;
    expect((await booking(created.booking_id)).runner_id).toEqual(winner);
    // The losers' claims were given back: each is free for the next job.
    const availabilities = await Promise.all(racers.map(async (racer) => runnerNow(racer)));
    expect(
      availabilities.map((runner) => [runner.runner_id === winner, runner.availability]).sort(),
    ).toEqual([
      [false, "online"],
      ...Array.from({ length: 8 }, () => [false, "online"]),
      [true, "busy"],
    ]);
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
    const runner = await onlineRunner("runner-cancel");
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
    expect((await step(created.booking_id, "accept", await onlineRunner("r-x"))).status).toEqual(
      409,
    );
    expect(
      (await step(created.booking_id, "cancel", owner, { reason: "card" })).body.status,
    ).toEqual("cancelled");
  });

  it("confirms a delivery the owner leaves unconfirmed after AUTO_CONFIRM_AFTER, then completes it", async () => {
    const runner = await onlineRunner("runner-auto");
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

  it("refuses an accept by a runner who is not online (409, the booking stays requested), then takes it once online", async () => {
    const created = await book();
    await pay(created.booking_id);
    await held(created.booking_id);

    const never = system.token("runner", "runner-never-online");
    await verifiedOnce(system, never);
    const ghost = await step(created.booking_id, "accept", never);
    expect([ghost.status, ghost.body.type, ghost.body.message]).toEqual([
      409,
      "CONFLICT",
      "Go online before accepting a booking",
    ]);
    const gone = await onlineRunner("runner-gone-offline");
    expect((await system.api("POST", "/api/runners/me/offline", { token: gone })).status).toBe(200);
    expect((await step(created.booking_id, "accept", gone)).status).toBe(409);
    expect([
      (await booking(created.booking_id)).status,
      (await runnerNow(gone)).availability,
    ]).toEqual(["requested", "offline"]);

    const online = await onlineRunner("runner-never-online");
    const accepted = await step(created.booking_id, "accept", online);
    expect([accepted.status, accepted.body.status, accepted.body.runner_id]).toEqual([
      200,
      "accepted",
      "runner-never-online",
    ]);
    expect(await runnerNow(online)).toEqual(
      expect.objectContaining({ availability: "busy", active_booking_id: created.booking_id }),
    );
    // Busy until delivered: it may not go offline mid-trip.
    const offline = await system.api<{ type: string }>("POST", "/api/runners/me/offline", {
      token: online,
    });
    expect([offline.status, offline.body.type]).toEqual([409, "CONFLICT"]);
    for (const action of ["pickup", "depart", "deliver"]) {
      expect((await step(created.booking_id, action, online)).status).toBe(200);
    }
    await eventually(
      async () => ((await runnerNow(online)).availability === "online" ? true : undefined),
      {
        what: "the runner free after delivery",
      },
    );
    expect((await system.api("POST", "/api/runners/me/offline", { token: online })).status).toBe(
      200,
    );
  });

  it("never leaves an offline runner on an accepted booking when it goes offline while accepting", async () => {
    for (let round = 0; round < 4; round++) {
      const created = await book();
      await pay(created.booking_id);
      await held(created.booking_id);
      const runner = await onlineRunner(`runner-racing-offline-${round}`);
      const [accepted, offline] = await Promise.all([
        step(created.booking_id, "accept", runner),
        system.api("POST", "/api/runners/me/offline", { token: runner }),
      ]);
      const now = await runnerNow(runner);
      const outcome = [
        accepted.status,
        offline.status,
        (await booking(created.booking_id)).status,
        now.availability,
      ];
      // One of the two wins: the trip with a busy runner, or an offline runner and no trip.
      expect([
        [200, 409, "accepted", "busy"],
        [409, 200, "requested", "offline"],
      ]).toContainEqual(outcome);
    }
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
      (
        await step(created.booking_id, "pickup", system.token("runner", "nobody"), {
          photo_id: "a-photo-of-another-trip",
        })
      ).status,
    ).toEqual(403); // any runner may look at an open booking (to accept it), not move it;
    expect((await step(created.booking_id, "cancel", owner, {})).status).toEqual(422);
    expect((await booking(created.booking_id)).status).toEqual("requested");
  });
});

/** Finding 19.10: a declined card does not strand the booking; an unpaid one expires. */
describeWithInfra(["mongo"], "unpaid bookings: paying again, and expiry", (infra) => {
  let patient: System;
  let hasty: System;

  beforeAll(async () => {
    [patient, hasty] = await Promise.all([
      startSystem({ infra: { mongo: infra.mongo } }),
      startSystem({ infra: { mongo: infra.mongo }, env: { PAYMENT_TIMEOUT: "1s" } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([patient?.stop(), hasty?.stop()]);
  });

  const book = async (system: System, owner: string) =>
    (await system.api<BookingEntity>("POST", "/api/bookings", { token: owner, body: trip })).body;
  const pay = (system: System, owner: string, id: string, payment_method: string) =>
    system.api<PaymentEntity>("POST", `/api/bookings/${id}/payment`, {
      token: owner,
      body: { payment_method },
    });
  const bookingOf = async (system: System, owner: string, id: string) =>
    (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body;

  /** The owner's inbox entries about the booking's expiry, once there is one. */
  const ownerTold = (system: System, owner: string, id: string) =>
    eventually(
      async () => {
        const { items } = (
          await system.api<{ items: NotificationEntity[] }>("GET", "/api/notifications", {
            token: owner,
          })
        ).body;
        const told = items.filter(
          (item) => item.event_type === "booking.expired" && item.booking_id === id,
        );
        return told.length > 0 ? told : undefined;
      },
      { what: "the owner told of the expiry" },
    );

  it("lets the owner pay again after a declined card: 201 failed, then 201 held, and a runner accepts", async () => {
    const owner = patient.token("owner", "owner-declined");
    const created = await book(patient, owner);
    const declined = await pay(patient, owner, created.booking_id, "pm_card_chargeDeclined");
    expect([declined.status, declined.body.status, declined.body.failure_reason]).toEqual([
      201,
      "failed",
      "card_declined",
    ]);
    // The same request replayed is answered as it was: no new authorisation.
    const replayed = await pay(patient, owner, created.booking_id, "pm_card_chargeDeclined");
    expect([replayed.status, replayed.body.status]).toEqual([200, "failed"]);

    const good = await pay(patient, owner, created.booking_id, "pm_card_visa");
    expect([good.status, good.body.status, good.body.failure_reason, good.body.payment_id]).toEqual(
      [201, "held", null, declined.body.payment_id],
    );
    expect(good.body.provider_ref).toEqual(expect.stringMatching(/^sim_pi_/));
    const again = await pay(patient, owner, created.booking_id, "pm_card_visa");
    expect([again.status, again.body.status, again.body.provider_ref]).toEqual([
      200,
      "held",
      good.body.provider_ref,
    ]);
    await eventually(
      async () =>
        (await bookingOf(patient, owner, created.booking_id)).payment_status === "held"
          ? true
          : undefined,
      { what: "the second attempt's hold on the booking" },
    );

    const runner = patient.token("runner", "runner-after-decline");
    await verifiedOnce(patient, runner);
    expect(
      (await patient.api("POST", "/api/runners/me/online", { token: runner, body: trip.pickup }))
        .status,
    ).toBe(200);
    const accepted = await patient.api<BookingEntity>(
      "POST",
      `/api/bookings/${created.booking_id}/accept`,
      { token: runner },
    );
    expect([accepted.status, accepted.body.status]).toEqual([200, "accepted"]);
  });

  it("expires a booking left unpaid for PAYMENT_TIMEOUT, tells its owner, and holds no money", async () => {
    const owner = hasty.token("owner", "owner-unpaid");
    const created = await book(hasty, owner);
    expect(Date.parse(created.payment_due_at ?? "")).toEqual(Date.parse(created.created_at) + 1000);
    const declined = await pay(hasty, owner, created.booking_id, "pm_card_chargeDeclined");
    expect(declined.body.status).toEqual("failed");

    const expired = await eventually(
      async () => {
        const current = await bookingOf(hasty, owner, created.booking_id);
        return current.status === "expired" ? current : undefined;
      },
      { what: "the unpaid booking to expire" },
    );
    expect(expired.payment_status).toEqual("failed");
    const inbox = await ownerTold(hasty, owner, created.booking_id);
    expect(inbox.map(({ title, body, booking_id }) => ({ title, body, booking_id }))).toEqual([
      {
        title: `Booking ${created.booking_number} expired`,
        body: "It was not paid for in time, so no runner was sent for Rex. Nothing is charged; book again when you are ready.",
        booking_id: created.booking_id,
      },
    ]);

    // Too late now: paying is refused, and nothing is held.
    const late = await pay(hasty, owner, created.booking_id, "pm_card_visa");
    expect([late.status, late.body]).toEqual([
      409,
      {
        name: "MoleculerClientError",
        message: "An expired booking cannot be paid",
        code: 409,
        type: "CONFLICT",
        data: { status: "expired" },
      },
    ]);
    expect(
      (
        await hasty.api<PaymentEntity>("GET", `/api/bookings/${created.booking_id}/payment`, {
          token: owner,
        })
      ).body.status,
    ).toEqual("failed");
  });

  const paymentOf = async (system: System, owner: string, id: string) =>
    (await system.api<PaymentEntity>("GET", `/api/bookings/${id}/payment`, { token: owner })).body;
  const released = (system: System, owner: string, id: string) =>
    eventually(
      async () => {
        const payment = await paymentOf(system, owner, id);
        const booking = await bookingOf(system, owner, id);
        return payment.status === "canceled" && booking.payment_status === "refunded"
          ? { payment, booking }
          : undefined;
      },
      { what: "the late hold released" },
    );
  const expiredNow = (system: System, owner: string, id: string) =>
    eventually(
      async () => ((await bookingOf(system, owner, id)).status === "expired" ? true : undefined),
      { what: "the booking to expire" },
    );

  it("releases a hold placed while the booking expires (the card was being authorised)", async () => {
    const owner = hasty.token("owner", "owner-last-second");
    const created = await book(hasty, owner);
    const { provider } = hasty.brokers[0].getLocalService("payment") as unknown as {
      provider: PaymentProvider;
    };
    const authorize = provider.authorize.bind(provider);
    const slowCard = jest
      .spyOn(provider, "authorize")
      .mockImplementationOnce(async (request, key) => {
        await expiredNow(hasty, owner, created.booking_id);
        return authorize(request, key);
      });
    const paid = await pay(hasty, owner, created.booking_id, "pm_card_visa");
    slowCard.mockRestore();
    expect(paid.status).toBe(201);

    const { payment, booking } = await released(hasty, owner, created.booking_id);
    expect([payment.refunded_cents, payment.captured_cents]).toEqual([payment.amount_cents, 0]);
    expect([booking.status, booking.payment_status]).toEqual(["expired", "refunded"]);
  });

  it("releases a hold made for a booking that expired after the owner was let pay", async () => {
    const owner = hasty.token("owner", "owner-too-late");
    const created = await book(hasty, owner);
    // The payment service found the booking payable, and it expired before the payment was
    // opened: its booking.expired found nothing to release. The hold that follows is released.
    const open = paymentStore.open;
    const lateOpen = jest
      .spyOn(paymentStore, "open")
      .mockImplementationOnce(async (service, command) => {
        await expiredNow(hasty, owner, created.booking_id);
        await ownerTold(hasty, owner, created.booking_id);
        return open(service, command);
      });
    const paid = await pay(hasty, owner, created.booking_id, "pm_card_visa");
    lateOpen.mockRestore();
    expect([paid.status, paid.body.status]).toEqual([201, "held"]);

    const { payment, booking } = await released(hasty, owner, created.booking_id);
    expect([payment.refunded_cents, payment.captured_cents]).toEqual([payment.amount_cents, 0]);
    expect([booking.status, booking.payment_status]).toEqual(["expired", "refunded"]);
  });
});

/**
 * What the runner service does with events that come late, and with a search that fails for a
 * reason other than the pickup (issue 19 review).
 */
describeWithInfra(["mongo"], "late events and failed searches, embedded", (infra) => {
  let system: System;
  let bus: LaggingConsumerBus;
  let runners: RunnerThis;
  const FIX_MAX_AGE_MS = 2000;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { FIX_MAX_AGE: `${FIX_MAX_AGE_MS}ms` },
      busFor: (_services, config) => {
        bus = new LaggingConsumerBus(createRuntime(config).bus, "service-runner-bookings");
        return bus;
      },
    });
    runners = system.brokers[0].getLocalService("runner") as unknown as RunnerThis;
  });
  afterAll(async () => {
    await system?.stop();
    await bus?.close();
  });

  /** Who booked each trip: its owner passes the PIN on at the drop-off. */
  const owners = new Map<string, string>();
  const step = (id: string, action: string, token: string) =>
    makeMove(system, id, action, { runner: token, owner: owners.get(id) ?? "" });
  const onlineRunner = async (sub: string) => {
    const token = system.token("runner", sub);
    await verifiedOnce(system, token);
    expect(
      (await system.api("POST", "/api/runners/me/online", { token, body: trip.pickup })).status,
    ).toBe(200);
    return token;
  };
  const runnerNow = async (token: string) =>
    (await system.api<RunnerEntity>("GET", "/api/runners/me", { token })).body;
  const heldTrip = async (sub: string) => {
    const owner = system.token("owner", sub);
    const held = await heldBooking(system, owner, trip);
    owners.set(held.booking_id, owner);
    return held;
  };

  it("keeps a runner on its next booking when the last one's booking.accepted and booking.delivered reach the runner service late", async () => {
    const runner = await onlineRunner("runner-late-events");
    const first = await heldTrip("owner-late-1");
    const second = await heldTrip("owner-late-2");
    bus.fallBehindOn(first.booking_id);

    for (const action of ["accept", "pickup", "depart", "deliver"]) {
      expect((await step(first.booking_id, action, runner)).status).toBe(200);
    }
    const next = await step(second.booking_id, "accept", runner);
    expect([next.status, next.body.status]).toEqual([200, "accepted"]);
    await eventually(
      async () => (bus.keptOf(first.booking_id).includes("booking.delivered") ? true : undefined),
      { what: "the first booking's events kept back" },
    );
    // Its booking.requested may still be on its way when the lag starts (held back with them).
    expect(bus.keptOf(first.booking_id).filter((type) => type !== "booking.requested")).toEqual([
      "booking.accepted",
      "booking.delivered",
    ]);

    await bus.catchUp();
    expect(await runnerNow(runner)).toEqual(
      expect.objectContaining({ availability: "busy", active_booking_id: second.booking_id }),
    );
  });

  it("refuses a fix naming a finished booking, past FIX_MAX_AGE, once the runner is freed, here or on another instance", async () => {
    const runnerId = "runner-finished-trip";
    const runner = await onlineRunner(runnerId);
    const { booking_id } = await heldTrip("owner-finished-trip");
    expect((await step(booking_id, "accept", runner)).status).toBe(200);
    const onTrip = Date.now() + 10; // recorded after the acceptance
    const fix = (recordedAt: number) =>
      system.api<{ message?: string }>("POST", "/api/runners/me/location", {
        token: runner,
        body: { ...trip.pickup, booking_id, timestamp: new Date(recordedAt).toISOString() },
      });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await fix(onTrip)).status).toBe(202);
    for (const action of ["pickup", "depart", "deliver"]) {
      expect((await step(booking_id, action, runner)).status).toBe(200);
    }
    await eventually(
      async () => ((await runnerNow(runner)).availability === "online" ? true : undefined),
      { what: "the runner freed" },
    );
    // Now older than FIX_MAX_AGE, though recorded during the trip: counted while it lasted.
    await new Promise((resolve) => setTimeout(resolve, onTrip + FIX_MAX_AGE_MS + 700 - Date.now()));
    const tooOld = "recorded longer ago than FIX_MAX_AGE, naming no booking the runner is on";
    const refused = await fix(onTrip + 300);
    expect([refused.status, refused.body.message]).toEqual([
      422,
      `Invalid request: timestamp: ${tooOld}`,
    ]);
    // As an instance that did not see the trip end remembers it, read tripTrustMs ago.
    runners.trips.set(runnerId, {
      booking_id,
      since: onTrip - 10,
      checkedAt: Date.now() - DISPATCH_TUNING.tripTrustMs,
    });
    expect((await fix(onTrip + 600)).status).toBe(422);
  });

  it("keeps searching when the geo index fails with a RangeError that is not about the pickup", async () => {
    const pickup = { lat: -6.31, lng: 106.71 };
    const since = new Date();
    await searchingDispatch(runners.models.dispatches, "range-error-booking", pickup, since);
    const real = runners.geo;
    const failing: GeoIndex["nearby"] = () => Promise.reject(new RangeError("Invalid time value"));
    runners.geo = Object.assign(Object.create(real) as GeoIndex, { nearby: failing });
    try {
      await expect(tryDispatch(runners, "range-error-booking")).rejects.toThrow(
        new RangeError("Invalid time value"),
      );
    } finally {
      runners.geo = real;
    }
    const dispatch = () =>
      runners.models.dispatches.findById("range-error-booking").lean<DispatchDoc>();
    expect((await dispatch())?.status).toEqual("searching");

    // The next try, with the index back, offers it.
    const token = system.token("runner", "runner-after-range-error");
    await verifiedOnce(system, token);
    expect(
      (await system.api("POST", "/api/runners/me/online", { token, body: pickup })).status,
    ).toBe(200);
    await eventually(async () => ((await dispatch())?.status === "offered" ? true : undefined), {
      what: "the booking offered",
    });
    expect((await dispatch())?.runner_id).toEqual("runner-after-range-error");
  });
});
