/**
 * A task run every `everyMs`: the next run is timed from the end of the last, so two never
 * overlap; a failed run is reported and the next one goes ahead; `stop` waits for the run in
 * progress. The one loop behind every sweep (outbox relays, dispatch, auto-confirm, checkpoints,
 * webhook deliveries).
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly everyMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The first run comes after `firstInMs` (default: one period). */
  start(firstInMs = this.everyMs): void {
    this.stopped = false;
    this.schedule(firstInMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.run()
        .then(() => undefined, this.onError)
        .finally(() => this.schedule(this.everyMs));
    }, delay);
    this.timer.unref();
  }
}
