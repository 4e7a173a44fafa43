import { Errors, Transporters } from "moleculer";
import type { Redis } from "ioredis";

/** What `send` is told of the packet it carries. */
interface SentPacket {
  type: string;
  target?: string | null;
  payload?: { id?: string };
}

/** The packet type of a request in Moleculer's protocol. */
const REQUEST = "REQ";

/**
 * The Redis transporter, told when a node's process is gone.
 *
 * A process killed with SIGKILL sends no DISCONNECT: the other nodes keep routing requests to it
 * until its heartbeat times out, and each such request waits out the request timeout. Redis,
 * though, sees the killed process's connection close at once and drops its subscriptions. So:
 * - a request published to a node's channel that no one receives (PUBLISH answers 0) never
 *   reached a handler: it is rejected as "service not available", which the retry policy sends
 *   to another node, and the node is marked disconnected;
 * - every `watchMs` one `PUBSUB NUMSUB` asks how many listen on each known node's request
 *   channel; a node with none is marked disconnected, which rejects the requests waiting on it.
 * A node dropped by mistake (its Redis connection blinked) is found again at its next
 * heartbeat, as Moleculer re-discovers any node it hears from. Right after Redis comes back,
 * every node is still re-subscribing: for `graceMs` no node is judged, and the watch needs two
 * empty answers in a row.
 */
export class WatchfulRedisTransporter extends Transporters.Redis {
  private watch: NodeJS.Timeout | undefined;
  /** When this process's connection to Redis last came up. */
  private connectedAt = 0;
  /** Nodes whose request channel had no listener at the last check. */
  private readonly suspects = new Set<string>();

  constructor(
    options: ConstructorParameters<typeof Transporters.Redis>[0],
    private readonly watchMs: number,
    private readonly graceMs: number,
  ) {
    super(options);
  }

  async connect(): Promise<void> {
    await super.connect();
    if (this.watchMs > 0 && !this.watch) {
      this.watch = setInterval(() => void this.checkListeners(), this.watchMs);
      this.watch.unref();
    }
  }

  onConnected(wasReconnect?: boolean): Promise<unknown> {
    this.connectedAt = Date.now();
    this.suspects.clear();
    return super.onConnected(wasReconnect);
  }

  async disconnect(): Promise<void> {
    clearInterval(this.watch);
    this.watch = undefined;
    await super.disconnect();
  }

  async send(topic: string, data: Buffer, meta?: { packet?: SentPacket }): Promise<void> {
    const client = this.publisher();
    if (!client) throw new Errors.MoleculerError("Redis client is not available");
    const receivers = await client.publish(topic, data);
    const packet = meta?.packet;
    if (receivers === 0 && packet?.type === REQUEST && packet.target)
      this.undelivered(packet.target, packet.payload?.id);
  }

  /** A request no process received: fail it as never handled, and forget the node. */
  private undelivered(nodeID: string, requestID: string | undefined): void {
    const pending = requestID ? this.transit.pendingRequests.get(requestID) : undefined;
    if (pending && requestID) {
      this.transit.pendingRequests.delete(requestID);
      pending.reject(
        new Errors.ServiceNotAvailableError({ action: pending.ctx.action?.name ?? "", nodeID }),
      );
    }
    this.gone(nodeID);
  }

  private gone(nodeID: string): void {
    if (Date.now() - this.connectedAt < this.graceMs) return;
    const node = this.broker.registry.nodes.get(nodeID);
    this.suspects.delete(nodeID);
    if (!node || node.local || !node.available) return;
    this.logger.warn(`Node '${nodeID}' no longer listens on the transporter: marked disconnected.`);
    this.broker.registry.nodes.disconnected(nodeID, true);
  }

  private async checkListeners(): Promise<void> {
    const client = this.publisher();
    if (!client || !this.connected) return;
    const nodes = this.broker.registry.nodes
      .toArray()
      .filter((node) => !node.local && node.available)
      .map((node) => node.id);
    if (nodes.length === 0) return;
    try {
      const counts = (await client.call(
        "PUBSUB",
        "NUMSUB",
        ...nodes.map((id) => this.getTopicName(REQUEST, id)),
      )) as (string | number)[];
      // The answer alternates channel and count.
      nodes.forEach((id, i) => {
        if (Number(counts[i * 2 + 1]) > 0) this.suspects.delete(id);
        else if (this.suspects.has(id)) this.gone(id);
        else this.suspects.add(id);
      });
    } catch {
      // Redis itself is away: the transporter reconnects; nothing can be judged meanwhile.
    }
  }

  private publisher(): Redis | undefined {
    // Typed `any` by Moleculer; an ioredis client once connected.
    return this.clientPub as Redis | undefined;
  }
}
