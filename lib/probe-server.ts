import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { PROBE_PORT } from "../config/defaults";
import { HTTP_STATUS } from "./http-status";
import { exposition } from "./metrics";
import { metricsAccess } from "./metrics-exposure";
import { ReadinessProbe, liveness } from "./readiness";
import type { Runtime } from "./runtime";

/** A worker's /health, /ready and /metrics, on its own port. */
export interface ProbeServer {
  port: number;
  /** Stops answering, and closes the readiness probe's clients. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, "application/json; charset=utf-8", JSON.stringify(body));

/** The same answers as the gateway's routes of these three paths (services/api/ops.ts). */
async function answer(
  broker: ServiceBroker,
  runtime: Runtime,
  probe: ReadinessProbe,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = URL.parse(req.url ?? "/", "http://probe");
  if (!url)
    return json(res, HTTP_STATUS.BAD_REQUEST, { error: "BAD_REQUEST", message: "unreadable path" });
  const path = url.pathname;
  if (!["/health", "/ready", "/metrics"].includes(path)) {
    return json(res, HTTP_STATUS.NOT_FOUND, {
      error: "NOT_FOUND",
      message: `${path}: only /health, /ready, /metrics`,
    });
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return json(res, HTTP_STATUS.METHOD_NOT_ALLOWED, {
      error: "METHOD_NOT_ALLOWED",
      message: "GET only",
    });
  }
  if (path === "/health") return json(res, HTTP_STATUS.OK, liveness(broker));
  if (path === "/ready") {
    const readiness = await probe.check({ wholeSystem: url.searchParams.get("all") === "true" });
    const status = readiness.status === "ready" ? HTTP_STATUS.OK : HTTP_STATUS.SERVICE_UNAVAILABLE;
    return json(res, status, readiness);
  }
  const access = metricsAccess(req.headers.authorization, runtime.config);
  if (access === "unauthenticated") {
    res.setHeader("www-authenticate", "Bearer");
    return json(res, HTTP_STATUS.UNAUTHORIZED, {
      error: "UNAUTHORIZED",
      message: "metrics need METRICS_TOKEN or an admin token",
    });
  }
  if (access === "forbidden") {
    return json(res, HTTP_STATUS.FORBIDDEN, { error: "FORBIDDEN", message: "requires role admin" });
  }
  send(res, HTTP_STATUS.OK, "text/plain; version=0.0.4; charset=utf-8", await exposition(broker));
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once("error", failed);
    server.listen(port, "0.0.0.0", () => {
      server.off("error", failed);
      resolve();
    });
  });
}

/**
 * Serves the probes of a process without the gateway: liveness, readiness (503 from the moment it
 * stops) and metrics (METRICS_TOKEN or an admin token, as at the gateway). On the default port,
 * when another process of this machine has it already (several workers started side by side),
 * it takes a free port and says which; a port set in PROBE_PORT is used or the start fails.
 */
export async function startProbeServer(
  broker: ServiceBroker,
  runtime: Runtime,
): Promise<ProbeServer> {
  const probe = new ReadinessProbe(broker, runtime);
  const server = createServer((req, res) => {
    answer(broker, runtime, probe, req, res).catch((error: unknown) => {
      broker.logger.error(`probe ${req.url ?? ""} failed`, error);
      if (!res.headersSent)
        json(res, HTTP_STATUS.INTERNAL_SERVER_ERROR, {
          error: "INTERNAL",
          message: "probe failed",
        });
      else res.destroy();
    });
  });
  // Probes and scrapers keep their connections open; they must not hold the exit up.
  server.keepAliveTimeout = 5000;
  const wanted = runtime.config.probePort;
  try {
    await listen(server, wanted ?? PROBE_PORT);
  } catch (error) {
    if (wanted !== undefined || (error as NodeJS.ErrnoException).code !== "EADDRINUSE") {
      throw error;
    }
    await listen(server, 0);
    broker.logger.warn(`probes: port ${PROBE_PORT} is taken, set PROBE_PORT to choose one`);
  }
  const { port } = server.address() as AddressInfo;
  broker.logger.info(`probes: /health, /ready and /metrics on port ${port}`);
  return {
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await probe.close();
    },
  };
}
