import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { ReadinessProbe } from "../../lib/readiness";
import { createRuntime } from "../../lib/runtime";
import { describeWithInfra } from "../support/infra";

describeWithInfra(
  ["kafka", "mongo", "redis", "stripe"],
  "readiness probe against the real servers",
  (infra) => {
    const probeFor = (env: Record<string, string>) => {
      const config = loadConfig({ LOG_LEVEL: "error", ...env });
      const broker = new ServiceBroker({ logger: false });
      const runtime = createRuntime(config);
      return { probe: new ReadinessProbe(broker, runtime), runtime };
    };

    it("reports MongoDB (FerretDB), Kafka, Redis and Stripe (stripe-mock) reachable", async () => {
      const { probe, runtime } = probeFor({
        MONGO_URL: infra.mongo,
        KAFKA_BROKERS: infra.kafka,
        REDIS_URL: infra.redis,
        STRIPE_SECRET_KEY: "sk_test_readiness",
        STRIPE_API_BASE: infra.stripe,
      });
      try {
        const { checks } = await probe.check();
        expect(
          Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, check.ok])),
        ).toEqual({
          mongodb: true,
          kafka: true,
          redis: true,
          stripe: true,
          services: false, // this bare broker hosts none
        });
      } finally {
        await probe.close();
        await runtime.bus.close();
      }
    });

    it("names what is unreachable, within the probe's time limit", async () => {
      const { probe, runtime } = probeFor({
        MONGO_URL: infra.mongo,
        REDIS_URL: "redis://127.0.0.1:1",
        STRIPE_SECRET_KEY: "sk_test_readiness",
        STRIPE_API_BASE: "http://127.0.0.1:1",
      });
      try {
        const started = Date.now();
        const readiness = await probe.check();
        expect(Date.now() - started).toBeLessThan(3000);
        expect(readiness.status).toEqual("not_ready");
        expect([
          readiness.checks.mongodb.ok,
          readiness.checks.redis.ok,
          readiness.checks.stripe.ok,
        ]).toEqual([true, false, false]);
        expect(readiness.checks.redis.error).toEqual(expect.any(String));
      } finally {
        await probe.close();
        await runtime.bus.close();
      }
    });
  },
);
