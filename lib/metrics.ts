import type { IncomingMessage, Server, ServerResponse } from "node:http";
import {
  MetricReporters,
  MetricTypes,
  type MetricRegistry,
  type Middleware,
  type ServiceBroker,
} from "moleculer";
import { processExposition, publicExposition } from "./metrics-exposure";

type Registry = InstanceType<typeof MetricRegistry>;

/**
 * Moleculer's Prometheus reporter without its own HTTP server: each process serves the text on a
 * port it already has (the gateway's PORT, a worker's PROBE_PORT; see exposition()).
 */
export class PrometheusTextReporter extends MetricReporters.Prometheus {
  /** Set by Moleculer's reporter at init and read by its text writer; its typings omit it. */
  declare defaultLabels: Record<string, unknown> | undefined;

  /** The base reporter's init only: the Prometheus one would open its own server. */
  init(registry: Registry): void {
    MetricReporters.Base.prototype.init.call(this, registry);
    const labels = this.opts.defaultLabels;
    this.defaultLabels = typeof labels === "function" ? labels.call(this, registry) : labels;
  }

  async stop(): Promise<void> {}

  /**
   * Moleculer writes a histogram without quantiles with no `_sum` and `_count`, and its buckets
   * out of order: such families are written again here as the text format has them.
   */
  text(): string {
    const rewritten = new Map<string, string>();
    for (const metric of this.registry.store.values()) {
      if (!(metric instanceof MetricTypes.Histogram) || !this.matchMetricName(metric.name)) {
        continue;
      }
      // Moleculer's typings declare `quantiles` always set; it is absent on a plain histogram.
      const quantiles: number[] | undefined = metric.quantiles;
      if (quantiles) continue;
      const name = this.formatMetricName(metric.name).replace(/[.-]/g, "_");
      const bounds = [...(metric.buckets ?? [])].sort((a, b) => a - b);
      const lines = [
        `# HELP ${name} ${metric.description ?? metric.name}`,
        `# TYPE ${name} histogram`,
      ];
      for (const item of metric.snapshot()) {
        for (const bound of bounds) {
          const le = { le: String(bound) };
          lines.push(
            `${name}_bucket${this.labelsToStr(item.labels, le)} ${item.buckets?.[bound] ?? 0}`,
          );
        }
        lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le: "+Inf" })} ${item.count}`);
        lines.push(`${name}_sum${this.labelsToStr(item.labels)} ${item.sum}`);
        lines.push(`${name}_count${this.labelsToStr(item.labels)} ${item.count}`);
      }
      rewritten.set(name, lines.join("\n"));
    }
    return this.generatePrometheusResponse()
      .split("\n\n")
      .map((family) => {
        const name = /^# TYPE (\S+) histogram$/m.exec(family)?.[1];
        return (name && rewritten.get(name)) ?? family;
      })
      .join("\n\n");
  }
}

/**
 * Gives a broker its PrometheusTextReporter as the broker is created. Moleculer's options typing
 * takes reporters by name only, so the instance joins the registry's list here.
 */
export const PrometheusTextMetrics: Middleware = {
  name: "PrometheusTextMetrics",
  created(broker) {
    const reporter = new PrometheusTextReporter({});
    reporter.init(broker.metrics);
    // Moleculer's typings declare the list; it is absent when no reporter was named in the options.
    const reporters: MetricReporters.Base[] | undefined = broker.metrics.reporter;
    broker.metrics.reporter = [...(reporters ?? []), reporter];
  },
};

/**
 * Seconds, from a fast local step (a GPS batch handled in a millisecond) to a call that ran into
 * the 10 s request timeout.
 */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type MetricDefinition = MetricRegistry.GaugeMetricOptions | MetricRegistry.HistogramMetricOptions;

/**
 * The operators' metrics, each registered on first use. Names follow Prometheus' conventions once
 * Moleculer has turned the dots into underscores: base units in the name, `_total` on counters.
 */
const OPERATOR_METRICS = {
  consumerLag: {
    type: "gauge",
    name: "kilat.consumer.lag",
    labelNames: ["group", "topic", "partition"],
    description: "Records a consumer group has yet to handle, per partition of its topic",
  },
  outboxOldestAge: {
    type: "gauge",
    name: "kilat.outbox.oldest.age.seconds",
    labelNames: ["service"],
    description: "Age of the oldest outbox entry the service's relay knows to be unpublished",
  },
  deadLetters: {
    type: "gauge",
    name: "kilat.dead.letters",
    labelNames: ["topic"],
    description: "Records in the topic's dead-letter twin (<topic>.dlq), replayed ones included",
  },
  httpDuration: {
    type: "histogram",
    name: "kilat.http.request.duration.seconds",
    labelNames: ["route", "method", "status"],
    buckets: DURATION_BUCKETS,
    description: "HTTP requests the gateway answered, by route pattern, method and status",
  },
  eventDuration: {
    type: "histogram",
    name: "kilat.event.handling.duration.seconds",
    labelNames: ["group", "type"],
    buckets: DURATION_BUCKETS,
    description: "Time a consumer group spent handling one event (a batch's time is shared out)",
  },
  stripeReachable: {
    type: "gauge",
    name: "kilat.stripe.reachable",
    description: "1 when Stripe answered the payment process's last check, else 0",
  },
} satisfies Record<string, MetricDefinition>;

export type OperatorMetric = keyof typeof OPERATOR_METRICS;

/** The metric's registered name, registering it first if this broker has not yet. */
export function operatorMetric(metrics: Registry, metric: OperatorMetric): string {
  const definition: MetricDefinition = OPERATOR_METRICS[metric];
  if (!metrics.hasMetric(definition.name)) {
    // One call per member of the union: register's overloads take one type each.
    if (definition.type === "gauge") metrics.register(definition);
    else metrics.register(definition);
  }
  return definition.name;
}

/** Brings gauges up to date before a scrape; errors are the collector's to report. */
export type Collector = () => Promise<void>;

interface Collection {
  collectors: Map<string, Collector>;
  refreshed: number;
  running?: Promise<void>;
}

const collections = new WeakMap<ServiceBroker, Collection>();

/**
 * Scrapes closer together than this share one refresh: several Prometheus servers (or a dashboard
 * and a curl) cost Kafka and the database no more than one.
 */
const REFRESH_EVERY_MS = 1000;
/** A collector that has not answered by then leaves its gauges as they were. */
const COLLECT_TIMEOUT_MS = 2000;

function collectionOf(broker: ServiceBroker): Collection {
  let collection = collections.get(broker);
  if (!collection) {
    collection = { collectors: new Map(), refreshed: 0 };
    collections.set(broker, collection);
  }
  return collection;
}

/** Adds (or replaces) a named collector; the returned function removes it. */
export function addCollector(broker: ServiceBroker, name: string, collect: Collector): () => void {
  const { collectors } = collectionOf(broker);
  collectors.set(name, collect);
  return () => {
    if (collectors.get(name) === collect) collectors.delete(name);
  };
}

async function refresh(broker: ServiceBroker): Promise<void> {
  const collection = collectionOf(broker);
  if (collection.running) return collection.running;
  if (Date.now() - collection.refreshed < REFRESH_EVERY_MS) return;
  const run = Promise.all(
    [...collection.collectors].map(([name, collect]) =>
      Promise.race([
        collect(),
        new Promise<void>((_, reject) =>
          setTimeout(() => reject(new Error("no answer in time")), COLLECT_TIMEOUT_MS).unref(),
        ),
      ]).catch((error: unknown) =>
        broker.logger.warn(`metrics: ${name} not refreshed: ${(error as Error).message}`),
      ),
    ),
  ).then(() => {
    collection.refreshed = Date.now();
  });
  collection.running = run.finally(() => {
    collection.running = undefined;
  });
  return collection.running;
}

/** What /metrics answers: the process's metrics, fresh, without what describes the host. */
export async function exposition(broker: ServiceBroker): Promise<string> {
  await refresh(broker);
  // Moleculer's typings declare the list; it is absent when metrics are off.
  const reporters: readonly unknown[] | undefined = broker.metrics.reporter;
  const prometheus = (reporters ?? []).find(
    (reporter): reporter is PrometheusTextReporter => reporter instanceof PrometheusTextReporter,
  );
  const text = prometheus ? publicExposition(prometheus.text()) : "";
  return `${text.endsWith("\n") || text === "" ? text : `${text}\n`}${processExposition()}`;
}

interface RoutedRequest extends IncomingMessage {
  /** Set by moleculer-web on the alias a request matched. */
  $alias?: { fullPath?: string };
}

/**
 * Times every answer of an HTTP server into the request histogram. The route is the alias'
 * pattern (`/api/bookings/:id`), never the path itself, so the series stay few.
 */
export function measureRequests(server: Server, metrics: Registry): void {
  const name = operatorMetric(metrics, "httpDuration");
  server.on("request", (req: RoutedRequest, res: ServerResponse) => {
    const started = performance.now();
    res.once("finish", () => {
      metrics.observe(name, (performance.now() - started) / 1000, {
        route: req.$alias?.fullPath ?? "unmatched",
        method: req.method ?? "",
        status: String(res.statusCode),
      });
    });
  });
}
