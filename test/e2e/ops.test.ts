import { createEvent, toWire } from "../../events/envelope";
import { DLQ_HEADERS } from "../../adapters/event-bus/delivery";
import type { EventBus } from "../../adapters/event-bus";
import { REPL_COMMANDS } from "../../lib/repl-commands";
import type { BookingEntity, NotificationEntity } from "../../contracts";
import { FlakyPublishBus } from "../support/flaky-bus";
import { metricFamilies, misnamedMetrics } from "../support/metric-names";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";
import { createRuntime } from "../../lib/runtime";

/** Runs a REPL command as an operator would, and returns what it printed (JSON). */
async function repl(system: System, line: string, options: Record<string, unknown> = {}) {
  const [name, ...args] = line.split(" ");
  const command = REPL_COMMANDS.find((candidate) => candidate.command.split(" ")[0] === name);
  if (!command) throw new Error(`no REPL command ${name}`);
  const names = command.command
    .split(" ")
    .slice(1)
    .map((arg) => arg.replace(/[<>[\]]/g, ""));
  const params = Object.fromEntries(names.map((arg, i) => [arg, args[i]]));
  const printed: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((text: string) => {
    printed.push(text);
  });
  try {
    await command.action(system.brokers[0], { ...params, options });
  } finally {
    log.mockRestore();
  }
  return JSON.parse(printed.join("\n")) as unknown;
}

/** The actions behind the REPL's ops commands, through the commands themselves. */
describeWithInfra(["mongo"], "operations through the REPL commands, embedded", (infra) => {
  let system: System;
  let bus: FlakyPublishBus;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      busFor: (_services, config) => {
        bus = new FlakyPublishBus(createRuntime(config).bus);
        return bus;
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await bus?.close();
  });

  it("shows a booking whole by its number, and what its outbox still holds", async () => {
    const owner = system.token("owner", "ops-owner");
    bus.publishing = false; // Kafka unreachable: the requested event stays in the outbox
    const created = await system.api<BookingEntity>("POST", "/api/bookings", {
      token: owner,
      body: {
        pet_type: "dog",
        pet_name: "Ops",
        pickup: { lat: 0.1, lng: 0.1 },
        dropoff: { lat: 0.2, lng: 0.1 },
      },
    });
    expect(created.status).toBe(201);
    const outbox = (await repl(system, "outbox")) as { service: string; pending: unknown[] }[];
    const booking = outbox.find((entry) => entry.service === "booking");
    expect(booking?.pending).toEqual([
      expect.objectContaining({
        aggregate_id: created.body.booking_id,
        type: "booking.requested",
        age_s: expect.any(Number) as number,
      }),
    ]);

    bus.publishing = true;
    await eventually(async () => {
      const view = (await repl(system, `booking ${created.body.booking_number}`)) as {
        booking: BookingEntity;
        unsent_events: unknown[];
        notifications: NotificationEntity[];
      };
      return view.unsent_events.length === 0 && view.notifications.length === 1 ? view : undefined;
    });
    const view = (await repl(system, `booking ${created.body.booking_number}`)) as {
      booking: BookingEntity;
      payment: { error?: string };
      notifications: (NotificationEntity & { recipient_id: string })[];
    };
    expect(view.booking.booking_id).toBe(created.body.booking_id);
    expect(view.payment.error).toMatch(/not found/i); // not paid yet
    expect(view.notifications[0]).toEqual(
      expect.objectContaining({ recipient_id: "ops-owner", event_type: "booking.requested" }),
    );
  });

  it("lists, shows and replays dead letters to their original topic", async () => {
    const realBus: EventBus = bus;
    // A valid event that failed for good somewhere (a dependency was down), now dead-lettered.
    const event = createEvent(
      "booking.requested",
      {
        booking_id: "dlq-booking",
        booking_number: "KLT-20261126-DLQ001",
        owner_id: "dlq-owner",
        pet_type: "cat",
        pet_name: "Replay",
        pickup_lat: 0,
        pickup_lng: 0,
        dropoff_lat: 0.1,
        dropoff_lng: 0,
        estimated_price_cents: 100,
        currency: "IDR",
        occurred_at: new Date().toISOString(),
      },
      { service: "booking" },
    );
    const wire = toWire(event);
    await realBus.publishWire("booking.events.dlq", [
      {
        ...wire,
        headers: {
          ...wire.headers,
          [DLQ_HEADERS.topic]: "booking.events",
          [DLQ_HEADERS.partition]: "0",
          [DLQ_HEADERS.offset]: "42",
          [DLQ_HEADERS.group]: "service-notification-bookings",
          [DLQ_HEADERS.error]: "MongoNetworkError: connection refused",
          [DLQ_HEADERS.attempts]: "5",
        },
      },
    ]);

    const letters = (await repl(system, "dlq list booking.events")) as {
      partition: number;
      offset: string;
      event_id: string;
      group: string;
    }[];
    const letter = letters.find((candidate) => candidate.event_id === event.id);
    expect(letter).toEqual(
      expect.objectContaining({
        type: "booking.requested",
        group: "service-notification-bookings",
        error: "MongoNetworkError: connection refused",
        attempts: 5,
        origin: { topic: "booking.events", partition: "0", offset: "42" },
      }),
    );
    const shown = (await repl(
      system,
      `dlq show booking.events ${letter!.partition}:${letter!.offset}`,
    )) as {
      value: { id: string };
      headers: Record<string, string>;
    };
    expect(shown.value.id).toBe(event.id);
    expect(await repl(system, "dlq show booking.events 9999")).toEqual({
      error: "Dead letter not found",
    });

    const replayed = (await repl(
      system,
      `dlq replay booking.events ${letter!.partition}:${letter!.offset}`,
    )) as {
      replayed: number;
    };
    expect(replayed.replayed).toBe(1);
    // Taken anew by the consumers of booking.events: the owner is notified this time.
    const dlqOwner = system.token("owner", "dlq-owner");
    await eventually(async () => {
      const inbox = await system.api<{ items: NotificationEntity[] }>("GET", "/api/notifications", {
        token: dlqOwner,
      });
      return inbox.body.items.some((item) => item.booking_id === "dlq-booking") ? true : undefined;
    });
  });

  it("serves the dead letters to operators over REST, through the REPL's actions and role check", async () => {
    const admin = system.token("admin", "ops-admin");
    const owner = system.token("owner", "ops-owner");
    const listed = await system.api<unknown[]>(
      "GET",
      "/api/ops/dead-letters?topic=booking.events",
      {
        token: admin,
      },
    );
    expect([listed.status, listed.body]).toEqual([
      200,
      await repl(system, "dlq list booking.events"),
    ]);
    expect((await system.api("GET", "/api/ops/dead-letters", { token: owner })).status).toBe(403);
    const unknown = await system.api("GET", "/api/ops/dead-letters?topic=nope", { token: admin });
    expect(unknown.status).toBe(422);
    // The same action, called as the REPL calls it but by a non-operator: refused there too.
    await expect(
      system.brokers[0].call("api.dlqList", {}, { meta: { user: { sub: "o", role: "owner" } } }),
    ).rejects.toMatchObject({ code: 403, type: "FORBIDDEN" });
    const replayed = await system.api<{ replayed: number }>(
      "POST",
      "/api/ops/dead-letters/replay",
      {
        token: admin,
        body: { topic: "booking.events", all: true },
      },
    );
    expect([replayed.status, replayed.body.replayed]).toEqual([200, listed.body.length]);
  });

  it("shows the oldest unpublished outbox entry, dead letters and request times on /metrics", async () => {
    const admin = system.token("admin", "ops-metrics");
    const owner = system.token("owner", "ops-metrics-owner");
    /** One sample of /metrics, by family and some of its labels; 0 when absent. */
    const read = async (family: string, labels: Record<string, string>) => {
      const text = (await system.api<string>("GET", "/metrics", { token: admin })).body;
      const line = text
        .split("\n")
        .find(
          (candidate) =>
            candidate.startsWith(`${family}{`) &&
            Object.entries(labels).every(([name, value]) =>
              candidate.includes(`${name}="${value}"`),
            ),
        );
      return line === undefined ? 0 : Number(line.split(" ").pop());
    };
    const created = { route: "/api/bookings", method: "POST", status: "201" };
    const requestsBefore = await read("kilat_http_request_duration_seconds_count", created);
    const lettersBefore = await read("kilat_dead_letters", { topic: "runner.events" });

    bus.publishing = false; // Kafka unreachable: the booking's event waits in its outbox
    const booking = await system.api("POST", "/api/bookings", {
      token: owner,
      body: {
        pet_type: "dog",
        pet_name: "Stuck",
        pickup: { lat: 0.1, lng: 0.1 },
        dropoff: { lat: 0.2, lng: 0.1 },
      },
    });
    expect(booking.status).toBe(201);
    const stuck = await eventually(async () => {
      const age = await read("kilat_outbox_oldest_age_seconds", { service: "booking" });
      return age >= 1 ? age : undefined;
    });
    expect(stuck).toBeLessThan(60);
    bus.publishing = true;
    await eventually(async () =>
      (await read("kilat_outbox_oldest_age_seconds", { service: "booking" })) === 0
        ? true
        : undefined,
    );

    await bus.publishWire("runner.events.dlq", [
      toWire(
        createEvent(
          "runner.offline",
          { runner_id: "dlq-runner", occurred_at: new Date().toISOString() },
          { service: "runner" },
        ),
      ),
    ]);
    await eventually(async () =>
      (await read("kilat_dead_letters", { topic: "runner.events" })) === lettersBefore + 1
        ? true
        : undefined,
    );
    expect(await read("kilat_http_request_duration_seconds_count", created)).toEqual(
      requestsBefore + 1,
    );
  });

  it("names every metric on /metrics as Prometheus does: base units, `_total` on counters", async () => {
    const admin = system.token("admin", "ops-names");
    const text = (await system.api<string>("GET", "/metrics", { token: admin })).body;

    expect(metricFamilies(text)).toEqual(
      expect.arrayContaining([
        "kilat_db_commands_total",
        "kilat_db_command_seconds_total",
        "kilat_db_pool_wait_seconds_total",
        "kilat_http_request_duration_seconds",
        "moleculer_request_total",
      ]),
    );
    expect(misnamedMetrics(text)).toEqual([]);
  });

  it("shows who is online", async () => {
    const runner = system.token("runner", "ops-runner");
    await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: { lat: 3.1, lng: 101.7 },
    });
    const online = (await repl(system, "runners online")) as {
      items: { runner_id: string; availability: string }[];
    };
    expect(online.items).toContainEqual(
      expect.objectContaining({ runner_id: "ops-runner", availability: "online" }),
    );
  });
});
