import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { brokerOptions } from "../../moleculer.config";
import { describeWithInfra, uniqueName } from "../support/infra";
import { eventually } from "../support/wait";

/**
 * A process killed with SIGKILL says no goodbye. Its Redis connection closes, though, and the
 * transporter (lib/transporter.ts) takes that as the node gone: calls move to the other replica
 * instead of waiting out the request timeout until the heartbeat times out.
 */
describeWithInfra(["redis"], "a killed replica over the Redis transporter", (infra) => {
  const children: ChildProcess[] = [];
  let caller: ServiceBroker | undefined;

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill("SIGKILL");
    await caller?.stop();
  });

  const startEcho = async (namespace: string, nodeID: string): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(__dirname, "..", "support", "echo-node.ts"),
        infra.redis,
        namespace,
        nodeID,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`echo node exited with ${code}`)));
    });
    return child;
  };

  it("answers every call, none slower than 2 s, when one of two replicas is killed mid-call", async () => {
    const namespace = uniqueName("live");
    const env = {
      NODE_ENV: "test",
      LOG_LEVEL: "error",
      NAMESPACE: namespace,
      TRANSPORTER: infra.redis,
    };
    caller = new ServiceBroker(
      brokerOptions({ ...loadConfig(env), nodeID: `${namespace}-caller` }),
    );
    await caller.start();
    const doomed = await startEcho(namespace, `${namespace}-a`);
    await startEcho(namespace, `${namespace}-b`);
    await eventually(
      () =>
        caller!.registry.getServiceList({ onlyAvailable: true, skipInternal: true }).length === 2 ||
        undefined,
      { what: "both replicas known" },
    );
    // Both replicas known to the caller.
    const answeredBy = new Set<string>();
    for (let i = 0; i < 10; i++) answeredBy.add(await caller.call<string, object>("echo.say", {}));
    expect([...answeredBy].sort()).toEqual([`${namespace}-a`, `${namespace}-b`]);

    const outcomes: { ok: boolean; ms: number; by?: string }[] = [];
    const call = async () => {
      const started = Date.now();
      try {
        const by = await caller!.call<string, { ms: number }>("echo.say", { ms: 200 });
        outcomes.push({ ok: true, ms: Date.now() - started, by });
      } catch {
        outcomes.push({ ok: false, ms: Date.now() - started });
      }
    };
    // 20 calls a second for 4 s; the first replica is killed after 1 s with calls in flight.
    const calls: Promise<void>[] = [];
    const load = setInterval(() => calls.push(call()), 50);
    setTimeout(() => doomed.kill("SIGKILL"), 1000);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    clearInterval(load);
    await Promise.all(calls);

    expect(outcomes.length).toBeGreaterThanOrEqual(70);
    expect(outcomes.filter((outcome) => !outcome.ok)).toEqual([]);
    expect(outcomes.filter((outcome) => outcome.ms > 2000)).toEqual([]);
    // After the kill, the survivor answers everything.
    expect(outcomes.slice(-20).every((outcome) => outcome.by === `${namespace}-b`)).toBe(true);
  });

  it("knows a node's services as soon as it has started (Moleculer waited 1 s to tell them)", async () => {
    const namespace = uniqueName("known");
    caller = new ServiceBroker(
      brokerOptions({
        ...loadConfig({
          NODE_ENV: "test",
          LOG_LEVEL: "error",
          NAMESPACE: namespace,
          TRANSPORTER: infra.redis,
        }),
        nodeID: `${namespace}-caller`,
      }),
    );
    await caller.start();
    await startEcho(namespace, `${namespace}-a`);
    const ready = Date.now();
    await eventually(
      () =>
        caller!.registry.getServiceList({ onlyAvailable: true, skipInternal: true }).length === 1 ||
        undefined,
      { what: "the echo service known", intervalMs: 10 },
    );
    // Moleculer's default debounce of a node's INFO (serviceChangedDebounceTime) is 1,000 ms.
    expect(Date.now() - ready).toBeLessThan(500);
  });
});
