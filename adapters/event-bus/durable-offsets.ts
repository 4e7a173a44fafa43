/** A partition's next offset to read, as Kafka commits it. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * The commit point of a consumer whose handler stores its effects after returning (write-behind):
 * per partition, the offset after the last batch whose effects are stored, and of every batch
 * before it. A batch whose `durable` rejects freezes its partition's commit point for good; the
 * consumer is then rebuilt and reads again from there (`onFailure`).
 */
export class DurableOffsets {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly ready = new Map<string, PartitionOffset>();
  private failed = false;

  constructor(private readonly onFailure: (error: unknown) => void) {}

  /** Records that the batch ending before `next` was handled; commit it once `durable` is. */
  add(next: PartitionOffset, durable: Promise<void> | undefined): void {
    const key = `${next.topic}/${next.partition}`;
    const previous = this.tails.get(key);
    if (!previous && !durable) {
      this.ready.set(key, next);
      return;
    }
    // Observed at once: when an earlier batch failed, the chain below never looks at it.
    durable?.catch(() => undefined);
    const tail = (previous ?? Promise.resolve())
      .then(() => durable)
      .then(() => {
        this.ready.set(key, next);
      });
    // Only the first failure counts; later links of a failed chain reject with the same error.
    tail.catch((error: unknown) => {
      if (this.failed) return;
      this.failed = true;
      this.onFailure(error);
    });
    this.tails.set(key, tail);
    // Once settled and still the tail, forget it: the map holds only work in progress.
    void tail.then(
      () => this.tails.get(key) === tail && this.tails.delete(key),
      () => undefined,
    );
  }

  /** Offsets ready to commit since the last take. */
  take(): PartitionOffset[] {
    const list = [...this.ready.values()];
    this.ready.clear();
    return list;
  }

  /** Puts back offsets whose commit failed, unless a newer one is ready for the partition. */
  restore(offsets: PartitionOffset[]): void {
    for (const offset of offsets) {
      const key = `${offset.topic}/${offset.partition}`;
      if (!this.ready.has(key)) this.ready.set(key, offset);
    }
  }

  /** Waits (at most `timeoutMs`) for the batches handed over so far to be stored or to fail. */
  async settled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.tails.values()]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
