import { ServiceBroker } from "moleculer";
import { createEvent, toWire } from "../../events/envelope";
import { MemoryEventBus, partitionLag } from "../../adapters/event-bus";
import {
  PrometheusTextMetrics,
  PrometheusTextReporter,
  exposition,
  operatorMetric,
} from "../../lib/metrics";
import { loadConfig } from "../../lib/config";
import { metricsAccess, publicExposition } from "../../lib/metrics-exposure";
import { metricFamilies, misnamedMetrics } from "../support/metric-names";
import { signToken } from "../../lib/auth";

describe("consumer lag of one partition", () => {
  it("given a committed offset, counts the records after it", () => {
    expect(partitionLag("7", "0", "10")).toEqual(3);
  });

  it("given a group that has read everything, is 0", () => {
    expect(partitionLag("10", "0", "10")).toEqual(0);
  });

  it("given no commit yet (-1 or none), counts from the partition's first record", () => {
    expect([partitionLag("-1", "4", "10"), partitionLag(undefined, "4", "10")]).toEqual([6, 6]);
  });

  it("given a commit older than what retention kept, counts from the first record kept", () => {
    expect(partitionLag("2", "5", "9")).toEqual(4);
  });

  it("given offsets past 2^53, still subtracts exactly", () => {
    expect(partitionLag("9007199254740993", "0", "9007199254740995")).toEqual(2);
  });

  it("given an empty partition, is 0", () => {
    expect(partitionLag(undefined, "0", "0")).toEqual(0);
  });
});

describe("the in-process bus's lag and dead-letter depth", () => {
  const event = (id: string) =>
    toWire(
      createEvent(
        "runner.offline",
        { runner_id: id, occurred_at: new Date().toISOString() },
        { service: "runner" },
      ),
    );

  it("given records no one consumed, reports them as the group's lag, per partition", async () => {
    const bus = new MemoryEventBus(1);
    try {
      await bus.ensureTopics(["runner.events"], 1);
      await bus.publishWire("runner.events", [event("r1"), event("r2")]);
      await bus.publishWire("runner.events.dlq", [event("r3")]);

      const lag = await bus.consumerLag([{ groupId: "g", topic: "runner.events" }]);
      const depth = await bus.countRecords("runner.events.dlq");

      expect(lag).toEqual([{ groupId: "g", topic: "runner.events", partition: 0, lag: 2 }]);
      expect(depth).toEqual(1);
      expect(await bus.countRecords("no.such.topic")).toEqual(0);
    } finally {
      await bus.close();
    }
  });
});

describe("histograms on /metrics", () => {
  it("given observations, writes ordered buckets, +Inf, _sum and _count", async () => {
    const reporter = new PrometheusTextReporter({});
    const broker = new ServiceBroker({
      logger: false,
      metrics: { enabled: true, reporter: [reporter as never] },
    });
    const name = operatorMetric(broker.metrics, "eventDuration");
    broker.metrics.observe(name, 0.003, { group: "g", type: "t" });
    broker.metrics.observe(name, 2, { group: "g", type: "t" });

    const text = await exposition(broker);

    const lines = text
      .split("\n")
      .filter((line) => line.startsWith("kilat_event_handling_duration_seconds"))
      .map((line) => line.replace('namespace="",nodeID="' + broker.nodeID + '",', ""));
    expect(lines).toEqual([
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.001"} 0',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.005"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.01"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.025"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.05"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.1"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.25"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="0.5"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="1"} 1',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="2.5"} 2',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="5"} 2',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="10"} 2',
      'kilat_event_handling_duration_seconds_bucket{group="g",type="t",le="+Inf"} 2',
      'kilat_event_handling_duration_seconds_sum{group="g",type="t"} 2.003',
      'kilat_event_handling_duration_seconds_count{group="g",type="t"} 2',
    ]);
  });
});

describe("metric names on /metrics", () => {
  it("given a broker that served calls and events, shows only names with base units and counters with _total", async () => {
    const broker = new ServiceBroker({
      logger: false,
      middlewares: [PrometheusTextMetrics],
      metrics: { enabled: true },
    });
    broker.createService({ name: "s", actions: { a: () => 1 }, events: { "e.x"() {} } });
    await broker.start();
    try {
      await broker.call("s.a");
      await broker.emit("e.x", {});

      const text = await exposition(broker);

      expect(metricFamilies(text)).toEqual(
        expect.arrayContaining(["moleculer_request_total", "moleculer_event_received_total"]),
      );
      expect(misnamedMetrics(text)).toEqual([]);
    } finally {
      await broker.stop();
    }
  });

  it("given the transporter's byte counters and times in milliseconds, hides them", () => {
    const text = [
      "# TYPE moleculer_transporter_packets_sent_bytes counter",
      "moleculer_transporter_packets_sent_bytes 10",
      "# TYPE moleculer_transporter_packets_sent_total counter",
      "moleculer_transporter_packets_sent_total 1",
      "# TYPE moleculer_transit_pong_time gauge",
      "moleculer_transit_pong_time 3",
      "# TYPE moleculer_request_timeout_total counter",
      "moleculer_request_timeout_total 0",
    ].join("\n");

    expect(metricFamilies(publicExposition(text))).toEqual([
      "moleculer_transporter_packets_sent_total",
      "moleculer_request_timeout_total",
    ]);
  });
});

describe("who may read /metrics", () => {
  const config = loadConfig({ METRICS_TOKEN: "a-metrics-token-of-length" });
  const bearer = (token: string) => `Bearer ${token}`;

  it("given METRICS_TOKEN or an admin's token, allows", () => {
    expect([
      metricsAccess(bearer("a-metrics-token-of-length"), config),
      metricsAccess(bearer(signToken({ sub: "a", role: "admin" }, config.jwtSecret)), config),
    ]).toEqual(["allowed", "allowed"]);
  });

  it("given no token or a forged one, says unauthenticated; another role, forbidden", () => {
    expect([
      metricsAccess(undefined, config),
      metricsAccess(bearer("a-metrics-token-of-lengtH"), config),
      metricsAccess(bearer(signToken({ sub: "o", role: "owner" }, config.jwtSecret)), config),
    ]).toEqual(["unauthenticated", "unauthenticated", "forbidden"]);
  });
});
