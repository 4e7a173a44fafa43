import { KafkaEventBus } from "../../adapters/event-bus/kafka";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";
import { eventually } from "../support/wait";
import { welfareApi, welfareEnv, welfareEventsIn } from "../support/welfare";

/**
 * The welfare watch distributed: Kafka between the services, FerretDB under them, and two
 * tracking instances that both sweep for silent trips — yet one trip raises one alert (each
 * sweep's write is guarded on the watch as it read it).
 */
describeWithInfra(["kafka", "mongo", "redis"], "welfare alerts, distributed", (infra) => {
  let system: System;
  let api: ReturnType<typeof welfareApi>;
  let reader: KafkaEventBus;

  beforeAll(async () => {
    system = await startSystem({
      infra: { kafka: infra.kafka, mongo: infra.mongo, redis: infra.redis },
      processes: [
        ["api"],
        ["booking", "payment", "notification"],
        ["runner"],
        ["tracking"],
        ["tracking"],
      ],
      env: welfareEnv({ stopMs: 20_000, silentMs: 3000, radiusM: 10 }),
    });
    api = welfareApi(system);
    reader = new KafkaEventBus({
      brokers: infra.kafka.split(","),
      clientId: "welfare-reader",
      topicPrefix: system.config.kafkaTopicPrefix,
    });
  }, 60000);
  afterAll(async () => {
    await reader?.close();
    await system?.stop();
  });

  it("raises one silent alert over Kafka with two tracking instances, tells the owner, and clears it on the next fix", async () => {
    const pickup = { lat: -7.8, lng: 110.36 };
    const trip = await api.petAboard("dist-quiet", pickup);

    const open = await eventually(
      async () => (await api.alerts()).open.find((alert) => alert.booking_id === trip.id),
      { what: "the silent alert", timeoutMs: 30_000 },
    );
    expect([open.reason, open.booking_number]).toEqual(["silent", trip.number]);
    await eventually(
      async () =>
        (await api.notesOf(trip.owner, trip.id)).includes("tracking.stopped") ? true : undefined,
      { what: "the owner's welfare notification", timeoutMs: 30_000 },
    );

    await api.sendFix(trip.runner, trip.id, pickup);
    await eventually(
      async () => ((await api.welfareOf(trip.id, trip.owner)) === null ? true : undefined),
      { what: "the alert cleared", timeoutMs: 30_000 },
    );
    const { cleared } = await api.alerts();
    expect(
      cleared.filter((alert) => alert.booking_id === trip.id).map((alert) => alert.cleared_by),
    ).toEqual(["heard"]);
    // A silence follows the fix; reading the topic now sees the first alert and its end first.
    const events = welfareEventsIn(await reader.readTopic("tracking.events"), trip.id);
    expect(events.slice(0, 2)).toEqual([
      { type: "tracking.stopped", reason: "silent" },
      { type: "tracking.resumed", reason: "silent" },
    ]);
  });
});
