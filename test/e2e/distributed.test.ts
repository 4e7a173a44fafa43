import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ALL_TOPICS, PARTITIONS } from "../../events/catalog";
import { signToken } from "../../lib/auth";
import { DEFAULT_JWT_SECRET } from "../../lib/config";
import { KafkaEventBus } from "../../adapters/event-bus";
import { describeWithInfra, uniqueName } from "../support/infra";
import { freePort } from "../support/processes";
import { ANYWHERE } from "../support/service-area";
import { eventually } from "../support/wait";

const ROOT = join(__dirname, "..", "..");

/** The README's "distributed on one machine": one `npm start` process per SERVICES value. */
describeWithInfra(
  ["kafka", "mongo", "redis"],
  "the slice over four server processes (one per service)",
  (infra) => {
    const children: ChildProcess[] = [];
    // A port the OS says is free: a random pick fell in the ephemeral range (32768+) and once met
    // an outgoing connection's port (EADDRINUSE, the api process never listened).
    let port = "";
    const run = uniqueName("procs");
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      LOG_LEVEL: "warn",
      NAMESPACE: run,
      TRANSPORTER: infra.redis,
      REDIS_URL: infra.redis,
      KAFKA_BROKERS: infra.kafka,
      KAFKA_TOPIC_PREFIX: `${run}.`,
      MONGO_URL: infra.mongo,
      MONGO_DB_PREFIX: run,
      SERVICE_AREA: ANYWHERE,
    };

    beforeAll(async () => {
      port = String(await freePort());
      const bus = new KafkaEventBus({
        brokers: infra.kafka.split(","),
        clientId: "procs",
        topicPrefix: `${run}.`,
      });
      await bus.ensureTopics(ALL_TOPICS, PARTITIONS);
      await bus.close();
      for (const services of ["api", "booking", "payment", "notification", "runner,tracking"]) {
        const child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
          cwd: ROOT,
          env: {
            ...env,
            SERVICES: services,
            PORT: port,
            NODE_ID: `${run}-${services.replace(",", "-")}`,
          },
          stdio: ["ignore", "ignore", "inherit"],
        });
        children.push(child);
      }
      await eventually(
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/ready?all=true`);
          return response.ok ? true : undefined;
        },
        { timeoutMs: 60000, intervalMs: 250, what: "the processes to be ready" },
      );
    }, 90000);

    afterAll(async () => {
      await Promise.all(
        children.map(
          (child) =>
            new Promise((resolve) => {
              child.once("exit", resolve);
              child.kill("SIGTERM");
            }),
        ),
      );
    });

    it("a booking made through the api process reaches the owner's inbox through the others", async () => {
      const token = signToken({ sub: "owner-procs", role: "owner" }, DEFAULT_JWT_SECRET);
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const created = await fetch(`http://127.0.0.1:${port}/api/bookings`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          pet_type: "cat",
          pet_name: "Luna",
          pickup: { lat: 3.1, lng: 101.6 },
          dropoff: { lat: 3.15, lng: 101.7 },
        }),
      });
      expect(created.status).toEqual(201);
      const booking = (await created.json()) as { booking_id: string };
      const inbox = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/api/notifications`, { headers });
        const body = (await response.json()) as {
          items: { booking_id: string; event_type: string }[];
        };
        return body.items.length > 0 ? body.items : undefined;
      });
      expect(inbox.map((item) => [item.event_type, item.booking_id])).toEqual([
        ["booking.requested", booking.booking_id],
      ]);
    });
  },
);
