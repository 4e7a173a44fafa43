import { PassThrough } from "node:stream";
import { ServiceBroker, type Context } from "moleculer";
import { loadConfig } from "../../lib/config";
import { logMiddlewares, loggerOptions, scrub, whileConsuming } from "../../lib/logger";

const JWT =
  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvd25lci0xIiwicm9sZSI6Im93bmVyIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
const JWT_SECRET = "a-jwt-secret-only-this-test-knows";

/** A broker logging JSON lines into memory, with a booking service that logs what it is given. */
async function brokerWritingTo(lines: string[]) {
  const config = loadConfig({ LOG_FORMAT: "json", LOG_LEVEL: "info", JWT_SECRET });
  const stream = new PassThrough();
  let pending = "";
  stream.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split("\n");
    pending = complete.pop() ?? "";
    lines.push(...complete);
  });
  const broker = new ServiceBroker({
    nodeID: "node-log",
    logger: loggerOptions(config, stream),
    middlewares: logMiddlewares(config),
  });
  broker.createService({
    name: "booking",
    actions: {
      accept(this: { logger: ServiceBroker["logger"] }, ctx: Context<{ id: string }>) {
        this.logger.warn(
          `payment of ${ctx.params.id} failed`,
          new Error(`No such PaymentMethod: 'pm_card_visa' for ${JWT}`),
          { headers: { authorization: `Bearer ${JWT}` }, payment_method: "pm_card_visa" },
        );
        return "ok";
      },
    },
  });
  await broker.start();
  return broker;
}

const parsed = (lines: string[]) =>
  lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe("JSON log lines", () => {
  it("given a booking action that logs, when it runs in a request, then its line names the service, node, request, call and booking", async () => {
    const lines: string[] = [];
    const broker = await brokerWritingTo(lines);
    try {
      const ctx = await broker.call("booking.accept", { id: "bk_42" }, { requestID: "req-1" });
      expect(ctx).toEqual("ok");
    } finally {
      await broker.stop();
    }
    const line = parsed(lines).find(
      (entry) => entry.service === "booking" && entry.level === "warn",
    );
    expect(line).toEqual({
      level: "warn",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
      service: "booking",
      nodeID: "node-log",
      trace_id: "req-1",
      span_id: expect.any(String) as string,
      booking_id: "bk_42",
      msg: "payment of bk_42 failed",
      err: {
        type: "Error",
        message: "No such PaymentMethod: '[redacted]' for [redacted]",
        stack: expect.stringMatching(
          /^Error: No such PaymentMethod: '\[redacted\]' for \[redacted\]\n/,
        ) as string,
      },
      headers: { authorization: "[redacted]" },
      payment_method: "[redacted]",
    });
  });

  it("given a broker's own lines, when it starts and stops, then every line is JSON with time, level, msg, service and nodeID and no trace fields", async () => {
    const lines: string[] = [];
    const broker = await brokerWritingTo(lines);
    await broker.stop();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of parsed(lines)) {
      expect(line).toEqual(
        expect.objectContaining({
          time: expect.any(String) as string,
          level: expect.stringMatching(/^(fatal|error|warn|info)$/) as string,
          msg: expect.any(String) as string,
          service: expect.any(String) as string,
          nodeID: "node-log",
        }),
      );
      expect(line.trace_id).toEqual(undefined);
    }
  });

  describe("while a consumer handles a domain event (no Moleculer context)", () => {
    const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PUBLISHER_SPAN = "00f067aa0ba902b7";
    const accepted = (traceparent?: string) => ({
      id: "0b7c5a7e-3c1e-4c8a-9f57-2d1c7f0e5a11",
      data: { booking_id: "bk_7", runner_id: "r_1" },
      ...(traceparent ? { traceparent } : {}),
    });

    /** The broker's line written by `log`, run as the consumer runs it. */
    async function consumerLine(
      events: { id: string; data: unknown; traceparent?: string }[],
      log: (broker: ServiceBroker) => Promise<void> | void,
    ) {
      const lines: string[] = [];
      const broker = await brokerWritingTo(lines);
      try {
        await whileConsuming(events, () => log(broker));
      } finally {
        await broker.stop();
      }
      return parsed(lines).find((entry) => entry.msg === "handled");
    }

    it("given an event naming a booking, with a traceparent, then the line names the booking, the event and its trace", async () => {
      const line = await consumerLine([accepted(`00-${TRACE}-${PUBLISHER_SPAN}-01`)], (broker) =>
        broker.getLogger("notification").info("handled"),
      );
      expect(line).toEqual(
        expect.objectContaining({
          booking_id: "bk_7",
          event_id: "0b7c5a7e-3c1e-4c8a-9f57-2d1c7f0e5a11",
          trace_id: TRACE,
          span_id: PUBLISHER_SPAN,
        }),
      );
    });

    it("given an event without a traceparent (tracing off where it was published), then the line names the booking and no trace", async () => {
      const line = await consumerLine([accepted()], (broker) =>
        broker.getLogger("notification").info("handled"),
      );
      expect([line?.booking_id, line?.event_id, line?.trace_id]).toEqual([
        "bk_7",
        "0b7c5a7e-3c1e-4c8a-9f57-2d1c7f0e5a11",
        undefined,
      ]);
    });

    it("given a call the consumer makes, then the called action's line keeps the event's booking and trace", async () => {
      const line = await consumerLine(
        [accepted(`00-${TRACE}-${PUBLISHER_SPAN}-01`)],
        async (broker) => {
          broker.createService({
            name: "notification",
            actions: {
              send(this: { logger: ServiceBroker["logger"] }) {
                this.logger.info("handled");
              },
            },
          });
          await broker.waitForServices("notification");
          await broker.call("notification.send", {});
        },
      );
      expect([line?.service, line?.booking_id, line?.trace_id]).toEqual([
        "notification",
        "bk_7",
        TRACE,
      ]);
    });

    it("given a batch of events of several bookings, then the line names none of them", async () => {
      const other = { ...accepted(), id: "another", data: { booking_id: "bk_8" } };
      const line = await consumerLine([accepted(), other], (broker) =>
        broker.getLogger("tracking").info("handled"),
      );
      expect([line?.booking_id, line?.event_id]).toEqual([undefined, undefined]);
    });
  });

  it("given secrets in a text, when scrubbed, then none of them is left", () => {
    expect(
      scrub(`t=1700000000,v1=abc123 ${JWT} whsec_abc sk_test_xyz pm_card_visa ${JWT_SECRET}`, [
        JWT_SECRET,
      ]),
    ).toEqual("[redacted] [redacted] [redacted] [redacted] [redacted] [redacted]");
  });
});

describe("LOG_FORMAT", () => {
  it.each([
    [{}, "pretty"],
    [{ NODE_ENV: "test" }, "pretty"],
    [
      {
        NODE_ENV: "production",
        JWT_SECRET: "Qm9vdGggc2VjcmV0IGZvciBhIGxvZyB0ZXN0IG9ubHk",
        STRIPE_WEBHOOK_SECRET: "whsec_TG9nIHRlc3Qgd2ViaG9vayBzZWNyZXQgdmFsdWU",
      },
      "json",
    ],
    [{ LOG_FORMAT: "json" }, "json"],
  ])("given %j, then logs are %s", (env, format) => {
    expect(loadConfig(env).logFormat).toEqual(format);
  });

  it("given an unknown format, then the configuration names the variable", () => {
    expect(() => loadConfig({ LOG_FORMAT: "xml" })).toThrow("LOG_FORMAT: expected json or pretty");
  });
});
