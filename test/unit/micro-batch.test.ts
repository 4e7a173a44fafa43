import { MicroBatcher } from "../../lib/micro-batch";

describe("MicroBatcher", () => {
  it("given items added in one turn, flushes them as one batch and answers each in order", async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (items) => {
      batches.push(items);
      return items.map((item) => item * 10);
    });
    const results = await Promise.all([1, 2, 3].map((item) => batcher.add(item)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("given items in separate turns, flushes each turn on its own", async () => {
    const batches: string[][] = [];
    const batcher = new MicroBatcher<string, string>(async (items) => {
      batches.push(items);
      return items;
    });
    await batcher.add("a");
    await batcher.add("b");
    expect(batches).toEqual([["a"], ["b"]]);
  });

  it("given more than max items in one turn, never flushes more than max at once", async () => {
    const sizes: number[] = [];
    const batcher = new MicroBatcher<number, number>(async (items) => {
      sizes.push(items.length);
      return items;
    }, 4);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.add(i)));
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(sizes).toEqual([4, 4, 2]);
  });

  it("given a failing flush, rejects every item of that batch and keeps working", async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>(async (items) => {
      if (fail) throw new Error("down");
      return items;
    });
    const failed = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(failed.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await expect(batcher.add(3)).resolves.toBe(3);
  });

  it("given a flush that throws before returning a promise, rejects its items", async () => {
    const batcher = new MicroBatcher<number, number>(() => {
      throw new Error("at once");
    });
    await expect(batcher.add(1)).rejects.toThrow("at once");
  });

  it("given a flush answering the wrong number of results, rejects rather than mismatching", async () => {
    const batcher = new MicroBatcher<number, number>(async () => [1]);
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"]);
  });
});
