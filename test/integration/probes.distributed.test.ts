import type { ChildProcess } from "node:child_process";
import { ALL_TOPICS } from "../../events/catalog";
import { signToken } from "../../lib/auth";
import { DEFAULT_JWT_SECRET } from "../../lib/config";
import { describeWithInfra, uniqueName } from "../support/infra";
import { createRunTopics, freePort, startKilat, stopChildren } from "../support/processes";
import { eventually } from "../support/wait";

const METRICS_TOKEN = "probes-metrics-token-0123456789";

interface Answer {
  status: number;
  body: string;
}

async function get(port: number, path: string, token?: string): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: await response.text() };
}

/** The value of the first sample of `family` whose labels include all of `labels`. */
function sample(text: string, family: string, labels: Record<string, string>): number | undefined {
  const line = text
    .split("\n")
    .find(
      (candidate) =>
        candidate.startsWith(`${family}{`) &&
        Object.entries(labels).every(([name, value]) => candidate.includes(`${name}="${value}"`)),
    );
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

/** Every process of a deployment, one `server.ts` each, as the Docker image runs them. */
describeWithInfra(
  ["kafka", "mongo", "redis", "stripe"],
  "probes and metrics of every process (one server.ts per service)",
  (infra) => {
    const run = uniqueName("probes");
    const workers = ["booking", "payment", "notification", "runner", "tracking"] as const;
    type Worker = (typeof workers)[number];
    const children = new Map<string, ChildProcess>();
    const ports = new Map<string, number>();
    const port = (name: string) => ports.get(name) ?? -1;
    const admin = signToken({ sub: "probes-admin", role: "admin" }, DEFAULT_JWT_SECRET);
    const owner = signToken({ sub: "probes-owner", role: "owner" }, DEFAULT_JWT_SECRET);

    beforeAll(async () => {
      await createRunTopics(infra.kafka, run);
      for (const services of ["api", ...workers]) {
        const probePort = await freePort();
        ports.set(services, probePort);
        const child = startKilat(infra, run, services, {
          METRICS_TOKEN,
          STRIPE_SECRET_KEY: "sk_test_probes",
          STRIPE_API_BASE: infra.stripe,
          // The gateway serves its probes on PORT; every other process on PROBE_PORT.
          ...(services === "api" ? { PORT: String(probePort) } : { PROBE_PORT: String(probePort) }),
        });
        children.set(services, child);
      }
      await eventually(
        async () => {
          // Each process is ready on its own; the gateway's ?all=true adds that it sees them all.
          const answers = await Promise.all([
            ...[...ports.values()].map((p) => get(p, "/ready")),
            get(port("api"), "/ready?all=true"),
          ]);
          return answers.every((answer) => answer.status === 200) ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 250, what: "every process to be ready" },
      );
    }, 120_000);

    afterAll(async () => {
      await stopChildren([...children.values()]);
    });

    it("each worker answers /health and /ready on its own port, checking only what it uses", async () => {
      const checked: Record<string, unknown> = {};
      for (const worker of workers) {
        const health = await get(port(worker), "/health");
        const ready = await get(port(worker), "/ready");
        expect([
          worker,
          health.status,
          (JSON.parse(health.body) as { status: string }).status,
        ]).toEqual([worker, 200, "ok"]);
        expect([worker, ready.status]).toEqual([worker, 200]);
        checked[worker] = Object.keys((JSON.parse(ready.body) as { checks: object }).checks).sort();
      }
      // No Stripe (a metric of the payment process instead), no other services' presence.
      expect(checked).toEqual({
        booking: ["kafka", "mongodb", "transporter"],
        payment: ["kafka", "mongodb", "transporter"],
        notification: ["kafka", "mongodb", "transporter"],
        runner: ["kafka", "mongodb", "redis", "transporter"],
        tracking: ["kafka", "mongodb", "transporter"],
      });
      const gateway = JSON.parse((await get(port("api"), "/ready")).body) as { checks: object };
      expect(Object.keys(gateway.checks).sort()).toEqual(["redis", "transporter"]);
    });

    it("serves /metrics to METRICS_TOKEN and admins only, with the operators' metrics", async () => {
      for (const worker of workers) {
        const statuses = [
          (await get(port(worker), "/metrics")).status,
          (await get(port(worker), "/metrics", "not-a-token")).status,
          (await get(port(worker), "/metrics", owner)).status,
          (await get(port(worker), "/metrics", admin)).status,
          (await get(port(worker), "/metrics", METRICS_TOKEN)).status,
        ];
        expect([worker, statuses]).toEqual([worker, [401, 401, 403, 200, 200]]);
      }

      // A booking goes through: the gateway times the request, the notification service the event.
      const created = await fetch(`http://127.0.0.1:${port("api")}/api/bookings`, {
        method: "POST",
        headers: { authorization: `Bearer ${owner}`, "content-type": "application/json" },
        body: JSON.stringify({
          pet_type: "cat",
          pet_name: "Probe",
          pickup: { lat: 3.1, lng: 101.6 },
          dropoff: { lat: 3.15, lng: 101.7 },
        }),
      });
      expect(created.status).toEqual(201);
      const metricsOf = async (name: Worker | "api") =>
        (await get(port(name), "/metrics", METRICS_TOKEN)).body;

      const notification = await eventually(async () => {
        const text = await metricsOf("notification");
        const handled = sample(text, "kilat_event_handling_duration_seconds_count", {
          group: "service-notification-bookings",
          type: "booking.requested",
        });
        return handled === 1 ? text : undefined;
      });
      const lags = [0, 1, 2].map((partition) =>
        sample(notification, "kilat_consumer_lag", {
          group: "service-notification-bookings",
          topic: "booking.events",
          partition: String(partition),
        }),
      );
      expect(lags).toEqual([0, 0, 0]);

      const booking = await metricsOf("booking");
      expect(sample(booking, "kilat_outbox_oldest_age_seconds", { service: "booking" })).toEqual(0);
      expect(sample(await metricsOf("payment"), "kilat_stripe_reachable", {})).toEqual(1);

      const gateway = await metricsOf("api");
      expect(
        sample(gateway, "kilat_http_request_duration_seconds_count", {
          route: "/api/bookings",
          method: "POST",
          status: "201",
        }),
      ).toEqual(1);
      expect(ALL_TOPICS.map((topic) => sample(gateway, "kilat_dead_letters", { topic }))).toEqual(
        ALL_TOPICS.map(() => 0),
      );
    });

    it("answers 503 on /ready from the moment a worker is told to stop, until it exits", async () => {
      const child = children.get("booking");
      if (!child) throw new Error("no booking process");
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      let gone = false;
      void exited.then(() => (gone = true));
      child.kill("SIGTERM");
      const seen: number[] = [];
      while (!gone) {
        const status = await get(port("booking"), "/ready").then(
          (answer) => answer.status,
          () => 0, // the port closed: the process is on its way out
        );
        if (status === 0) break;
        seen.push(status);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await exited;
      // A probe that arrived before the signal was handled may still have been answered 200.
      const fromStop = seen.slice(seen.indexOf(503));
      expect(seen).toContain(503);
      expect(fromStop).toEqual(fromStop.map(() => 503));
    });
  },
);
