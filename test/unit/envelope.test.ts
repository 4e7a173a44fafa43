import { CloudEvent, Kafka } from "cloudevents";
import { EnvelopeError, createEvent, fromWire, nameUuid, toWire } from "../../events/envelope";

const requested = () =>
  createEvent(
    "payment.failed",
    {
      payment_id: "pay-1",
      booking_id: "booking-1",
      booking_number: "KLT-20261126-ABC123",
      owner_id: "owner-1",
      reason: "card_declined",
      occurred_at: "2026-11-26T10:00:00.000Z",
    },
    { service: "payment", time: "2026-11-26T10:00:01.000Z" },
  );

describe("CloudEvents envelope", () => {
  it("given a catalog event, when serialised and read back, then it is unchanged", () => {
    const event = requested();
    const wire = toWire(event);
    expect(wire.key).toEqual("booking-1");
    expect(wire.headers).toEqual({
      "content-type": "application/cloudevents+json; charset=utf-8",
      ce_type: "payment.failed",
    });
    expect(fromWire(wire)).toEqual(event);
  });

  it("writes what the CloudEvents SDK reads, and reads what it writes", () => {
    const event = requested();
    const wire = toWire(event);
    const read = Kafka.toEvent({ ...wire, body: wire.value }) as CloudEvent<unknown>;
    expect(read.toJSON()).toEqual({
      specversion: "1.0",
      id: event.id,
      source: "/kilat/payment",
      type: "payment.failed",
      subject: "booking-1",
      time: event.time,
      datacontenttype: "application/json",
      partitionkey: "booking-1",
      data: event.data,
    });
    const written = Kafka.structured(new CloudEvent({ ...read.toJSON() }));
    expect(
      fromWire({
        key: "booking-1",
        value: String(written.value),
        headers: written.headers as Record<string, string>,
      }),
    ).toEqual(event);
  });

  it("sets source, subject and partition key from the producer and the payload", () => {
    const event = requested();
    expect(event).toEqual(
      expect.objectContaining({
        source: "/kilat/payment",
        subject: "booking-1",
        partitionkey: "booking-1",
        type: "payment.failed",
      }),
    );
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keys runner events by runner", () => {
    const event = createEvent(
      "runner.offline",
      { runner_id: "runner-7", occurred_at: "2026-11-26T10:00:00.000Z" },
      { service: "runner" },
    );
    expect([event.partitionkey, event.subject]).toEqual(["runner-7", "runner-7"]);
  });

  it("refuses to build an event whose payload breaks the catalog", () => {
    expect(() =>
      createEvent(
        "payment.failed",
        // owner_id is missing: the seed's gap must not come back
        {
          payment_id: "p",
          booking_id: "b",
          reason: "x",
          occurred_at: "2026-11-26T10:00:00.000Z",
        } as never,
        { service: "payment" },
      ),
    ).toThrow("owner_id");
  });

  it.each([
    ["not JSON", (v: string) => v.slice(0, 20)],
    ["an unknown type", (v: string) => v.replace('"payment.failed"', '"payment.teleported"')],
    ["a payload that breaks its schema", (v: string) => v.replace('"owner-1"', "42")],
    ["a non-UUID id", (v: string) => v.replace(/"id":"[^"]+"/, '"id":"7"')],
    ["a foreign source", (v: string) => v.replace("/kilat/payment", "https://evil.example")],
    [
      "a key that is not its partition key",
      (v: string) => v.replace('"partitionkey":"booking-1"', '"partitionkey":"booking-2"'),
    ],
    ["a missing spec version", (v: string) => v.replace('"specversion":"1.0",', "")],
  ])("rejects %s as a poison message", (_label, corrupt) => {
    const wire = toWire(requested());
    expect(() => fromWire({ ...wire, value: corrupt(wire.value) })).toThrow(EnvelopeError);
  });

  it("rejects a record that is not in structured mode", () => {
    const wire = toWire(requested());
    expect(() => fromWire({ ...wire, headers: { "content-type": "application/json" } })).toThrow(
      EnvelopeError,
    );
  });

  it("derives the same valid UUID from the same name, and another from another", () => {
    expect(nameUuid("trk-1:1000")).toEqual(nameUuid("trk-1:1000"));
    expect(nameUuid("trk-1:1000")).not.toEqual(nameUuid("trk-1:1001"));
    expect(nameUuid("trk-1:1000")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
