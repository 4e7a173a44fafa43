import type { Model } from "mongoose";
import type { BookingEntity, NotificationEntity, PaymentEntity } from "../../contracts";
import { runtimeOf } from "../../lib/runtime";
import type { BookingDoc } from "../../models/booking.model";
import { autoConfirmDue } from "../../services/booking/deadlines";
import type { BookingThis } from "../../services/booking/models";
import { describeWithInfra } from "../support/infra";
import { makeMove, smallJpeg, upload } from "../support/handover";
import { sendStripeWebhook } from "../support/stripe-webhook";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };
/** PLATFORM_FEE_BPS's default: the platform's 20 % of what is captured. */
const FEE_BPS = 2000;

type Answer = BookingEntity & { type?: string; message?: string; data?: unknown };

/**
 * Disputes through the public API, embedded: the owner of a delivered booking reports a problem
 * instead of confirming, operations see it, and an admin resolves it. The money adds up in every
 * branch (payout + fee + refunded = held), and a dispute racing the auto-confirm has one winner.
 */
describeWithInfra(["mongo"], "disputes, embedded", (infra) => {
  let system: System;
  let owner: string;
  const admin = () => system.token("admin", "ops-disputes");

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    owner = system.token("owner", "owner-disputes");
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
  const bookingService = () =>
    system.brokers[0].getLocalService("booking") as unknown as BookingThis & {
      models: { bookings: Model<BookingDoc> };
    };

  /** A paid booking carried and delivered by a fresh verified runner: its id and the runner's token. */
  async function delivered(name: string) {
    const runner = system.token("runner", name);
    await verifiedRunner(system, runner);
    expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
    const booking = await heldBooking(system, owner, trip);
    const id = booking.booking_id;
    expect((await post(`/api/bookings/${id}/accept`, runner)).status).toBe(200);
    const who = { runner, owner };
    for (const move of ["pickup", "depart", "deliver"]) {
      expect((await makeMove(system, id, move, who)).status).toBe(200);
    }
    return { id, runner, held: booking.estimated_price_cents };
  }

  const report = { reason: "injured", text: "A cut on the left front paw" };
  const dispute = (id: string, body: Record<string, unknown> = report, token = owner) =>
    post(`/api/bookings/${id}/dispute`, token, body);
  const resolve = (id: string, body: Record<string, unknown>) =>
    post(`/api/bookings/${id}/resolve`, admin(), body);

  /** The booking once its escrow settled: completed (captured) or refunded (hold released). */
  const settled = (id: string) =>
    eventually(
      async () => {
        const booking = await bookingOf(id);
        return ["completed", "refunded"].includes(booking.status) ? booking : undefined;
      },
      { what: "the escrow to settle" },
    );

  /** The booking's events as published, in order. */
  async function publishedTypes(id: string): Promise<string[]> {
    const records = await runtimeOf(system.brokers[0]).bus.readTopic("booking.events");
    return records
      .filter((record) => record.key === id)
      .map((record) => (JSON.parse(record.value) as { type: string }).type);
  }

  const inboxTitles = async (token: string, id: string) =>
    (await get<{ items: NotificationEntity[] }>("/api/notifications", token)).body.items
      .filter((n) => n.booking_id === id)
      .map((n) => n.title);

  it("takes the owner's report with photos: the auto-confirm stops, operations list it, both parties hear of it; bad input changes nothing", async () => {
    const { id, runner } = await delivered("runner-dispute-report");
    const photos = `/api/bookings/${id}/photos?stage=dispute`;
    const photo = await upload(system, photos, owner, await smallJpeg());
    expect(photo.status).toBe(201);
    const byRunner = await upload(system, photos, runner, await smallJpeg());
    expect([byRunner.status, byRunner.body.type]).toEqual([403, "FORBIDDEN"]);

    // Refused, each a 4xx that changes nothing.
    const reason = await dispute(id, { ...report, reason: "bored" });
    expect([reason.status, reason.body.message]).toEqual([
      422,
      "Invalid request: reason: expected one of injured, wrong_pet, late, not_delivered, other",
    ]);
    const runnersPhoto = (await bookingOf(id)).dropoff_proof?.photo_id;
    const borrowed = await dispute(id, { ...report, photo_ids: [runnersPhoto] });
    expect([borrowed.status, borrowed.body.message]).toEqual([
      422,
      expect.stringContaining("photo_ids.0: not a photo of this booking you uploaded") as string,
    ]);
    expect((await dispute(id, { reason: "injured" })).status).toBe(422);
    expect((await dispute(id, report, runner)).status).toBe(403);
    expect((await dispute(id, report, system.token("owner", "owner-stranger"))).status).toBe(404);
    const before = await bookingOf(id);
    expect([before.status, before.auto_confirm_at === null]).toEqual(["delivered", false]);

    const photo_ids = [String(photo.body.photo_id)];
    const disputed = await dispute(id, { ...report, photo_ids });
    expect(disputed.status).toBe(200);
    expect(disputed.body).toEqual(
      expect.objectContaining({
        status: "disputed",
        auto_confirm_at: null,
        payment_status: "held",
        dispute: {
          ...report,
          photo_ids,
          opened_at: expect.any(String) as string,
          outcome: null,
          refund_cents: null,
          note: null,
          resolved_by: null,
          resolved_at: null,
        },
      }),
    );
    // A double tap: the first report stands.
    const again = await dispute(id, { ...report, reason: "late" });
    expect([again.status, again.body.dispute?.reason]).toEqual([200, "injured"]);

    const open = await get<{ items: BookingEntity[] }>("/api/ops/disputes", admin());
    expect(open.body.items.find((b) => b.booking_id === id)?.dispute?.photo_ids).toEqual(photo_ids);
    expect((await get("/api/ops/disputes", owner)).status).toBe(403);
    const image = await fetch(`${system.url}/api/bookings/${id}/photos/${photo_ids[0]}`, {
      headers: { authorization: `Bearer ${admin()}` },
    });
    expect([image.status, image.headers.get("content-type")]).toEqual([200, "image/jpeg"]);

    await eventually(
      async () => {
        const [mine, theirs] = await Promise.all([inboxTitles(owner, id), inboxTitles(runner, id)]);
        return mine.some((t) => t.endsWith("problem reported")) &&
          theirs.some((t) => t.endsWith("the owner reported a problem"))
          ? true
          : undefined;
      },
      { what: "both parties told of the dispute" },
    );
  });

  it("resolves with a partial refund: the hold less the refund captured, payout + fee + refunded = held, completed at the captured price", async () => {
    const { id, held } = await delivered("runner-dispute-partial");
    expect((await dispute(id)).status).toBe(200);

    const tooMuch = await resolve(id, { outcome: "partial_refund", refund_cents: held });
    expect([tooMuch.status, tooMuch.body.message]).toEqual([
      422,
      `Invalid request: refund_cents: a partial refund is 1 to ${held - 1} (the hold is ${held})`,
    ]);
    expect((await resolve(id, { outcome: "partial_refund" })).status).toBe(422);
    expect((await resolve(id, { outcome: "release", refund_cents: 5 })).status).toBe(422);
    expect((await resolve(id, { outcome: "maybe" })).status).toBe(422);
    expect(
      (await post(`/api/bookings/${id}/resolve`, owner, { outcome: "full_refund" })).status,
    ).toBe(403);
    expect((await bookingOf(id)).status).toBe("disputed");

    const refund = Math.floor(held / 4) + 1;
    const resolution = { outcome: "partial_refund", refund_cents: refund, note: "a vet visit" };
    const resolved = await resolve(id, resolution);
    expect([resolved.status, resolved.body.status, resolved.body.dispute?.outcome]).toEqual([
      200,
      "confirmed",
      "partial_refund",
    ]);
    // The same resolution again answers as the first; another one is too late.
    expect((await resolve(id, resolution)).status).toBe(200);
    expect((await resolve(id, { outcome: "full_refund" })).status).toBe(409);

    const booking = await settled(id);
    const payment = await paymentOf(id);
    const captured = held - refund;
    const fee = Math.round((captured * FEE_BPS) / 10_000);
    expect([booking.status, booking.final_price_cents, booking.payment_status]).toEqual([
      "completed",
      captured,
      "released",
    ]);
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
    expect(payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents).toBe(
      held,
    );
    expect(await publishedTypes(id)).toEqual(
      expect.arrayContaining(["booking.disputed", "booking.dispute_resolved", "booking.completed"]),
    );
    expect(await publishedTypes(id)).not.toContain("booking.delivery_confirmed");
    await eventually(
      async () =>
        (await inboxTitles(owner, id)).some((t) => t.endsWith("partly refunded"))
          ? true
          : undefined,
      { what: "the owner told of the partial refund" },
    );
  });

  it("resolves with a full refund: the hold is released, nothing is paid out, the booking ends refunded", async () => {
    const { id, held } = await delivered("runner-dispute-full");
    expect((await dispute(id, { reason: "not_delivered", text: "Nobody came" })).status).toBe(200);
    expect((await resolve(id, { outcome: "full_refund" })).status).toBe(200);

    const booking = await settled(id);
    const payment = await paymentOf(id);
    expect([booking.status, booking.payment_status, booking.final_price_cents]).toEqual([
      "refunded",
      "refunded",
      0,
    ]);
    expect(payment).toEqual(
      expect.objectContaining({
        status: "canceled",
        captured_cents: 0,
        platform_fee_cents: 0,
        runner_payout_cents: 0,
        refunded_cents: held,
      }),
    );
    expect(payment.runner_payout_cents + payment.platform_fee_cents + payment.refunded_cents).toBe(
      held,
    );
    // The end of the road: no dispute, no resolution, no confirmation any more.
    expect((await resolve(id, { outcome: "release" })).status).toBe(409);
    expect((await dispute(id)).status).toBe(409);
    expect((await post(`/api/bookings/${id}/confirm`, owner)).status).toBe(409);
  });

  it("resolves by release: the runner is paid as on a confirmation", async () => {
    const { id, held } = await delivered("runner-dispute-release");
    expect((await dispute(id, { reason: "late", text: "An hour late" })).status).toBe(200);
    expect((await resolve(id, { outcome: "release" })).status).toBe(200);

    const booking = await settled(id);
    const payment = await paymentOf(id);
    const fee = Math.round((held * FEE_BPS) / 10_000);
    expect([booking.status, booking.final_price_cents]).toEqual(["completed", held]);
    expect(payment).toEqual(
      expect.objectContaining({
        status: "captured",
        captured_cents: held,
        refunded_cents: 0,
        platform_fee_cents: fee,
        runner_payout_cents: held - fee,
      }),
    );
  });

  it("refuses a dispute before the delivery, and after the owner confirmed (409)", async () => {
    const early = await heldBooking(system, owner, trip);
    expect((await dispute(early.booking_id)).status).toBe(409);
    const { id } = await delivered("runner-dispute-late");
    expect((await post(`/api/bookings/${id}/confirm`, owner)).status).toBe(200);
    const late = await dispute(id);
    // The escrow's capture may complete the booking before the dispute arrives: either way, late.
    expect([late.status, late.body.message]).toEqual([
      409,
      expect.stringMatching(/^A (confirmed|completed) booking cannot be disputed$/),
    ]);
  });

  it("records a card dispute Stripe reports against the payment, opened then closed; late news of its opening changes nothing", async () => {
    const { id, held } = await delivered("runner-card-dispute");
    expect((await post(`/api/bookings/${id}/confirm`, owner)).status).toBe(200);
    await settled(id);
    const intent = (await paymentOf(id)).provider_ref;
    const card = { id: "dp_1", object: "dispute", payment_intent: intent, amount: held };
    const webhook = (eventId: string, type: string, object: Record<string, unknown>) =>
      sendStripeWebhook(system.url, system.config.stripe.webhookSecret, {
        id: eventId,
        type,
        object,
      }).then((response) => response.json() as Promise<{ outcome: string }>);

    const opened = { ...card, reason: "product_not_received", status: "needs_response" };
    expect((await webhook("evt_dp_1", "charge.dispute.created", opened)).outcome).toBe("disputed");
    expect((await paymentOf(id)).stripe_dispute).toEqual({
      id: "dp_1",
      status: "needs_response",
      reason: "product_not_received",
      amount_cents: held,
      opened_at: expect.any(String) as string,
      closed_at: null,
    });
    const won = { ...opened, status: "won" };
    expect((await webhook("evt_dp_2", "charge.dispute.closed", won)).outcome).toBe(
      "dispute closed",
    );
    expect((await webhook("evt_dp_3", "charge.dispute.created", opened)).outcome).toBe("no change");
    const payment = await paymentOf(id);
    expect([payment.status, payment.stripe_dispute?.status]).toEqual(["captured", "won"]);
    expect(payment.stripe_dispute?.closed_at).toEqual(expect.any(String));
  });

  describe("a dispute against the auto-confirm sweep", () => {
    /** Arranged: the owner's window closed a moment ago; the sweep has not run yet. */
    const due = (id: string) =>
      bookingService().models.bookings.updateOne(
        { _id: id },
        { $set: { auto_confirm_at: new Date(Date.now() - 1000) } },
      );
    const sweep = () => autoConfirmDue.call(bookingService());

    it("given the dispute lands first, then the sweep finds nothing to confirm", async () => {
      const { id } = await delivered("runner-race-dispute-first");
      expect((await dispute(id)).status).toBe(200);
      await due(id); // even with a due time, a disputed booking is not the sweep's
      await sweep();
      expect((await bookingOf(id)).status).toBe("disputed");
    });

    it("given the sweep lands first, then the dispute is too late (409)", async () => {
      const { id } = await delivered("runner-race-sweep-first");
      await due(id);
      await sweep();
      expect((await dispute(id)).status).toBe(409);
      expect((await settled(id)).status).toBe("completed");
    });

    it("given both at the same moment, for each booking one wins: disputed or confirmed, never both", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await delivered(`runner-race-${i}`)).id);
      await Promise.all(ids.map(due));
      const [answers] = await Promise.all([Promise.all(ids.map((id) => dispute(id))), sweep()]);
      for (const [i, id] of ids.entries()) {
        expect([200, 409]).toContain(answers[i].status);
        const won = answers[i].status === 200;
        const types = await eventually(async () => {
          const published = await publishedTypes(id);
          return published.includes(won ? "booking.disputed" : "booking.delivery_confirmed")
            ? published
            : undefined;
        });
        const winners = types.filter((t) =>
          ["booking.disputed", "booking.delivery_confirmed"].includes(t),
        );
        expect(winners).toEqual([won ? "booking.disputed" : "booking.delivery_confirmed"]);
        const booking = won ? await bookingOf(id) : await settled(id);
        expect(booking.status).toBe(won ? "disputed" : "completed");
      }
    });
  });
});
