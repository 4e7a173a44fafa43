import type { ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import type { Socket } from "socket.io-client";
import type { BookingEntity, NotificationEntity } from "../../contracts";
import { signToken } from "../../lib/auth";
import { DEFAULT_JWT_SECRET } from "../../lib/config";
import { describeWithInfra, uniqueName } from "../support/infra";
import { collect, connectSocket } from "../support/live";
import { createRunTopics, freePort, startKilat, stopChildren } from "../support/processes";
import { verifiedRunner } from "../support/runners";
import { clientAt } from "../support/system";
import { eventually } from "../support/wait";

/** A span as the OTLP/HTTP JSON exporter sends it, with its process's service.name. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: (Omit<ReceivedSpan, "service" | "attributes"> & { attributes?: OtlpAttribute[] })[];
    }[];
  }[];
}

const valueOf = (value: OtlpValue) => value.stringValue ?? value.intValue ?? value.boolValue;
const attributesOf = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map(({ key, value }) => [key, valueOf(value)]));

/** A tiny OTLP/HTTP receiver: what a collector would get on `/v1/traces`, as JSON. */
async function startReceiver(): Promise<{ server: Server; port: number; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces" && req.headers["content-type"]?.includes("json")) {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpExport;
        for (const resourceSpans of body.resourceSpans ?? []) {
          const service = String(attributesOf(resourceSpans.resource?.attributes)["service.name"]);
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              spans.push({ ...span, service, attributes: attributesOf(span.attributes) });
            }
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port, spans };
}

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

/** One `server.ts` per service, traces sent to a receiver of the test's own. */
describeWithInfra(
  ["kafka", "mongo", "redis"],
  "one trace across processes: a runner accepts, the owner is told",
  (infra) => {
    const run = uniqueName("traces");
    const services = ["api", "booking", "payment", "notification", "runner", "tracking"];
    const children: ChildProcess[] = [];
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let apiPort = 0;
    let socket: Socket | undefined;
    const owner = signToken({ sub: `${run}-owner`, role: "owner" }, DEFAULT_JWT_SECRET);
    const runner = signToken({ sub: `${run}-runner`, role: "runner" }, DEFAULT_JWT_SECRET);

    const api = async <T>(method: string, path: string, token: string, body?: unknown) => {
      const response = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as T };
    };

    beforeAll(async () => {
      receiver = await startReceiver();
      await createRunTopics(infra.kafka, run);
      apiPort = await freePort();
      for (const name of services) {
        const probePort = name === "api" ? apiPort : await freePort();
        const child = startKilat(infra, run, name, {
          ...(name === "api" ? { PORT: String(apiPort) } : { PROBE_PORT: String(probePort) }),
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_SERVICE_NAME: `kilat-${name}`,
          // Spans leave every 100 ms instead of every 5 s.
          OTEL_BSP_SCHEDULE_DELAY: "100",
        });
        children.push(child);
      }
      await eventually(
        async () => {
          const ready = await fetch(`http://127.0.0.1:${apiPort}/ready?all=true`).then(
            (response) => response.status,
            () => 0,
          );
          return ready === 200 ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 250, what: "every process to be ready" },
      );
    }, 120_000);

    afterAll(async () => {
      socket?.close();
      await stopChildren(children);
      await new Promise((resolve) => receiver?.server.close(resolve));
    });

    it("follows POST /accept through the booking action, the outbox, Kafka and a consumer to the owner's push", async () => {
      socket = await connectSocket(`http://127.0.0.1:${apiPort}`, owner);
      const pushes = collect<NotificationEntity>(socket, "notification");
      const pickup = { lat: 3.1, lng: 101.6 };
      await verifiedRunner(clientAt(`http://127.0.0.1:${apiPort}`, DEFAULT_JWT_SECRET), runner);
      const online = await api("POST", "/api/runners/me/online", runner, pickup);
      expect(online.status).toEqual(200);
      const booked = await api<BookingEntity>("POST", "/api/bookings", owner, {
        pet_type: "cat",
        pet_name: "Trace",
        pickup,
        dropoff: { lat: 3.15, lng: 101.7 },
      });
      expect(booked.status).toEqual(201);
      const id = booked.body.booking_id;
      expect((await api("POST", `/api/bookings/${id}/payment`, owner, {})).status).toEqual(201);
      await eventually(
        async () =>
          (await api<BookingEntity>("GET", `/api/bookings/${id}`, owner)).body.payment_status ===
          "held"
            ? true
            : undefined,
        { what: "the escrow to be held" },
      );

      const accepted = await api("POST", `/api/bookings/${id}/accept`, runner, {});
      expect(accepted.status).toEqual(200);
      await eventually(
        async () =>
          pushes.some((push) => push.event_type === "booking.accepted") ? true : undefined,
        { what: "the owner's booking.accepted push" },
      );

      // The gateway's span of the request names the trace everything else must share.
      const request = await eventually(async () =>
        receiver.spans.find(
          (span) =>
            span.service === "kilat-api" &&
            span.kind === SERVER &&
            span.name === "POST /api/bookings/:id/accept" &&
            span.attributes["url.path"] === `/api/bookings/${id}/accept`,
        ),
      );
      const inTrace = () => receiver.spans.filter((span) => span.traceId === request.traceId);
      const found = await eventually(
        async () => {
          const spans = inTrace();
          const has = {
            action: spans.some(
              (span) =>
                span.service === "kilat-booking" &&
                span.kind === SERVER &&
                span.name === "booking.accept",
            ),
            publish: spans.some(
              (span) =>
                span.service === "kilat-booking" &&
                span.kind === PRODUCER &&
                span.name === "booking.events publish",
            ),
            consumer: spans.some(
              (span) =>
                span.service === "kilat-notification" &&
                span.kind === CONSUMER &&
                span.name.startsWith("service-notification-") &&
                span.name.endsWith("process booking.accepted"),
            ),
            push: spans.some(
              (span) =>
                span.service === "kilat-api" &&
                span.kind === CONSUMER &&
                span.name === "live.notification",
            ),
          };
          return Object.values(has).every(Boolean) ? has : undefined;
        },
        { timeoutMs: 45_000, what: "every span of the accept's trace" },
      ).catch(() => undefined);

      const spans = inTrace();
      const summary = spans.map((span) => `${span.service} ${span.name}`).sort();
      expect({ found, summary }).toEqual({
        found: { action: true, publish: true, consumer: true, push: true },
        summary,
      });
      // Every span of the trace hangs from another of it, but the request's (a root). A parent
      // ends after its children, so it may reach the receiver in a later export: wait for it.
      const orphans = () => {
        const all = inTrace();
        const ids = new Set(all.map((span) => span.spanId));
        return all.filter((span) => span !== request && !ids.has(span.parentSpanId ?? ""));
      };
      await eventually(async () => (orphans().length === 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: "every span's parent",
      }).catch(() => undefined);
      expect(orphans().map((span) => `${span.service} ${span.name}`)).toEqual([]);
      const processes = new Set(spans.map((span) => span.service));
      expect(processes.size).toBeGreaterThanOrEqual(3);
      expect(
        [...processes]
          .filter((name) => ["kilat-api", "kilat-booking", "kilat-notification"].includes(name))
          .sort(),
      ).toEqual(["kilat-api", "kilat-booking", "kilat-notification"]);
    }, 120_000);
  },
);
