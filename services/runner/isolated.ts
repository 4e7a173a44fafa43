import type { RunnerThis } from "./models";

const SKIPPED_METRIC = "kilat.runner.dispatch.skipped.total";

/**
 * One record's step of a sweep (or of a runner coming online): a failure is logged and counted,
 * and the others go on; the record gets its next try at the next sweep. False when it failed.
 */
export async function isolated(
  service: RunnerThis,
  step: "expired_offer" | "orphaned_offer" | "search" | "stale_runner" | "scheduled",
  what: string,
  work: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    service.logger.warn(`Dispatch ${step} of ${what} failed, skipped: ${reason}`);
    const { metrics } = service.broker;
    if (!metrics.getMetric(SKIPPED_METRIC)) {
      metrics.register({
        type: "counter",
        name: SKIPPED_METRIC,
        labelNames: ["step"],
        description: "Dispatch steps (one booking or runner each) that failed and were skipped",
      });
    }
    metrics.increment(SKIPPED_METRIC, { step });
    return false;
  }
}
