import { quietRequestQueues } from "../../adapters/event-bus/kafkajs-idle";

/** kafkajs's own RequestQueue, with the correction applied, driven without a broker. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- not in kafkajs's types
const RequestQueue = require("kafkajs/src/network/requestQueue") as new (options: object) => {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
};

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const newQueue = () =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "test",
    broker: "localhost:9092",
    logger: { namespace: () => silent },
    isConnected: () => true,
  });

describe("kafkajs request queues (tulios/kafkajs#1556)", () => {
  beforeAll(() => quietRequestQueues());

  it("given nothing waiting, schedules no check: an idle connection does not wake every millisecond", () => {
    const queue = newQueue();
    queue.checkPendingRequests(); // what kafkajs runs after each response
    expect(queue.throttleCheckTimeoutId).toBeNull();
    queue.destroy();
  });

  it("given a request waiting out a throttle, checks again when the throttle ends", async () => {
    const queue = newQueue();
    const checked: number[] = [];
    const started = Date.now();
    queue.checkPendingRequests = () => checked.push(Date.now() - started);
    queue.pending.push({});
    queue.throttledUntil = started + 60;
    queue.scheduleCheckPendingRequests();
    queue.scheduleCheckPendingRequests(); // one check scheduled, not two
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(checked).toHaveLength(1);
    expect(checked[0]).toBeGreaterThanOrEqual(55);
    queue.destroy();
  });

  it("given a request waiting without a throttle (too many in flight), checks again within 10 ms", async () => {
    const queue = newQueue();
    let checks = 0;
    queue.checkPendingRequests = () => checks++;
    queue.pending.push({});
    queue.scheduleCheckPendingRequests();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(checks).toBe(1);
    queue.destroy();
  });
});
