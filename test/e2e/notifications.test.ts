import { MongoClient } from "mongodb";
import type { Socket } from "socket.io-client";
import type { NotificationEntity } from "../../contracts";
import { createEvent } from "../../events/envelope";
import type { EventBus } from "../../adapters/event-bus";
import { createRuntime } from "../../lib/runtime";
import { describeWithInfra, uniqueName } from "../support/infra";
import { collect, connectSocket } from "../support/live";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

interface Inbox {
  items: NotificationEntity[];
  unread_count: number;
  next_cursor: string | null;
}

/** Every step of a delivery reaches the right person, in the inbox and on their sockets. */
describeWithInfra(["mongo"], "notifications, embedded", (infra) => {
  let system: System;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await system?.stop();
  });

  const inbox = async (token: string, query = "") =>
    (await system.api<Inbox>("GET", `/api/notifications?limit=50${query}`, { token })).body;
  const typesOf = (box: Inbox) => box.items.map((item) => item.event_type).sort();

  it("tells owner and runner about each step of a delivery, once, live and in the inbox", async () => {
    const pickup = { lat: -6.6, lng: 106.8 };
    const owner = system.token("owner", "note-owner");
    const runner = system.token("runner", "note-runner");
    // A verified runner, as every runner given a job is. "You are verified" came before this
    // trip: it is read, and left out of what the runner was told about the trip.
    await verifiedRunner(system, runner);
    await eventually(async () =>
      (await inbox(runner)).items.some((item) => item.event_type === "runner.verification_decided")
        ? true
        : undefined,
    );
    await system.api("POST", "/api/notifications/read-all", { token: runner });
    const runnerInbox = async () => {
      const box = await inbox(runner);
      const items = box.items.filter((item) => item.event_type !== "runner.verification_decided");
      return { ...box, items };
    };
    const ownerSocket = await connectSocket(system.url, owner);
    const runnerSocket = await connectSocket(system.url, runner);
    sockets.push(ownerSocket, runnerSocket);
    const ownerLive = collect<NotificationEntity>(ownerSocket, "notification");
    const runnerLive = collect<NotificationEntity>(runnerSocket, "notification");

    await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
    const booked = await heldBooking(system, owner, {
      pet_type: "rabbit",
      pet_name: "Snow",
      pickup,
      dropoff: { lat: -6.62, lng: 106.8 },
    });
    const id = booked.booking_id;
    for (const step of ["accept", "pickup", "depart", "deliver"]) {
      const moved = await makeMove(system, id, step, { runner, owner });
      expect(moved.status).toBe(200);
    }
    await system.api("POST", `/api/bookings/${id}/confirm`, { token: owner });

    const ownerExpected = [
      "booking.accepted",
      "booking.completed",
      "booking.delivered",
      "booking.delivery_confirmed",
      "booking.delivery_in_progress",
      "booking.pet_picked_up",
      "booking.requested",
      "payment.escrow_held",
      "tracking.completed",
      "tracking.started",
    ];
    const runnerExpected = [
      "booking.completed",
      "booking.delivery_confirmed",
      "payment.escrow_released",
      "runner.assigned",
    ];
    const ownerBox = await eventually(async () => {
      const box = await inbox(owner);
      return box.items.length >= ownerExpected.length ? box : undefined;
    });
    const runnerBox = await eventually(async () => {
      const box = await runnerInbox();
      return box.items.length >= runnerExpected.length ? box : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // room for a wrong extra one
    expect(typesOf(await inbox(owner))).toEqual(ownerExpected);
    expect(typesOf(await runnerInbox())).toEqual(runnerExpected);
    expect(ownerBox.unread_count).toBe(ownerExpected.length);
    expect(ownerBox.items.every((item) => item.booking_id === id)).toBe(true);
    expect(ownerBox.items.find((item) => item.event_type === "payment.escrow_held")?.title).toEqual(
      `Booking ${booked.booking_number}: payment held`,
    );
    expect(runnerBox.items.find((item) => item.event_type === "runner.assigned")?.title).toMatch(
      /^New job: booking KLT-/,
    );

    // The same entries arrived live on each recipient's socket.
    await eventually(() => (ownerLive.length >= ownerExpected.length ? true : undefined));
    expect(ownerLive.map((item) => item.id).sort()).toEqual(
      ownerBox.items.map((item) => item.id).sort(),
    );
    expect(runnerLive.map((item) => item.event_type).sort()).toEqual(runnerExpected);

    // Reading: one, then all; nobody reads someone else's.
    const first = ownerBox.items[0];
    const notMine = await system.api("POST", `/api/notifications/${first.id}/read`, {
      token: runner,
    });
    expect(notMine.status).toBe(404);
    const read = await system.api<NotificationEntity>(
      "POST",
      `/api/notifications/${first.id}/read`,
      { token: owner },
    );
    expect([read.status, read.body.read]).toEqual([200, true]);
    expect((await inbox(owner)).unread_count).toBe(ownerExpected.length - 1);
    expect((await inbox(owner, "&unread=true")).items.map((item) => item.id)).not.toContain(
      first.id,
    );
    const all = await system.api<{ marked: number }>("POST", "/api/notifications/read-all", {
      token: owner,
    });
    expect(all.body.marked).toBe(ownerExpected.length - 1);
    expect((await inbox(owner)).unread_count).toBe(0);
    expect((await inbox(runner)).unread_count).toBe(runnerExpected.length);
  });
});

/**
 * The inbox is listed from one record per recipient (domain/inbox.ts) that keeps the newest
 * entries (INBOX_RECENT); older pages come from the history. Both must agree, through replays and reads.
 */
describeWithInfra(["mongo"], "notifications inbox record, embedded", (infra) => {
  let system: System;
  let bus: EventBus;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      busFor: (_services, config) => {
        bus = createRuntime(config).bus;
        return bus;
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await bus?.close();
  });

  const box = async (token: string, query: string) =>
    (await system.api<Inbox>("GET", `/api/notifications?${query}`, { token })).body;
  /** Every entry, page by page, and the unread count the first page gave. */
  const everyPage = async (token: string, query: string) => {
    const first = await box(token, query);
    const items = [...first.items];
    for (let cursor = first.next_cursor; cursor;) {
      const page = await box(token, `${query}&cursor=${cursor}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    }
    return { ids: items.map((item) => item.id), unread: first.unread_count };
  };

  it("pages past the kept entries into the history, counts a replay once, and reads across both", async () => {
    const runner = system.token("runner", "inbox-runner");
    // An offer's notification: only the runner's inbox takes it, no service acts on it.
    const offered = (n: number) =>
      createEvent(
        "runner.assigned",
        {
          booking_id: `inbox-booking-${n}`,
          booking_number: `KLT-20261207-INB${String(n).padStart(3, "0")}`,
          runner_id: "inbox-runner",
          occurred_at: new Date().toISOString(),
        },
        { service: "runner", time: new Date(Date.UTC(2026, 11, 7, 9, 0, n)).toISOString() },
      );
    // 130 entries for the runner: more than the record keeps.
    const events = Array.from({ length: 130 }, (_, n) => offered(n));
    await bus.publish("runner.events", events);
    await eventually(async () =>
      (await box(runner, "limit=1")).unread_count === 130 ? true : undefined,
    );

    // Newest first, page by page, every entry once, across the record and the history.
    const listed = await everyPage(runner, "limit=10");
    expect(listed.ids).toHaveLength(130);
    expect(new Set(listed.ids).size).toBe(130);
    expect(listed.ids[0]).toBe(`${events[129]?.id}:runner:inbox-runner`);
    expect(listed.ids[129]).toBe(`${events[0]?.id}:runner:inbox-runner`);

    // A replay of the newest and the oldest event stores and counts nothing.
    await bus.publish(
      "runner.events",
      [events[129], events[0]].filter((e) => e !== undefined),
    );
    const marker = offered(200);
    await bus.publish("runner.events", [marker]);
    await eventually(async () =>
      (await box(runner, "limit=1")).unread_count === 131 ? true : undefined,
    );
    expect((await everyPage(runner, "limit=100")).ids).toHaveLength(131);

    // Reading the oldest (only in the history) and the newest (kept) each count once.
    const oldest = listed.ids[129];
    for (const id of [oldest, oldest, `${marker.id}:runner:inbox-runner`]) {
      const read = await system.api("POST", `/api/notifications/${id}/read`, { token: runner });
      expect(read.status).toBe(200);
    }
    const unread = await everyPage(runner, "limit=50&unread=true");
    expect(unread.unread).toBe(129);
    expect(unread.ids).toHaveLength(129);
    expect(unread.ids).not.toContain(oldest);

    const all = await system.api<{ marked: number }>("POST", "/api/notifications/read-all", {
      token: runner,
    });
    expect(all.body.marked).toBe(129);
    expect(await everyPage(runner, "limit=100&unread=true")).toEqual({ ids: [], unread: 0 });
  });
});

/** Inboxes from before inbox records existed: listed as the history has them, then kept up. */
describeWithInfra(["mongo"], "notifications inbox records built from the history", (infra) => {
  it("lists a recipient's older entries and counts, then adds new ones to them", async () => {
    const prefix = uniqueName("legacy");
    const client = await MongoClient.connect(infra.mongo);
    const history = Array.from({ length: 5 }, (_, n) => ({
      _id: `old-event-${n}:owner:legacy-owner`,
      recipient_id: "legacy-owner",
      recipient_role: "owner",
      event_id: `old-event-${n}`,
      event_type: "booking.requested",
      booking_id: `old-booking-${n}`,
      booking_number: null,
      title: `Old ${n}`,
      body: "From before inbox records",
      read_at: n < 2 ? new Date(Date.UTC(2026, 10, 2)) : null,
      created_at: new Date(Date.UTC(2026, 10, 1, 12, n)),
    }));
    await client
      .db(`${prefix}-notification`)
      .collection<{ _id: string }>("notifications")
      .insertMany(history);
    await client.close();
    let bus: EventBus | undefined;
    const system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { MONGO_DB_PREFIX: prefix },
      busFor: (_services, config) => (bus = createRuntime(config).bus),
    });
    try {
      const owner = system.token("owner", "legacy-owner");
      const list = async () =>
        (await system.api<Inbox>("GET", "/api/notifications?limit=10", { token: owner })).body;
      const before = await list();
      expect(before.items.map((item) => item.title)).toEqual([
        "Old 4",
        "Old 3",
        "Old 2",
        "Old 1",
        "Old 0",
      ]);
      expect(before.unread_count).toBe(3);

      const event = createEvent(
        "booking.expired",
        {
          booking_id: "new-booking",
          booking_number: "KLT-20261207-NEW001",
          owner_id: "legacy-owner",
          pet_name: "Nori",
          payment_due_at: new Date().toISOString(),
          occurred_at: new Date().toISOString(),
        },
        { service: "booking" },
      );
      await bus?.publish("booking.events", [event]);
      const after = await eventually(async () => {
        const box = await list();
        return box.items.length === 6 ? box : undefined;
      });
      expect(after.items[0]?.event_type).toBe("booking.expired");
      expect(after.unread_count).toBe(4);
    } finally {
      await system.stop();
      await bus?.close();
    }
  });
});
