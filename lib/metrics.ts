import { MetricReporters, type MetricRegistry } from "moleculer";

type Registry = InstanceType<typeof MetricRegistry>;

/**
 * Moleculer's Prometheus reporter without its own HTTP server: the gateway serves the text
 * at GET /metrics instead, so every process exposes metrics on the port it already has.
 */
export class PrometheusTextReporter extends MetricReporters.Prometheus {
  init(registry: Registry): void {
    MetricReporters.Base.prototype.init.call(this, registry);
    const labels = this.opts.defaultLabels;
    (this as unknown as { defaultLabels: unknown }).defaultLabels =
      typeof labels === "function" ? labels.call(this, registry) : labels;
  }

  async stop(): Promise<void> {}

  text(): string {
    return (
      this as unknown as { generatePrometheusResponse(): string }
    ).generatePrometheusResponse();
  }
}
