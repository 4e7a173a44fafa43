import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { PrometheusTextReporter, exposition } from "../../lib/metrics";
import { ReadinessProbe } from "../../lib/readiness";
import { createRuntime } from "../../lib/runtime";
import { watchStripe } from "../../lib/stripe-watch";
import { describeWithInfra } from "../support/infra";

describeWithInfra(
  ["kafka", "mongo", "redis", "stripe"],
  "readiness probe against the real servers",
  (infra) => {
    const started: { broker: ServiceBroker; close(): Promise<void> }[] = [];
    /** A started broker hosting nothing, with the runtime a process of `env` would have. */
    const probeFor = async (env: Record<string, string>) => {
      const config = loadConfig({ LOG_LEVEL: "error", ...env });
      const broker = new ServiceBroker({
        logger: false,
        metrics: { enabled: true, reporter: [new PrometheusTextReporter({}) as never] },
      });
      await broker.start();
      const runtime = createRuntime(config);
      const probe = new ReadinessProbe(broker, runtime);
      started.push({
        broker,
        close: async () => {
          await probe.close();
          await runtime.bus.close();
          await broker.stop();
        },
      });
      return { probe, broker, config };
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((entry) => entry.close()));
    });
    const oks = (checks: Record<string, { ok: boolean }>) =>
      Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, check.ok]));

    it("reports MongoDB (FerretDB), Kafka and Redis reachable, and asks nothing of Stripe", async () => {
      const { probe } = await probeFor({
        MONGO_URL: infra.mongo,
        KAFKA_BROKERS: infra.kafka,
        REDIS_URL: infra.redis,
        STRIPE_SECRET_KEY: "sk_test_readiness",
        STRIPE_API_BASE: infra.stripe,
      });
      const readiness = await probe.check();
      expect([readiness.status, oks(readiness.checks)]).toEqual([
        "ready",
        { mongodb: true, kafka: true, redis: true },
      ]);
    });

    it("stays ready while Stripe is unreachable, and says so on /metrics and in the log", async () => {
      const { probe, broker, config } = await probeFor({
        MONGO_URL: infra.mongo,
        SERVICES: "api,booking,payment,runner,tracking,notification",
        STRIPE_SECRET_KEY: "sk_test_readiness",
        STRIPE_API_BASE: "http://127.0.0.1:1",
      });
      const warn = jest.spyOn(broker.logger, "warn");
      const watch = watchStripe(broker, config);
      try {
        expect(await watch?.check()).toEqual(false);
        expect(await watch?.check()).toEqual(false);
        expect((await probe.check()).status).toEqual("ready");
        expect(await exposition(broker)).toMatch(/^kilat_stripe_reachable\{[^}]*\} 0$/m);
        // Once per change, not once per check.
        expect(warn.mock.calls.filter(([line]) => String(line).startsWith("stripe:"))).toEqual([
          [expect.stringMatching(/^stripe: unreachable: /)],
        ]);
      } finally {
        await watch?.stop();
      }
    });

    it("sets kilat_stripe_reachable to 1 when Stripe (stripe-mock) answers", async () => {
      const { broker, config } = await probeFor({
        MONGO_URL: infra.mongo,
        STRIPE_SECRET_KEY: "sk_test_readiness",
        STRIPE_API_BASE: infra.stripe,
      });
      const watch = watchStripe(broker, config);
      try {
        expect(await watch?.check()).toEqual(true);
        expect(await exposition(broker)).toMatch(/^kilat_stripe_reachable\{[^}]*\} 1$/m);
      } finally {
        await watch?.stop();
      }
    });

    it("checks only what a gateway uses: Redis and its transporter, not MongoDB or Kafka", async () => {
      const { probe } = await probeFor({
        SERVICES: "api",
        TRANSPORTER: infra.redis,
        KAFKA_BROKERS: infra.kafka,
        MONGO_URL: "mongodb://127.0.0.1:1",
        REDIS_URL: infra.redis,
      });
      const readiness = await probe.check();
      // This bare broker never connected a transporter: that alone is what keeps it out.
      expect([readiness.status, oks(readiness.checks)]).toEqual([
        "not_ready",
        { redis: true, transporter: false },
      ]);
    });

    it("names what is unreachable, within the probe's time limit", async () => {
      const { probe } = await probeFor({
        MONGO_URL: infra.mongo,
        REDIS_URL: "redis://127.0.0.1:1",
      });
      const started = Date.now();
      const readiness = await probe.check();
      expect(Date.now() - started).toBeLessThan(3000);
      expect([readiness.status, oks(readiness.checks)]).toEqual([
        "not_ready",
        { mongodb: true, event_bus: true, redis: false },
      ]);
      expect(readiness.checks.redis.error).toEqual(expect.any(String));
    });

    it("answers not ready, asking nothing, from the moment the broker stops", async () => {
      const { probe, broker } = await probeFor({ MONGO_URL: infra.mongo });
      expect((await probe.check()).status).toEqual("ready");
      const stopping = broker.stop();
      const readiness = await probe.check();
      await stopping;
      expect(readiness).toEqual({
        status: "not_ready",
        checks: { broker: { ok: false, ms: 0, error: "stopping" } },
      });
    });
  },
);
