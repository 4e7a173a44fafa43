/**
 * Kilat as the README's "Distributed on one machine" runs it — one `server.ts` process per
 * replica — on the servers of `npm run infra:up`, with a namespace, topics and databases of its
 * own, so a chaos run never touches another run's data. Replicas are started, killed (SIGKILL on
 * the node process itself) and started again at will; each logs to `.infra/chaos/<run>/`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel, type Admin } from "kafkajs";
import type { ServiceBroker } from "moleculer";
import { dropDatabases, randomPort, sleep, until } from "../../bench/support";
import { ALL_TOPICS, CONSUMER_GROUPS, PARTITIONS } from "../../events/catalog";
import { loadConfig, type ServiceName } from "../../lib/config";
import { KafkaEventBus } from "../../adapters/event-bus";
import { readInfraEnv } from "../../scripts/infra-env";
import { createBroker } from "../../services";

export const ROOT = join(__dirname, "..", "..");

/** The services behind the gateway: each runs as one or two replicas. */
export const BACKENDS = ["booking", "payment", "runner", "tracking", "notification"] as const;
export type Backend = (typeof BACKENDS)[number];

export interface Replica {
  service: ServiceName;
  nodeID: string;
  pid: number;
  /** Resolves when the process has exited, however. */
  exited: Promise<void>;
  child: ChildProcess;
}

/** A process that exited without being told to: a finding, with the end of its log. */
export interface UnexpectedExit {
  nodeID: string;
  code: number | null;
  signal: string | null;
  at: string;
  logTail: string;
}

/** The servers' addresses: the environment first, else the env file infra:up writes. */
export function infraAddresses(): Record<
  "TRANSPORTER" | "REDIS_URL" | "KAFKA_BROKERS" | "MONGO_URL",
  string
> {
  const infra = { ...readInfraEnv(), ...process.env };
  const names = ["TRANSPORTER", "REDIS_URL", "KAFKA_BROKERS", "MONGO_URL"] as const;
  const missing = names.filter((name) => !infra[name]);
  if (missing.length > 0)
    throw new Error(`the chaos suite needs ${missing.join(", ")}: run npm run infra:up`);
  return Object.fromEntries(names.map((name) => [name, String(infra[name])])) as Record<
    (typeof names)[number],
    string
  >;
}

export class Cluster {
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Told of a replica that exited without being told to (a supervisor restarts it). */
  onUnexpectedExit: (replica: Replica) => void = () => undefined;
  private readonly live: Replica[] = [];
  private readonly everyChild: ChildProcess[] = [];
  /** Replicas this suite is stopping or killing: their exit is expected. */
  private readonly ending = new Set<ChildProcess>();
  private serial = 0;
  private groupAdmin: Promise<Admin> | undefined;

  private constructor(
    readonly run: string,
    readonly url: string,
    readonly logDir: string,
    private readonly port: string,
    private readonly infra: ReturnType<typeof infraAddresses>,
    /** A service-less node on the transporter: it sees which replicas have joined. */
    private readonly observer: ServiceBroker,
  ) {}

  /** Topics, the observer node, and `replicas` of each backend plus one gateway, all joined. */
  static async start(run: string, replicas: (service: Backend) => number): Promise<Cluster> {
    const infra = infraAddresses();
    const topics = new KafkaEventBus({
      brokers: infra.KAFKA_BROKERS.split(","),
      clientId: "chaos",
      topicPrefix: `${run}.`,
    });
    await topics.ensureTopics(ALL_TOPICS, PARTITIONS);
    await topics.close();
    const logDir = join(ROOT, ".infra", "chaos", run);
    mkdirSync(logDir, { recursive: true });
    const observer = createBroker(
      loadConfig({
        NAMESPACE: run,
        TRANSPORTER: infra.TRANSPORTER,
        NODE_ID: `${run}-observer`,
        LOG_LEVEL: "error",
      }),
      { services: [] },
    );
    await observer.start();
    const port = await randomPort();
    const cluster = new Cluster(run, `http://127.0.0.1:${port}`, logDir, port, infra, observer);
    const started = [cluster.spawn("api")];
    for (const service of BACKENDS)
      for (let i = 0; i < replicas(service); i++) started.push(cluster.spawn(service));
    try {
      await Promise.all(started.map((replica) => cluster.joined(replica, 120_000)));
      await until(
        "the gateway to be ready",
        async () => (await fetch(`${cluster.url}/ready?all=true`)).ok,
      );
    } catch (error) {
      await cluster.close().catch(() => undefined);
      throw error;
    }
    return cluster;
  }

  /** The running replicas of a service, oldest first. */
  replicasOf(service: ServiceName): Replica[] {
    return this.live.filter((replica) => replica.service === service);
  }

  /**
   * Starts one replica: a fresh node id, or `nodeID` again (a restarted container keeps its
   * name). The process is node itself, so its pid is the one to kill.
   */
  spawn(service: ServiceName, nodeID = `${this.run}-${service}-${++this.serial}`): Replica {
    const log = openSync(join(this.logDir, `${nodeID}.log`), "a");
    const child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
      cwd: ROOT,
      stdio: ["ignore", log, log],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        ...this.infra,
        SERVICES: service,
        NODE_ID: nodeID,
        NAMESPACE: this.run,
        KAFKA_TOPIC_PREFIX: `${this.run}.`,
        MONGO_DB_PREFIX: this.run,
        PORT: this.port,
        LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "warn",
        // One load generator is one client address: the per-address limit would measure itself.
        RATE_LIMIT_PER_IP: "10000000",
      },
    });
    closeSync(log);
    const exited = new Promise<void>((resolve) =>
      child.once("exit", (code, signal) => {
        const index = this.live.findIndex((replica) => replica.child === child);
        if (index >= 0) this.live.splice(index, 1);
        if (!this.ending.has(child)) {
          this.unexpectedExits.push({
            nodeID,
            code,
            signal,
            at: new Date().toISOString(),
            logTail: this.logTail(nodeID),
          });
          this.onUnexpectedExit(replica);
        }
        resolve();
      }),
    );
    if (child.pid === undefined) throw new Error(`could not start ${nodeID}`);
    const replica: Replica = { service, nodeID, pid: child.pid, exited, child };
    this.live.push(replica);
    this.everyChild.push(child);
    return replica;
  }

  /** Resolves once the observer sees the replica's service available on its node. */
  async joined(replica: Replica, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isJoined(replica)) {
      if (replica.child.exitCode !== null || replica.child.signalCode !== null)
        throw new Error(
          `${replica.nodeID} exited while starting:\n${this.logTail(replica.nodeID)}`,
        );
      if (Date.now() > deadline)
        throw new Error(`${replica.nodeID} did not join in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  private isJoined(replica: Replica): boolean {
    return this.observer.registry
      .getServiceList({ onlyAvailable: true, skipInternal: true })
      .some((service) => service.nodeID === replica.nodeID && service.name === replica.service);
  }

  /** kill -9 of the node process; resolves once it is gone. */
  async kill(replica: Replica): Promise<void> {
    this.ending.add(replica.child);
    process.kill(replica.pid, "SIGKILL");
    await replica.exited;
  }

  /** A clean stop (SIGTERM), insisting with SIGKILL after 15 s. */
  async stop(replica: Replica): Promise<void> {
    this.ending.add(replica.child);
    replica.child.kill("SIGTERM");
    const timer = setTimeout(() => replica.child.kill("SIGKILL"), 15_000);
    await replica.exited;
    clearTimeout(timer);
  }

  /** Every process this cluster started, SIGKILLed at once: safe to call from an exit handler. */
  killEverything(): void {
    for (const child of this.everyChild) {
      this.ending.add(child);
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }

  /** Stops the processes and, unless kept for a post-mortem, the run's databases and topics. */
  async close(removeData = true): Promise<void> {
    await Promise.all(this.live.slice().map((replica) => this.stop(replica)));
    this.killEverything();
    await this.observer.stop().catch(() => undefined);
    await this.groupAdmin?.then((admin) => admin.disconnect()).catch(() => undefined);
    if (!removeData) return;
    await dropDatabases(this.infra.MONGO_URL, this.run);
    await this.deleteTopics().catch((error: unknown) =>
      console.error(
        `chaos: could not delete the ${this.run}.* topics: ${(error as Error).message}`,
      ),
    );
  }

  /**
   * The members of each Kafka consumer group the service owns, by group id: a restarted
   * replica has rejoined once every group is stable with members none of which were there
   * before the kill (the dead member is out, the new one in).
   */
  async groupMembers(
    service: ServiceName,
  ): Promise<Map<string, { state: string; members: string[] }>> {
    const groupIds = CONSUMER_GROUPS.filter((group) => group.service === `service-${service}`).map(
      (group) => `${this.run}.${group.groupId}`,
    );
    const members = new Map<string, { state: string; members: string[] }>();
    if (groupIds.length === 0) return members;
    this.groupAdmin ??= this.connectGroupAdmin().catch((error: unknown) => {
      this.groupAdmin = undefined; // the next poll connects again
      throw error;
    });
    const { groups } = await (await this.groupAdmin).describeGroups(groupIds);
    for (const group of groups)
      members.set(group.groupId, {
        state: group.state,
        members: group.members.map((member) => member.memberId),
      });
    return members;
  }

  /** One admin client for the run's group polls (a connection per poll would load Kafka). */
  private async connectGroupAdmin(): Promise<Admin> {
    const admin = new Kafka({
      brokers: this.infra.KAFKA_BROKERS.split(","),
      clientId: "chaos-groups",
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    return admin;
  }

  /** The process behind a node id as the observer knows it (a new one after a restart). */
  instanceOf(nodeID: string): string | null | undefined {
    return this.observer.registry.nodes.get(nodeID)?.instanceID;
  }

  private async deleteTopics(): Promise<void> {
    const admin = new Kafka({
      brokers: this.infra.KAFKA_BROKERS.split(","),
      clientId: "chaos-cleanup",
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(`${this.run}.`));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    } finally {
      await admin.disconnect();
    }
  }

  /** The last lines a replica logged. */
  logTail(nodeID: string, lines = 15): string {
    try {
      return readFileSync(join(this.logDir, `${nodeID}.log`), "utf8")
        .trimEnd()
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "";
    }
  }
}
