/**
 * Collects what callers add during one turn of the event loop (at most `max` at a time) and
 * hands it to `flush` as one batch; each caller gets the result at its own item's index. Under
 * load many items share one call; alone, an item waits only for the end of the current turn.
 */
export class MicroBatcher<I, O> {
  private pending: { item: I; resolve: (result: O) => void; reject: (error: unknown) => void }[] =
    [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly max = 500,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.max) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.run();
        });
      }
    });
  }

  private run() {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    // Through a promise, so a flush that throws at once rejects its batch instead of escaping.
    Promise.resolve(batch.map((entry) => entry.item))
      .then((items) => this.flush(items))
      .then(
        (results) => {
          if (results.length !== batch.length) {
            const error = new Error(`a batch of ${batch.length} got ${results.length} results`);
            for (const entry of batch) entry.reject(error);
            return;
          }
          batch.forEach((entry, index) => entry.resolve(results[index]));
        },
        (error: unknown) => {
          for (const entry of batch) entry.reject(error);
        },
      );
  }
}
