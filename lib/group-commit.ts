import { backoffDelay } from "../adapters/event-bus/delivery";
import type { RetryPolicy } from "../adapters/event-bus/port";

interface Queued<T> {
  items: T[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A write-behind with group commit. `add` queues items and resolves once they are stored; one
 * write runs at a time, and what was queued meanwhile goes together in the next one, so a busy
 * writer pays one round trip per group, not per caller. A failed write is tried again (with what
 * queued since) after a backoff, until `close`: the write must be idempotent. `close` gives the
 * queue one last try and rejects what it could not store.
 */
export class GroupCommit<T> {
  private queue: Queued<T>[] = [];
  private size = 0;
  /** True from the first queued item until the queue is found empty, in the same tick. */
  private running = false;
  private draining: Promise<void> = Promise.resolve();
  private closed = false;
  private wake: (() => void) | undefined;

  /**
   * @param lingerMs how long a write waits for company once something is queued: fewer, larger
   *   writes, each item stored that much later.
   */
  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly retry: Pick<RetryPolicy, "initialDelayMs" | "maxDelayMs" | "factor">,
    private readonly onError?: (error: unknown, attempt: number) => void,
    private readonly lingerMs = 0,
  ) {}

  /** Items queued or being written. */
  get backlog(): number {
    return this.size;
  }

  add(items: T[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error("group commit closed"));
    if (items.length === 0) return Promise.resolve();
    const stored = new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
    });
    this.size += items.length;
    if (!this.running) {
      this.running = true;
      this.draining = this.drain();
    }
    return stored;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.draining;
  }

  /** Waits `ms`, or less if `close` is called meanwhile. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => (clearTimeout(timer), resolve());
    });
    this.wake = undefined;
  }

  private async drain(): Promise<void> {
    try {
      let failed = 0;
      while (this.queue.length > 0) {
        if (this.lingerMs > 0 && !this.closed) await this.pause(this.lingerMs);
        const group = this.queue;
        this.queue = [];
        const count = group.reduce((n, entry) => n + entry.items.length, 0);
        try {
          await this.write(group.flatMap((entry) => entry.items));
        } catch (error) {
          failed++;
          this.onError?.(error, failed);
          if (this.closed) {
            this.size -= count;
            for (const entry of group) entry.reject(error);
            continue;
          }
          this.queue = [...group, ...this.queue]; // first in line again, with what queued since
          await this.pause(backoffDelay(this.retry, failed));
          continue;
        }
        failed = 0;
        this.size -= count;
        for (const entry of group) entry.resolve();
      }
    } finally {
      // In the same tick as the empty queue was seen: an item added from now on starts a drain.
      this.running = false;
    }
  }
}
