import { timingSafeEqual } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { AuthError, bearerToken, tokenPolicy, verifyToken } from "./auth";
import type { Config } from "./config";

/**
 * What /metrics shows. Moleculer's common metrics describe the host: addresses, MAC, hostname,
 * the OS user and home directory, the process's arguments. Only families named here are shown:
 * a metric Moleculer adds in a later version stays hidden until someone decides it may be seen.
 */
const SHOWN = [
  /^process_memory_/,
  /^process_uptime$/,
  /^process_internal_active_handles$/,
  /^process_cpu_/,
  /^process_eventloop_/,
  /^moleculer_(?!node_versions_)/,
  /^kilat_/,
];

/**
 * Moleculer's families that break Prometheus' naming: times in milliseconds (`moleculer_request_time`
 * for every action call, `moleculer_event_received_time` for every Moleculer event, the transit's
 * ping times, the cacher's and discoverer's timings) and counters without `_total`. A request's
 * time is `kilat_http_request_duration_seconds`, a consumed event's
 * `kilat_event_handling_duration_seconds`, and a call between services a span when tracing is on.
 */
const MISNAMED = [
  /^moleculer_\w+_time(_[a-z]+)?$/,
  /^moleculer_transit_pong_systime_diff$/,
  /^moleculer_request_levels$/,
  /^moleculer_transporter_packets_(sent|received)_bytes$/,
];

const shown = (name: string) =>
  SHOWN.some((pattern) => pattern.test(name)) && !MISNAMED.some((pattern) => pattern.test(name));

/** The Prometheus text without the families it may not show. */
export function publicExposition(text: string): string {
  return text
    .split("\n")
    .filter((line) => {
      const name = line.startsWith("#") ? line.split(" ")[2] : /^[A-Za-z_:][\w:]*/.exec(line)?.[0];
      return name === undefined || shown(name);
    })
    .join("\n");
}

const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

/** The process's own CPU time and event-loop delay, which Moleculer does not report. */
export function processExposition(): string {
  const cpu = process.cpuUsage();
  const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
  return [
    "# HELP process_cpu_user_seconds_total CPU time spent in user mode",
    "# TYPE process_cpu_user_seconds_total counter",
    `process_cpu_user_seconds_total ${cpu.user / 1e6}`,
    "# HELP process_cpu_system_seconds_total CPU time spent in the kernel",
    "# TYPE process_cpu_system_seconds_total counter",
    `process_cpu_system_seconds_total ${cpu.system / 1e6}`,
    "# HELP process_eventloop_delay_seconds Event-loop delay since the process started",
    "# TYPE process_eventloop_delay_seconds gauge",
    `process_eventloop_delay_seconds{stat="mean"} ${seconds(loopDelay.mean)}`,
    `process_eventloop_delay_seconds{stat="p99"} ${seconds(loopDelay.percentile(99))}`,
    `process_eventloop_delay_seconds{stat="max"} ${seconds(loopDelay.max)}`,
    "",
  ].join("\n");
}

/** Whether a bearer token is the configured metrics token (in constant time). */
export function isMetricsToken(token: string, expected: string | undefined): boolean {
  if (!expected) return false;
  const given = Buffer.from(token);
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Who may read /metrics: `allowed`, or why not (no valid token: 401; not an admin: 403). */
export type MetricsAccess = "allowed" | "unauthenticated" | "forbidden";

/** The access rule of every process's /metrics: METRICS_TOKEN, or an admin's token. */
export function metricsAccess(authorization: string | undefined, config: Config): MetricsAccess {
  const token = bearerToken(authorization);
  if (token && isMetricsToken(token, config.metricsToken)) return "allowed";
  try {
    return verifyToken(token, tokenPolicy(config)).role === "admin" ? "allowed" : "forbidden";
  } catch (error) {
    if (error instanceof AuthError) return "unauthenticated";
    throw error;
  }
}
