import { createEvent, type DomainEvent, type WireMessage } from "../../events/envelope";
import { DLQ_HEADERS } from "../../adapters/event-bus/delivery";
import type { DeliveryMeta, EventBus, Subscription } from "../../adapters/event-bus";
import { eventually } from "../support/wait";

const TOPIC = "booking.events";
const DLQ = "booking.events.dlq";
const FAST_RETRY = { attempts: 3, initialDelayMs: 20, maxDelayMs: 100, factor: 2 };

/** A `booking.accepted` for booking `key`; `n` lands in booking_number so tests can order them. */
export function accepted(key: string, n: number): DomainEvent<"booking.accepted"> {
  return createEvent(
    "booking.accepted",
    {
      booking_id: key,
      booking_number: `KLT-${n}`,
      runner_id: "runner-1",
      owner_id: "owner-1",
      pet_name: "Rex",
      occurred_at: new Date().toISOString(),
    },
    { service: "booking" },
  );
}

/** The handler of a consumer whose records must all go through its batch handler. */
const batchPathOnly = async () => {
  throw new Error("the batch path should have handled these");
};

const numberOf = (event: DomainEvent) =>
  Number((event.data as { booking_number: string }).booking_number.slice(4));

/**
 * The event-bus contract. Both adapters run exactly this suite, so the embedded bus and Kafka
 * cannot drift apart. `freshBus` returns a bus whose topics no other test touches.
 */
export function eventBusContract(freshBus: () => Promise<EventBus>): void {
  let bus: EventBus;
  const subscriptions: Subscription[] = [];
  const subscribe = async (...args: Parameters<EventBus["subscribe"]>) => {
    const subscription = await bus.subscribe(...args);
    subscriptions.push(subscription);
    return subscription;
  };

  beforeEach(async () => {
    bus = await freshBus();
  });

  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
    await bus.close();
  });

  /** A member whose batches all answer with `durable`; what it was handed, in order. */
  const writeBehindMember = async (groupId: string, durable: Promise<void>) => {
    const handed: number[] = [];
    const member = await bus.subscribe({
      groupId,
      topics: [TOPIC],
      handler: batchPathOnly,
      batchHandler: async (batch) => {
        handed.push(...batch.map(({ event }) => numberOf(event)));
        return { durable };
      },
    });
    return { member, handed };
  };

  /** A plain successor in `groupId`: what it reads, in order. */
  const successorOf = async (groupId: string) => {
    const read: number[] = [];
    await subscribe({
      groupId,
      topics: [TOPIC],
      handler: async (event) => void read.push(numberOf(event)),
    });
    return read;
  };

  it("puts a CloudEvents 1.0 structured JSON record on the wire, keyed by the partition key", async () => {
    const event = accepted("booking-wire", 1);
    await bus.publish(TOPIC, [event]);

    const [record] = await bus.readTopic(TOPIC);
    expect(record.key).toEqual("booking-wire");
    expect(record.headers["content-type"]).toEqual("application/cloudevents+json; charset=utf-8");
    expect(JSON.parse(record.value)).toEqual({
      specversion: "1.0",
      id: event.id,
      source: "/kilat/booking",
      type: "booking.accepted",
      subject: "booking-wire",
      time: event.time,
      datacontenttype: "application/json",
      partitionkey: "booking-wire",
      data: event.data,
    });
  });

  it("delivers one key's events in the order they were published", async () => {
    const seen = new Map<string, number[]>();
    await subscribe({
      groupId: "order",
      topics: [TOPIC],
      handler: async (event) => {
        const list = seen.get(event.partitionkey) ?? [];
        list.push(numberOf(event));
        seen.set(event.partitionkey, list);
      },
    });
    const keys = ["a", "b", "c", "d"];
    const events = Array.from({ length: 40 }, (_, i) => accepted(keys[i % keys.length], i));
    for (let i = 0; i < events.length; i += 8) await bus.publish(TOPIC, events.slice(i, i + 8));

    await eventually(() => ([...seen.values()].flat().length === 40 ? true : undefined), {
      what: "40 events",
    });
    for (const key of keys) {
      const expected = events.filter((e) => e.partitionkey === key).map(numberOf);
      expect(seen.get(key)).toEqual(expected);
    }
  });

  it("shares partitions within a group and gives every group every event", async () => {
    const memberA: string[] = [];
    const memberB: string[] = [];
    const otherGroup: string[] = [];
    await subscribe({
      groupId: "shared",
      topics: [TOPIC],
      handler: async (e) => void memberA.push(e.id),
    });
    await subscribe({
      groupId: "shared",
      topics: [TOPIC],
      handler: async (e) => void memberB.push(e.id),
    });
    await subscribe({
      groupId: "other",
      topics: [TOPIC],
      handler: async (e) => void otherGroup.push(e.id),
    });

    const events = Array.from({ length: 30 }, (_, i) => accepted(`key-${i}`, i));
    await bus.publish(TOPIC, events);

    const ids = events.map((e) => e.id).sort();
    await eventually(
      () => (memberA.length + memberB.length >= 30 && otherGroup.length >= 30 ? true : undefined),
      {
        what: "both groups to finish",
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a wrong extra delivery
    expect([...memberA, ...memberB].sort()).toEqual(ids);
    expect([...otherGroup].sort()).toEqual(ids);
    expect(memberA.length).toBeGreaterThan(0);
    expect(memberB.length).toBeGreaterThan(0);
  });

  it("retries a failing handler with backoff and succeeds without a dead letter", async () => {
    const attempts: number[] = [];
    const stamps: number[] = [];
    await subscribe({
      groupId: "flaky",
      topics: [TOPIC],
      retry: FAST_RETRY,
      handler: async (_event, meta: DeliveryMeta) => {
        attempts.push(meta.attempt);
        stamps.push(Date.now());
        if (meta.attempt < 3) throw new Error("database hiccup");
      },
    });
    await bus.publish(TOPIC, [accepted("flaky", 1)]);

    await eventually(() => (attempts.length === 3 ? true : undefined), { what: "three attempts" });
    expect(attempts).toEqual([1, 2, 3]);
    expect(stamps[1] - stamps[0]).toBeGreaterThanOrEqual(15); // 20 ms, then 40 ms
    expect(stamps[2] - stamps[1]).toBeGreaterThanOrEqual(35);
    expect(await bus.readTopic(DLQ)).toEqual([]);
  });

  it("keeps retrying past its attempts while the failure is transient (a dependency down), then handles it", async () => {
    const attempts: number[] = [];
    // What Moleculer throws while the transporter is down or no node serves the action yet.
    const unavailable = Object.assign(
      new Error("Service 'runner.payoutAccount' is not available."),
      {
        retryable: true,
      },
    );
    await subscribe({
      groupId: "waits",
      topics: [TOPIC],
      retry: { ...FAST_RETRY, transientForMs: 10_000 },
      handler: async (_event, meta: DeliveryMeta) => {
        attempts.push(meta.attempt);
        if (meta.attempt <= 5) throw unavailable;
      },
    });
    await bus.publish(TOPIC, [accepted("waits", 1)]);

    await eventually(() => (attempts.length === 6 ? true : undefined), { what: "six attempts" });
    expect(attempts).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await bus.readTopic(DLQ)).toEqual([]);
  });

  it("dead-letters a transient failure that outlasts transientForMs", async () => {
    const unavailable = Object.assign(new Error("no node"), { retryable: true });
    await subscribe({
      groupId: "gives-up",
      topics: [TOPIC],
      retry: { ...FAST_RETRY, transientForMs: 150 },
      handler: async () => {
        throw unavailable;
      },
    });
    await bus.publish(TOPIC, [accepted("gives-up", 1)]);

    const letters = await eventually(async () => {
      const records = await bus.readTopic(DLQ);
      return records.length === 1 ? records : undefined;
    });
    expect(Number(letters[0].headers[DLQ_HEADERS.attempts])).toBeGreaterThan(FAST_RETRY.attempts);
  });

  it("dead-letters after bounded retries, with the reason and origin, and the partition keeps flowing", async () => {
    const handled: number[] = [];
    const poisoned = accepted("same-key", 1);
    await subscribe({
      groupId: "strict",
      topics: [TOPIC],
      retry: FAST_RETRY,
      handler: async (event) => {
        if (event.id === poisoned.id) throw new Error("cannot handle this one");
        handled.push(numberOf(event));
      },
    });
    await bus.publish(TOPIC, [poisoned, accepted("same-key", 2), accepted("same-key", 3)]);

    await eventually(() => (handled.length === 2 ? true : undefined), {
      what: "the events after the poison",
    });
    expect(handled).toEqual([2, 3]);
    const letters = await eventually(async () => {
      const records = await bus.readTopic(DLQ);
      return records.length === 1 ? records : undefined;
    });
    const [letter] = letters;
    expect(letter.key).toEqual("same-key");
    expect((JSON.parse(letter.value) as { id: string }).id).toEqual(poisoned.id);
    expect(letter.headers).toEqual(
      expect.objectContaining({
        [DLQ_HEADERS.topic]: TOPIC,
        [DLQ_HEADERS.group]: "strict",
        [DLQ_HEADERS.error]: "Error: cannot handle this one",
        [DLQ_HEADERS.attempts]: "3",
      }),
    );
    const original = (await bus.readTopic(TOPIC)).find((record) =>
      record.value.includes(poisoned.id),
    );
    expect([letter.headers[DLQ_HEADERS.partition], letter.headers[DLQ_HEADERS.offset]]).toEqual([
      String(original?.partition),
      original?.offset,
    ]);
  });

  it("dead-letters a record that is not a catalog CloudEvent without calling the handler", async () => {
    const handled: string[] = [];
    await subscribe({
      groupId: "poison",
      topics: [TOPIC],
      handler: async (e) => void handled.push(e.id),
    });
    const garbage: WireMessage = {
      key: "k",
      value: "{not json",
      headers: { "content-type": "application/json" },
    };
    const next = accepted("k", 2);
    await bus.publishWire(TOPIC, [garbage]);
    await bus.publish(TOPIC, [next]);

    await eventually(() => (handled.length === 1 ? true : undefined), { what: "the valid event" });
    expect(handled).toEqual([next.id]);
    const letters = await eventually(async () => {
      const records = await bus.readTopic(DLQ);
      return records.length === 1 ? records : undefined;
    });
    expect(letters[0].value).toEqual("{not json");
    expect(letters[0].headers[DLQ_HEADERS.attempts]).toEqual("0");
    expect(letters[0].headers[DLQ_HEADERS.error]).toMatch(/^EnvelopeError: /);
  });

  it("on graceful stop finishes the event in hand, commits, and a successor resumes after it", async () => {
    const first: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const member = await bus.subscribe({
      groupId: "handover",
      topics: [TOPIC],
      handler: async (event) => {
        if (numberOf(event) === 3) await gate;
        first.push(numberOf(event));
      },
    });
    await bus.publish(
      TOPIC,
      [1, 2, 3].map((n) => accepted("handover", n)),
    );
    await eventually(() => (first.length === 2 ? true : undefined), { what: "two events" });

    const stopping = member.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await stopping;
    expect(first).toEqual([1, 2, 3]);

    await bus.publish(
      TOPIC,
      [4, 5].map((n) => accepted("handover", n)),
    );
    const second: number[] = [];
    await subscribe({
      groupId: "handover",
      topics: [TOPIC],
      handler: async (e) => void second.push(numberOf(e)),
    });
    await eventually(() => (second.length === 2 ? true : undefined), { what: "the successor" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(second).toEqual([4, 5]);
  });

  it("publishes one call larger than a produce request whole and in order", async () => {
    const events = Array.from({ length: 1_100 }, (_, i) => accepted("large", i));
    await bus.publish(TOPIC, events);
    const seen: number[] = [];
    await subscribe({
      groupId: "large",
      topics: [TOPIC],
      handler: async (event) => void seen.push(numberOf(event)),
    });
    await eventually(() => (seen.length === events.length ? true : undefined), {
      what: "all 1,100 events",
    });
    expect(seen).toEqual(events.map(numberOf));
  });

  it("hands a partition's records to a batch handler in order, several per call", async () => {
    const batches: number[][] = [];
    const events = Array.from({ length: 30 }, (_, i) => accepted("batched", i));
    await bus.publish(TOPIC, events);
    await subscribe({
      groupId: "batched",
      topics: [TOPIC],
      maxBatch: 8,
      handler: batchPathOnly,
      batchHandler: async (batch) => {
        expect(batch.every(({ meta }) => meta.groupId === "batched" && meta.attempt === 1)).toBe(
          true,
        );
        batches.push(batch.map(({ event }) => numberOf(event)));
      },
    });

    await eventually(() => (batches.flat().length === 30 ? true : undefined), {
      what: "30 batched events",
    });
    expect(batches.flat()).toEqual(events.map(numberOf));
    expect(Math.max(...batches.map((batch) => batch.length))).toBeGreaterThan(1);
    expect(Math.max(...batches.map((batch) => batch.length))).toBeLessThanOrEqual(8);
  });

  it("hands over the next records while a batch's write-behind is still being stored", async () => {
    let release!: () => void;
    const stored = new Promise<void>((resolve) => (release = resolve));
    const { member, handed } = await writeBehindMember("overlap", stored);
    await bus.publish(TOPIC, [accepted("overlap", 1)]);
    await eventually(() => (handed.length === 1 ? true : undefined), { what: "the first event" });
    await bus.publish(TOPIC, [accepted("overlap", 2)]);
    await eventually(() => (handed.length === 2 ? true : undefined), {
      what: "the second event, before the first is stored",
    });
    release();
    await member.stop();
    expect(handed).toEqual([1, 2]);
  });

  it("stores both when a later batch's write fails while an earlier one is still pending", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let releaseFirst!: () => void;
      const firstStored = new Promise<void>((resolve) => (releaseFirst = resolve));
      const handed: number[] = [];
      const stored = new Set<number>();
      await subscribe({
        groupId: "later-fails",
        topics: [TOPIC],
        retry: FAST_RETRY,
        handler: batchPathOnly,
        batchHandler: async (batch) => {
          const numbers = batch.map(({ event }) => numberOf(event));
          const firstTime = numbers.some((n) => !handed.includes(n));
          handed.push(...numbers);
          const write = !firstTime
            ? Promise.resolve()
            : numbers.includes(1)
              ? firstStored
              : Promise.reject(new Error("database away"));
          return { durable: write.then(() => numbers.forEach((n) => stored.add(n))) };
        },
      });
      await bus.publish(TOPIC, [accepted("later-fails", 1)]);
      await eventually(() => (handed.includes(1) ? true : undefined), { what: "the first" });
      await bus.publish(TOPIC, [accepted("later-fails", 2)]);
      await eventually(() => (handed.includes(2) ? true : undefined), { what: "the second" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      releaseFirst();
      await eventually(() => (stored.has(1) && stored.has(2) ? true : undefined), {
        what: "both stored, the second on another delivery",
      });
      expect(handed.filter((n) => n === 2).length).toBeGreaterThanOrEqual(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("on a stop while a batch is in hand, waits for it and its write, and commits it", async () => {
    let entered!: () => void;
    const inHand = new Promise<void>((resolve) => (entered = resolve));
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    const member = await bus.subscribe({
      groupId: "stop-in-hand",
      topics: [TOPIC],
      handler: batchPathOnly,
      batchHandler: async () => {
        entered();
        await gate;
        return { durable: new Promise<void>((resolve) => setTimeout(resolve, 200)) };
      },
    });
    await bus.publish(
      TOPIC,
      [1, 2].map((n) => accepted("stop-in-hand", n)),
    );
    await inHand;
    const stopping = member.stop();
    letGo();
    await stopping;

    await bus.publish(TOPIC, [accepted("stop-in-hand", 3)]);
    const second = await successorOf("stop-in-hand");
    await eventually(() => (second.length > 0 ? true : undefined), { what: "the successor" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(second).toEqual([3]);
  });

  it("on stop waits for a batch's write-behind to be stored, commits it, and a successor resumes after it", async () => {
    let release!: () => void;
    const stored = new Promise<void>((resolve) => (release = resolve));
    const { member, handed: first } = await writeBehindMember("behind", stored);
    await bus.publish(
      TOPIC,
      [1, 2, 3].map((n) => accepted("behind", n)),
    );
    await eventually(() => (first.length === 3 ? true : undefined), { what: "three events" });

    const stopping = member.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await stopping;

    await bus.publish(
      TOPIC,
      [4, 5].map((n) => accepted("behind", n)),
    );
    const second = await successorOf("behind");
    await eventually(() => (second.length === 2 ? true : undefined), { what: "the successor" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(first).toEqual([1, 2, 3]);
    expect(second).toEqual([4, 5]);
  });

  it("on stop, leaves uncommitted a batch whose write-behind failed: a successor reads it again", async () => {
    let fail!: (error: Error) => void;
    const stored = new Promise<void>((_resolve, reject) => (fail = reject));
    const { member, handed: first } = await writeBehindMember("given-up", stored);
    await bus.publish(
      TOPIC,
      [1, 2].map((n) => accepted("given-up", n)),
    );
    await eventually(() => (first.length === 2 ? true : undefined), { what: "two events" });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // past any periodic commit

    const stopping = member.stop();
    fail(new Error("database away"));
    await stopping;

    await bus.publish(TOPIC, [accepted("given-up", 3)]);
    const second = await successorOf("given-up");
    await eventually(() => (second.length === 3 ? true : undefined), { what: "all three again" });
    expect(second).toEqual([1, 2, 3]);
  });

  it("delivers again, from the last commit, the records whose write-behind failed", async () => {
    const tries = new Map<number, number>();
    const stored: number[] = [];
    await bus.publish(
      TOPIC,
      [1, 2].map((n) => accepted("unstored", n)),
    );
    await subscribe({
      groupId: "unstored",
      topics: [TOPIC],
      retry: FAST_RETRY,
      handler: batchPathOnly,
      batchHandler: async (batch) => {
        const numbers = batch.map(({ event }) => numberOf(event));
        for (const n of numbers) tries.set(n, (tries.get(n) ?? 0) + 1);
        const firstTry = numbers.some((n) => tries.get(n) === 1);
        return {
          durable: firstTry
            ? Promise.reject(new Error("database away"))
            : Promise.resolve().then(() => void stored.push(...numbers)),
        };
      },
    });

    await eventually(() => (stored.length === 2 ? true : undefined), {
      what: "both stored on a second delivery",
    });
    expect(stored).toEqual([1, 2]);
    expect(tries.get(1)).toBeGreaterThanOrEqual(2);
  });

  it("when a batch fails, delivers its records one by one, dead-lettering only the bad one", async () => {
    const single: number[] = [];
    const poisoned = accepted("fallback", 2);
    await bus.publish(TOPIC, [accepted("fallback", 1), poisoned, accepted("fallback", 3)]);
    await subscribe({
      groupId: "fallback",
      topics: [TOPIC],
      retry: FAST_RETRY,
      batchHandler: async () => {
        throw new Error("bulk write failed");
      },
      handler: async (event) => {
        if (event.id === poisoned.id) throw new Error("cannot handle this one");
        single.push(numberOf(event));
      },
    });

    await eventually(() => (single.length === 2 ? true : undefined), { what: "the good events" });
    expect(single).toEqual([1, 3]);
    const letters = await eventually(async () => {
      const records = await bus.readTopic(DLQ);
      return records.length === 1 ? records : undefined;
    });
    expect((JSON.parse(letters[0].value) as { id: string }).id).toEqual(poisoned.id);
  });

  it("skips, without a handler call, the types a consumer does not handle, and flows on", async () => {
    const handled: string[] = [];
    const cancelled = createEvent(
      "booking.cancelled",
      {
        booking_id: "typed",
        booking_number: "KLT-0",
        owner_id: "owner-1",
        cancelled_by: "owner-1",
        reason: "changed plans",
        occurred_at: new Date().toISOString(),
      },
      { service: "booking" },
    );
    await bus.publish(TOPIC, [accepted("typed", 1), cancelled, accepted("typed", 2)]);
    await subscribe({
      groupId: "typed",
      topics: [TOPIC],
      types: ["booking.accepted"],
      handler: async (event) => void handled.push(event.type),
    });

    await eventually(() => (handled.length === 2 ? true : undefined), { what: "two accepted" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual(["booking.accepted", "booking.accepted"]);
  });
}
