import { DurableOffsets, type PartitionOffset } from "../../adapters/event-bus/durable-offsets";
import { GroupCommit } from "../../lib/group-commit";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, factor: 2 };

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("GroupCommit", () => {
  it("given adds while a write is in flight, writes them together in the next write", async () => {
    const writes: number[][] = [];
    const first = deferred();
    const commit = new GroupCommit<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await first.promise;
    }, FAST_RETRY);
    const a = commit.add([1]);
    const b = commit.add([2, 3]);
    const c = commit.add([4]);
    expect(commit.backlog).toBe(4);
    first.resolve();
    await Promise.all([a, b, c]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
    expect(commit.backlog).toBe(0);
  });

  it("given an add in the same tick as the last write settled, still writes it", async () => {
    const writes: number[][] = [];
    const commit = new GroupCommit<number>(async (items) => {
      writes.push(items);
    }, FAST_RETRY);
    const stored = commit.add([1]);
    // Added from the first write's own continuation: the drain is finishing at that moment.
    const late = stored.then(() => commit.add([2]));
    await late;
    expect(writes).toEqual([[1], [2]]);
  });

  it("given a failing write, tries again with what queued since, and resolves once stored", async () => {
    const writes: number[][] = [];
    const errors: number[] = [];
    const commit = new GroupCommit<number>(
      async (items) => {
        writes.push(items);
        if (writes.length <= 2) throw new Error("database away");
      },
      FAST_RETRY,
      (_error, attempt) => errors.push(attempt),
    );
    const a = commit.add([1]);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const b = commit.add([2]);
    await Promise.all([a, b]);
    expect(writes).toEqual([[1], [1, 2], [1, 2]]);
    expect(errors).toEqual([1, 2]);
  });

  it("given close while a write keeps failing, gives it one last try and rejects the rest", async () => {
    let attempts = 0;
    const commit = new GroupCommit<number>(
      async () => {
        attempts++;
        throw new Error("database away");
      },
      { initialDelayMs: 60_000, maxDelayMs: 60_000, factor: 1 },
    );
    const stored = commit.add([1]);
    const outcome = stored.then(
      () => "stored",
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    await commit.close(); // does not sit out the minute of backoff
    expect(await outcome).toBe("database away");
    expect(attempts).toBe(2);
    await expect(commit.add([2])).rejects.toThrow("group commit closed");
  });
});

describe("DurableOffsets", () => {
  const at = (partition: number, offset: number): PartitionOffset => ({
    topic: "runner.events",
    partition,
    offset: String(offset),
  });

  it("given batches without write-behind, makes each commit point ready at once", () => {
    const offsets = new DurableOffsets(() => undefined);
    offsets.add(at(0, 10), undefined);
    offsets.add(at(1, 4), undefined);
    offsets.add(at(0, 12), undefined);
    expect(offsets.take()).toEqual([at(0, 12), at(1, 4)]);
    expect(offsets.take()).toEqual([]);
  });

  it("given a later batch stored first, commits neither until the earlier one is", async () => {
    const offsets = new DurableOffsets(() => undefined);
    const first = deferred();
    const second = deferred();
    offsets.add(at(0, 10), first.promise);
    offsets.add(at(0, 20), second.promise);
    offsets.add(at(1, 5), undefined);
    second.resolve();
    await offsets.settled(10);
    expect(offsets.take()).toEqual([at(1, 5)]);
    first.resolve();
    await offsets.settled(1000);
    expect(offsets.take()).toEqual([at(0, 20)]);
  });

  it("given a batch whose effects were not stored, never commits past it and reports it once", async () => {
    const failures: unknown[] = [];
    const offsets = new DurableOffsets((error) => failures.push(error));
    const failed = deferred();
    offsets.add(at(0, 10), undefined);
    offsets.add(at(0, 20), failed.promise);
    offsets.add(at(0, 30), Promise.resolve());
    failed.reject(new Error("not stored"));
    await offsets.settled(1000);
    expect(offsets.take()).toEqual([at(0, 10)]);
    expect(failures).toEqual([new Error("not stored")]);
  });

  it("given a failed commit, puts its offsets back unless newer ones are ready", () => {
    const offsets = new DurableOffsets(() => undefined);
    offsets.add(at(0, 10), undefined);
    offsets.add(at(1, 3), undefined);
    const taken = offsets.take();
    offsets.add(at(1, 7), undefined);
    offsets.restore(taken);
    expect(offsets.take()).toEqual([at(1, 7), at(0, 10)]);
  });
});
