import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import type { Model } from "mongoose";
import { runtimeOf } from "../../lib/runtime";
import type { WebhookDoc } from "../../models/webhook.model";
import { verify } from "../../adapters/notify/signature";
import { describeWithInfra } from "../support/infra";
import { ISSUE_19_INTERNAL_URLS } from "../support/internal-urls";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

/** A partner's endpoint: records what arrives; answers 500 to the first `failFirst` calls. */
async function receiver(failFirst: number) {
  const received: Received[] = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(++calls <= failFirst ? 500 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/kilat`;
  return { url, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

interface Delivery {
  event_type: string;
  status: string;
  attempts: { at: string; outcome: string; status_code: number | null }[];
}

/** A webhook's deliveries once the newest has been tried `attempts` times. */
const deliveriesOf = (system: System, token: string, id: string, attempts = 1) =>
  eventually(async () => {
    const response = await system.api<{ items: Delivery[] }>(
      "GET",
      `/api/webhooks/${id}/deliveries`,
      { token },
    );
    return (response.body.items[0]?.attempts.length ?? 0) >= attempts
      ? response.body.items
      : undefined;
  });

const book = (system: System, token: string) =>
  system.api<{ booking_id: string }>("POST", "/api/bookings", {
    token,
    body: {
      pet_type: "dog",
      pet_name: "Hook",
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.21, lng: 106.8 },
    },
  });

const AT = expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as string;

/** Integrator webhooks: signed CloudEvents, retried with backoff, attempts listable. */
describeWithInfra(["mongo"], "integrator webhooks, embedded", (infra) => {
  let system: System;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
    await system?.stop();
  });

  it("delivers an owner's events signed, retries a failing endpoint, and logs each attempt", async () => {
    const partner = await receiver(1);
    closers.push(partner.close);
    const owner = system.token("owner", "hook-owner");
    const created = await system.api<{ id: string; secret: string; events: string[] }>(
      "POST",
      "/api/webhooks",
      { token: owner, body: { url: partner.url, events: ["booking.requested"] } },
    );
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const listed = await system.api<{ items: Record<string, unknown>[] }>("GET", "/api/webhooks", {
      token: owner,
    });
    expect(listed.body.items).toEqual([expect.objectContaining({ id: created.body.id })]);
    expect(listed.body.items[0].secret).toBeUndefined();

    const mine = await book(system, owner);
    await book(system, system.token("owner", "hook-someone-else")); // not this owner's: not sent

    await eventually(() => (partner.received.length >= 2 ? true : undefined), {
      what: "the retry after a 500",
      timeoutMs: 10000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(partner.received).toHaveLength(2); // the 500, then the delivery; nothing else
    for (const { headers, body } of partner.received) {
      expect(verify(created.body.secret, body, String(headers["kilat-signature"]))).toBe(true);
      expect(headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
      const event = JSON.parse(body) as {
        type: string;
        specversion: string;
        data: { booking_id: string };
      };
      expect([event.specversion, event.type, event.data.booking_id]).toEqual([
        "1.0",
        "booking.requested",
        mine.body.booking_id,
      ]);
    }

    const deliveries = await eventually(async () => {
      const response = await system.api<{ items: Delivery[] }>(
        "GET",
        `/api/webhooks/${created.body.id}/deliveries`,
        { token: owner },
      );
      return response.body.items[0]?.status === "delivered" ? response.body.items : undefined;
    });
    expect(deliveries).toHaveLength(1);
    // Time, outcome and the receiver's status code: nothing else (no error text, no duration).
    expect(deliveries[0].attempts).toEqual([
      { at: AT, outcome: "http_error", status_code: 500 },
      { at: AT, outcome: "delivered", status_code: 204 },
    ]);

    // The notification service keeps no processed-events record: its effects are keyed by the
    // event id. The same booking.requested delivered again (at-least-once) adds no inbox entry,
    // no delivery and no call; a later booking shows the consumer went past the repeat.
    const bus = runtimeOf(system.brokers[0]).bus;
    const requested = (await bus.readTopic("booking.events")).filter(
      (record) =>
        record.value.includes(mine.body.booking_id) && record.value.includes("booking.requested"),
    );
    expect(requested).toHaveLength(1);
    // A webhook subscribed after the event happened does not get its replay.
    const newcomer = await receiver(0);
    closers.push(newcomer.close);
    const subscribed = await system.api("POST", "/api/webhooks", {
      token: owner,
      body: { url: newcomer.url, events: ["booking.requested"] },
    });
    expect(subscribed.status).toBe(201);
    await bus.publishWire("booking.events", [...requested, ...requested]);
    const later = await book(system, owner);
    await eventually(() =>
      partner.received.some((call) => call.body.includes(later.body.booking_id)) &&
      newcomer.received.length > 0
        ? true
        : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(partner.received).toHaveLength(3);
    expect(newcomer.received.map((call) => call.body.includes(later.body.booking_id))).toEqual([
      true,
    ]);
    const inbox = await system.api<{ items: { booking_id: string; event_type: string }[] }>(
      "GET",
      "/api/notifications",
      { token: owner },
    );
    expect(
      inbox.body.items.filter(
        (item) =>
          item.booking_id === mine.body.booking_id && item.event_type === "booking.requested",
      ),
    ).toHaveLength(1);
    const listedAgain = await system.api<{ items: Delivery[] }>(
      "GET",
      `/api/webhooks/${created.body.id}/deliveries`,
      { token: owner },
    );
    expect(listedAgain.body.items).toHaveLength(2);

    const notYours = await system.api("GET", `/api/webhooks/${created.body.id}/deliveries`, {
      token: system.token("owner", "hook-someone-else"),
    });
    expect(notYours.status).toBe(404);
    const removed = await system.api("DELETE", `/api/webhooks/${created.body.id}`, {
      token: owner,
    });
    expect(removed.status).toBe(200);
  });

  it("lists an unreachable receiver's attempts as `unreachable`, without the error or timing", async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const owner = system.token("owner", "hook-closed");
    const created = await system.api<{ id: string }>("POST", "/api/webhooks", {
      token: owner,
      body: { url: `http://127.0.0.1:${port}/hook`, events: ["booking.requested"] },
    });
    expect(created.status).toBe(201);
    await book(system, owner);

    const [delivery] = await deliveriesOf(system, owner, created.body.id);
    expect(delivery.status).toBe("pending");
    expect(delivery.attempts).toEqual([{ at: AT, outcome: "unreachable", status_code: null }]);
  });

  it("lists a receiver that never answers and a closed port alike: the attempts' timing and appearance do not time them", async () => {
    // Accepts the connection and never answers: each attempt runs into the 5 s deadline.
    const held: Socket[] = [];
    const silent = createNetServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    closers.push(() => {
      for (const socket of held) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const owner = system.token("owner", "hook-timing");
    const hooks: string[] = [];
    for (const port of [(silent.address() as AddressInfo).port, closedPort]) {
      const created = await system.api<{ id: string }>("POST", "/api/webhooks", {
        token: owner,
        body: { url: `http://127.0.0.1:${port}/hook`, events: ["booking.requested"] },
      });
      expect(created.status).toBe(201);
      hooks.push(created.body.id);
    }
    await book(system, owner);

    // Polled as a scanner would: when each first attempt shows up, and every field shown.
    const firstSeen: (number | undefined)[] = [undefined, undefined];
    const lists = await eventually(
      async () => {
        const items = await Promise.all(
          hooks.map(async (id) => {
            const response = await system.api<{ items: Record<string, unknown>[] }>(
              "GET",
              `/api/webhooks/${id}/deliveries`,
              { token: owner },
            );
            return response.body.items;
          }),
        );
        items.forEach((list, i) => {
          const shown = (list[0]?.attempts as unknown[] | undefined)?.length ?? 0;
          if (shown > 0) firstSeen[i] ??= Date.now();
        });
        return items.every((list) => (list[0]?.attempts as unknown[]).length >= 2)
          ? items
          : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 50, what: "two settled attempts on each webhook" },
    );
    const [silentItem, closedItem] = lists.map((list) => list[0] as unknown as Delivery);
    for (const [item] of lists) {
      expect(Object.keys(item).sort()).toEqual([
        "attempts",
        "event_id",
        "event_type",
        "id",
        "status",
      ]);
    }
    expect([silentItem.attempts.slice(0, 2), closedItem.attempts.slice(0, 2)]).toEqual([
      [
        { at: AT, outcome: "unreachable", status_code: null },
        { at: AT, outcome: "unreachable", status_code: null },
      ],
      [
        { at: AT, outcome: "unreachable", status_code: null },
        { at: AT, outcome: "unreachable", status_code: null },
      ],
    ]);
    const started = (item: Delivery, n: number) => Date.parse(item.attempts[n].at);
    const gaps = [silentItem, closedItem].map((item) => started(item, 1) - started(item, 0));
    const shownAfter = [silentItem, closedItem].map(
      (item, i) => (firstSeen[i] ?? Infinity) - started(item, 0),
    );
    // The silent receiver's attempts took 5 s each, the closed port's none: told apart, the
    // figures below would differ by about that.
    expect([
      Math.abs(gaps[0] - gaps[1]) < 1000,
      Math.abs(shownAfter[0] - shownAfter[1]) < 1000,
    ]).toEqual([true, true]);
  });

  it("refuses bad subscriptions with a 4xx naming the field", async () => {
    const owner = system.token("owner", "hook-bad");
    const badUrl = await system.api<{ data: { field: string }[] }>("POST", "/api/webhooks", {
      token: owner,
      body: { url: "ftp://example.com/x", events: ["booking.requested"] },
    });
    expect([badUrl.status, badUrl.body.data[0].field]).toEqual([422, "url"]);
    const badEvent = await system.api<{ data: { field: string }[] }>("POST", "/api/webhooks", {
      token: owner,
      body: { url: "https://partner.example/hook", events: ["tracking.updated"] },
    });
    expect([badEvent.status, badEvent.body.data[0].field]).toEqual([422, "events.0"]);
    const withCredentials = await system.api<{ data: { field: string; message: string }[] }>(
      "POST",
      "/api/webhooks",
      {
        token: owner,
        body: { url: "https://user:pass@partner.example/hook", events: ["booking.requested"] },
      },
    );
    expect([withCredentials.status, withCredentials.body.data]).toEqual([
      422,
      [
        expect.objectContaining({
          field: "url",
          message: "must not contain a user name or password",
        }),
      ],
    ]);
    const runner = await system.api("POST", "/api/webhooks", {
      token: system.token("runner", "hook-runner"),
      body: { url: "https://partner.example/hook", events: ["booking.requested"] },
    });
    expect(runner.status).toBe(403);
  });

  it("caps one user's webhooks at 10 (each multiplies every event), and takes one again after a delete", async () => {
    const owner = system.token("owner", "hook-many");
    const create = () =>
      system.api<{ id: string; message?: string }>("POST", "/api/webhooks", {
        token: owner,
        body: { url: "https://partner.example/hook", events: ["booking.requested"] },
      });
    const made: string[] = [];
    for (let i = 0; i < 10; i++) {
      const created = await create();
      expect([created.status, created.headers.get("location")]).toEqual([
        201,
        `/api/webhooks/${created.body.id}`,
      ]);
      made.push(created.body.id);
    }
    const eleventh = await create();
    expect([eleventh.status, eleventh.body.message]).toEqual([
      409,
      "At most 10 webhooks per user: delete one before adding another",
    ]);
    expect((await system.api("DELETE", `/api/webhooks/${made[0]}`, { token: owner })).status).toBe(
      200,
    );
    expect((await create()).status).toBe(201);
  });
});

/** In production webhooks may not point inside the network (SSRF). */
describeWithInfra(["mongo"], "webhook URLs in production", (infra) => {
  let system: System;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { WEBHOOK_ALLOW_INTERNAL: "false" },
    });
  });
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
    await system?.stop();
  });

  it("refuses loopback, private, metadata, special-purpose and unresolvable hosts, naming the field", async () => {
    const owner = system.token("owner", "ssrf-owner");
    for (const url of [
      "http://127.0.0.1:9000/hook",
      "http://localhost/hook",
      "http://169.254.169.254/latest/meta-data",
      "http://10.0.0.5/hook",
      "http://[::1]/hook",
      ...ISSUE_19_INTERNAL_URLS,
      "http://[2002:7f00:1::]/hook",
      "http://[fe80::1]/hook",
      // a name that does not resolve answers the same, so internal names cannot be probed
      "http://kilat-test.invalid/hook",
    ]) {
      const response = await system.api<{ data: { field: string; type: string }[] }>(
        "POST",
        "/api/webhooks",
        { token: owner, body: { url, events: ["booking.requested"] } },
      );
      expect([url, response.status, response.body.data[0]]).toEqual([
        url,
        422,
        expect.objectContaining({ field: "url", type: "internal_address" }),
      ]);
    }
    const listed = await system.api<{ items: unknown[] }>("GET", "/api/webhooks", { token: owner });
    expect(listed.body.items).toEqual([]);
  });

  it("does not send to an internal address a subscription already holds, and says only `unreachable`", async () => {
    const inside = await receiver(0);
    closers.push(inside.close);
    const owner = system.token("owner", "ssrf-legacy");
    // As if subscribed before the filter knew this form: the send is checked on its own.
    const notification = system.brokers[0].getLocalService("notification") as unknown as {
      models: { webhooks: Model<WebhookDoc> };
    };
    const url = inside.url.replace("127.0.0.1", "[::ffff:127.0.0.1]");
    await notification.models.webhooks.create({
      _id: "wh_legacy",
      owner_id: "ssrf-legacy",
      role: "owner",
      url,
      events: ["booking.requested"],
      secret: "whsec_legacy",
      created_at: new Date(Date.now() - 1000),
    });
    await system.brokers[0].broadcast("notification.webhooksChanged");
    await book(system, owner);

    const [delivery] = await deliveriesOf(system, owner, "wh_legacy");
    expect(delivery.attempts).toEqual([{ at: AT, outcome: "unreachable", status_code: null }]);
    expect(inside.received).toEqual([]);
  });
});
