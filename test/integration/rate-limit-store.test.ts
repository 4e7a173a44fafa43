import Redis from "ioredis";
import { MemoryCounterStore, RedisCounterStore } from "../../lib/http-limits";
import { describeWithInfra, uniqueName } from "../support/infra";

describe("MemoryCounterStore", () => {
  it("counts hits per key in fixed windows", async () => {
    let now = 1_000;
    const store = new MemoryCounterStore(() => now);
    expect(await store.hit("a", 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
    now += 10_000;
    expect(await store.hit("a", 60_000)).toEqual({ count: 2, resetInMs: 50_000 });
    expect((await store.hit("b", 60_000)).count).toBe(1);
    now += 50_000;
    expect(await store.hit("a", 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
  });
});

describeWithInfra(["redis"], "RedisCounterStore", (infra) => {
  const clients: Redis[] = [];
  afterAll(() => clients.forEach((client) => client.disconnect()));

  it("shares one count between gateways and expires it with the window", async () => {
    const prefix = uniqueName("rl");
    const [a, b] = [new Redis(infra.redis), new Redis(infra.redis)];
    clients.push(a, b);
    const gatewayA = new RedisCounterStore(a, prefix);
    const gatewayB = new RedisCounterStore(b, prefix);
    expect((await gatewayA.hit("token:x", 300)).count).toBe(1);
    expect((await gatewayB.hit("token:x", 300)).count).toBe(2);
    const third = await gatewayA.hit("token:x", 300);
    expect(third.count).toBe(3);
    expect(third.resetInMs).toBeGreaterThan(0);
    expect(third.resetInMs).toBeLessThanOrEqual(300);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await gatewayB.hit("token:x", 300)).count).toBe(1);
  });
});
