import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Model } from "mongoose";
import type { BookingEntity, PaymentEntity } from "../../contracts";
import type { PaymentDoc } from "../../models/payment.model";
import { describeWithInfra } from "../support/infra";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { bookAndHold, sendStripeWebhook } from "../support/stripe-webhook";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

const SECRET = "whsec_dispute_evidence";

/** A request the payment service made to Stripe, and what stripe-mock answered. */
interface Seen {
  method: string;
  path: string;
  idempotencyKey: string | null;
  body: Buffer;
  answer: Record<string, unknown>;
}

const readAll = async (req: IncomingMessage) => {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
};

/**
 * stripe-mock behind a recorder: stripe-mock checks each request against Stripe's OpenAPI spec
 * but keeps nothing, so what was sent is read here, on its way.
 */
async function recordingStripe(
  target: string,
): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const headers: Record<string, string> = {};
      for (const name of ["authorization", "content-type", "idempotency-key", "stripe-version"]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const answer = await fetch(target + (req.url ?? ""), {
        method: req.method,
        headers,
        ...(body.length ? { body: new Uint8Array(body) } : {}),
      });
      const text = await answer.text();
      seen.push({
        method: req.method ?? "",
        path: (req.url ?? "").split("?")[0],
        idempotencyKey: headers["idempotency-key"] ?? null,
        body,
        answer: JSON.parse(text) as Record<string, unknown>,
      });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, server };
}

type Answer = { received: boolean; outcome?: string; evidence?: string; duplicate?: boolean };

/** The payments as the payment service stores them (the entity does not show the evidence). */
const paymentsOf = (system: System) =>
  (
    system.brokers[0].getLocalService("payment") as unknown as {
      models: { payments: Model<PaymentDoc> };
    }
  ).models.payments;

/** Runs a paid booking to its delivery and confirmation: its id, once its escrow is captured. */
async function deliveredAndCaptured(system: System, owner: string, bookingId: string) {
  const runner = system.token("runner", `runner-${bookingId}`);
  await verifiedRunner(system, runner);
  await system.api("POST", "/api/runners/me/online", {
    token: runner,
    body: { lat: -6.2, lng: 106.8 },
  });
  for (const move of ["accept", "pickup", "depart", "deliver"]) {
    expect((await makeMove(system, bookingId, move, { runner, owner })).status).toBe(200);
  }
  expect(
    (await system.api("POST", `/api/bookings/${bookingId}/confirm`, { token: owner })).status,
  ).toBe(200);
  return eventually(
    async () => {
      const payment = await system.api<PaymentEntity>("GET", `/api/bookings/${bookingId}/payment`, {
        token: owner,
      });
      return payment.body.status === "captured" ? payment.body : undefined;
    },
    { what: "the escrow captured" },
  );
}

const cardDispute = (id: string, payment: PaymentEntity) => ({
  id,
  object: "dispute",
  payment_intent: payment.provider_ref,
  amount: payment.captured_cents,
  reason: "product_not_received",
  status: "needs_response",
});

describeWithInfra(
  ["mongo", "stripe"],
  "a card dispute answered with the handover proof (stripe-mock)",
  (infra) => {
    let system: System;
    let stripe: Awaited<ReturnType<typeof recordingStripe>>;
    let owner: string;

    beforeAll(async () => {
      stripe = await recordingStripe(infra.stripe);
      system = await startSystem({
        infra: { mongo: infra.mongo, stripe: stripe.url },
        env: { STRIPE_WEBHOOK_SECRET: SECRET },
      });
      owner = system.token("owner", "owner-card-dispute");
    });
    afterAll(async () => {
      await system?.stop();
      await new Promise((resolve) => stripe?.server.close(resolve));
    });

    const webhook = async (id: string, type: string, object: Record<string, unknown>) => {
      const response = await sendStripeWebhook(system.url, SECRET, { id, type, object });
      expect(response.status).toBe(200);
      return (await response.json()) as Answer;
    };

    it("uploads the drop-off photo and stages the evidence on the dispute, once however often Stripe says it opened", async () => {
      const { booking } = await bookAndHold(system, owner, SECRET);
      const id = booking.booking_id;
      const payment = await deliveredAndCaptured(system, owner, id);
      const proof = (
        await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })
      ).body;
      const photo = Buffer.from(
        await (
          await fetch(`${system.url}/api/bookings/${id}/photos/${proof.dropoff_proof?.photo_id}`, {
            headers: { authorization: `Bearer ${owner}` },
          })
        ).arrayBuffer(),
      );
      stripe.seen.splice(0);

      const dispute = cardDispute("dp_evidence_1", payment);
      expect(await webhook("evt_dp_ev_1", "charge.dispute.created", dispute)).toEqual({
        received: true,
        outcome: "disputed",
        evidence: "given",
      });
      const key = `${payment.payment_id}:evidence:dp_evidence_1`;
      expect(stripe.seen.map((r) => [r.method, r.path, r.idempotencyKey])).toEqual([
        ["POST", "/v1/files", `${key}:file`],
        ["POST", "/v1/disputes/dp_evidence_1", key],
      ]);
      const [file, update] = stripe.seen;
      // The file is the drop-off photo itself, for dispute evidence.
      expect(file.body.includes(photo)).toBe(true);
      expect(file.body.toString("latin1")).toMatch(/name="purpose"\r\n\r\ndispute_evidence/);
      const form = new URLSearchParams(update.body.toString("utf8"));
      const text = form.get("evidence[uncategorized_text]") ?? "";
      expect(text).toContain(`booking ${booking.booking_number}.`);
      expect(text).toContain(`Picked up ${proof.pickup_proof?.at}`);
      expect(text).toContain(`Handed over ${proof.dropoff_proof?.at}`);
      expect(text).toContain("the recipient gave the PIN");
      expect([
        form.get("evidence[service_documentation]"),
        form.get("evidence[service_date]"),
        form.get("submit"),
      ]).toEqual([file.answer.id, proof.dropoff_proof?.at.slice(0, 10), "false"]);

      const stored = await paymentsOf(system).findById(payment.payment_id).lean<PaymentDoc>();
      expect(stored?.stripe_dispute).toEqual(
        expect.objectContaining({
          id: "dp_evidence_1",
          evidence_submitted_at: expect.any(Date) as Date,
          evidence: { text, photo_id: proof.dropoff_proof?.photo_id, file_id: file.answer.id },
        }),
      );

      // The same event again, and the same news under another event id: nothing more sent.
      expect(await webhook("evt_dp_ev_1", "charge.dispute.created", dispute)).toEqual({
        received: true,
        duplicate: true,
      });
      expect(await webhook("evt_dp_ev_2", "charge.dispute.created", dispute)).toEqual({
        received: true,
        outcome: "disputed",
        evidence: "given before",
      });
      // Closed later: the evidence stays recorded.
      const closed = await webhook("evt_dp_ev_3", "charge.dispute.closed", {
        ...dispute,
        status: "won",
      });
      expect(closed).toEqual({ received: true, outcome: "dispute closed" });
      expect(stripe.seen).toHaveLength(2);
      const after = await paymentsOf(system).findById(payment.payment_id).lean<PaymentDoc>();
      expect([after?.stripe_dispute?.status, after?.stripe_dispute?.evidence_submitted_at]).toEqual(
        ["won", stored?.stripe_dispute?.evidence_submitted_at],
      );
    });

    it("gives the evidence once when Stripe sends the opening twice at the same moment", async () => {
      const { booking } = await bookAndHold(system, owner, SECRET);
      const payment = await deliveredAndCaptured(system, owner, booking.booking_id);
      stripe.seen.splice(0);
      const dispute = cardDispute("dp_evidence_2", payment);
      const answers = await Promise.all(
        ["evt_dp_twice_1", "evt_dp_twice_2"].map((id) =>
          webhook(id, "charge.dispute.created", dispute),
        ),
      );
      expect(answers.map((a) => a.evidence).sort()).toEqual(["given", "given before"].sort());
      // Both may reach Stripe, under the same keys: Stripe answers the second with the first.
      expect(new Set(stripe.seen.map((r) => r.idempotencyKey)).size).toBe(2);
    });
  },
);

describeWithInfra(["mongo"], "a card dispute with the simulated provider", (infra) => {
  let system: System;
  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("records the handover proof as the evidence on the payment only", async () => {
    const owner = system.token("owner", "owner-simulated-card-dispute");
    const booking = await heldBooking(system, owner, {
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.25, lng: 106.85 },
    });
    const payment = await deliveredAndCaptured(system, owner, booking.booking_id);
    const answer = await sendStripeWebhook(system.url, system.config.stripe.webhookSecret, {
      id: "evt_sim_dp_1",
      type: "charge.dispute.created",
      object: cardDispute("dp_sim_1", payment),
    });
    expect(await answer.json()).toEqual({ received: true, outcome: "disputed", evidence: "given" });
    const proof = (
      await system.api<BookingEntity>("GET", `/api/bookings/${booking.booking_id}`, {
        token: owner,
      })
    ).body;
    const stored = await paymentsOf(system).findById(payment.payment_id).lean<PaymentDoc>();
    expect(stored?.stripe_dispute?.evidence).toEqual({
      text: expect.stringContaining(`Handed over ${proof.dropoff_proof?.at}`) as string,
      photo_id: proof.dropoff_proof?.photo_id,
      file_id: null,
    });
  });
});
