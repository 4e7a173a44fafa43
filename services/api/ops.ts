import { z } from "zod";
import { renderAsyncApi } from "../../events/describe";
import { mayOperate } from "../../domain/access";
import { ALL_TOPICS, dlqOf } from "../../events/catalog";
import { actionsOf, callerOf, clientError, notFound } from "../../lib/action";
import {
  deadLetterDepths,
  listDeadLetters,
  replayDeadLetters,
  showDeadLetter,
} from "../../lib/dlq";
import { addCollector, exposition, operatorMetric } from "../../lib/metrics";
import { liveness } from "../../lib/readiness";
import { HTTP_STATUS } from "../../lib/http-status";
import { buildOpenApi, docsPage, type ActionCatalog } from "../../lib/openapi";
import { runtimeOf } from "../../lib/runtime";
import { ACTION_CONTRACTS, type ActionContract } from "../../contracts";
import type { ApiThis } from "./context";
import { ROUTES } from "./routes";

/**
 * The gateway's own actions: liveness and readiness, metrics, the API's documents, and the
 * dead-letter operations the REPL uses (`dlq list|show|replay`; not on the public API).
 */
const action = actionsOf<ApiThis>();

/** Public routes with no input (query strings are ignored). */
const Nothing = { params: z.object({}).passthrough() };

/** A topic of the catalog, or its dead-letter twin. */
const Topic = z.enum([...ALL_TOPICS, ...ALL_TOPICS.map(dlqOf)] as [string, ...string[]]);

/**
 * The gateway's contracts. The dead-letter ones are the REPL's `dlq` commands and the operators'
 * page alike: admins only, checked again in the action (the REPL does not pass the gateway).
 */
export const API_ACTIONS = {
  health: Nothing,
  ready: {
    params: z
      .object({
        /** `true`: also wait for every service of the system (deploy scripts, tests). */
        all: z.enum(["true", "false"]).optional(),
      })
      .passthrough(),
  },
  metrics: Nothing,
  openapi: Nothing,
  docs: Nothing,
  asyncapi: Nothing,
  dlqList: { roles: ["admin"], params: z.object({ topic: Topic.optional() }) },
  dlqShow: {
    roles: ["admin"],
    params: z.object({ topic: Topic, offset: z.string().min(1).max(40) }),
  },
  dlqReplay: {
    roles: ["admin"],
    params: z
      .object({
        topic: Topic,
        offset: z.string().min(1).max(40).optional(),
        all: z.boolean().optional(),
      })
      .refine((p) => p.offset !== undefined || p.all === true, "give an offset, or all: true"),
  },
} satisfies Record<string, ActionContract>;

/** Every action the routes name, with its roles and schema: what the OpenAPI document shows. */
const documented: ActionCatalog = {
  api: { actions: API_ACTIONS },
  ...Object.fromEntries(
    Object.entries(ACTION_CONTRACTS).map(([service, actions]) => [service, { actions }]),
  ),
};

/** Built once, when first asked for. */
function openApi(service: ApiThis) {
  service.openApiDocument ??= buildOpenApi(ROUTES, documented, {
    title: "Kilat",
    version: "0.1.0",
  });
  return service.openApiDocument;
}

/** Liveness: the process answers. */
export const health = action(API_ACTIONS.health, async function () {
  return liveness(this.broker);
});

/** Readiness: what this process needs answers, and it is not stopping (lib/readiness.ts). */
export const ready = action(API_ACTIONS.ready, async function (ctx) {
  const readiness = await this.probe.check({ wholeSystem: ctx.params.all === "true" });
  if (readiness.status !== "ready")
    (ctx.meta as { $statusCode?: number }).$statusCode = HTTP_STATUS.SERVICE_UNAVAILABLE;
  return readiness;
});

/**
 * Dead letters are the whole system's, not one process's: the gateways report them, as they
 * serve the operators' dead-letter pages.
 */
function reportDeadLetters(service: ApiThis): void {
  const { metrics } = service.broker;
  const { bus } = runtimeOf(service.broker);
  const name = operatorMetric(metrics, "deadLetters");
  addCollector(service.broker, "dead-letters", async () => {
    for (const [topic, depth] of Object.entries(await deadLetterDepths(bus))) {
      metrics.set(name, depth, { topic });
    }
  });
}

/**
 * Moleculer's metrics and the operators' ones in Prometheus text format, without what describes
 * the host; readers are admins or METRICS_TOKEN (checked at the gateway: `metricsAccess` in
 * api.service.ts).
 */
export const metrics = action(API_ACTIONS.metrics, async function (ctx) {
  reportDeadLetters(this);
  ctx.meta.$responseType = "text/plain; version=0.0.4; charset=utf-8";
  return exposition(this.broker);
});

/** The OpenAPI 3.1 document, from the routes and the actions' contracts. */
export const openapi = action(API_ACTIONS.openapi, async function () {
  return openApi(this);
});

/** The same, as a readable page. */
export const docs = action(API_ACTIONS.docs, async function (ctx) {
  ctx.meta.$responseType = "text/html; charset=utf-8";
  return docsPage(openApi(this));
});

/** The event catalog as AsyncAPI 3.0 (the same text as docs/asyncapi.yaml). */
export const asyncapi = action(API_ACTIONS.asyncapi, async function (ctx) {
  ctx.meta.$responseType = "application/yaml; charset=utf-8";
  return renderAsyncApi();
});

/** The caller, if an operator; the refusal otherwise. */
function operator(ctx: Parameters<typeof callerOf>[0]) {
  const user = callerOf(ctx);
  if (!mayOperate(user)) throw clientError("FORBIDDEN", "Operators only");
  return user;
}

/** Dead letters of one topic or all. */
export const dlqList = action(API_ACTIONS.dlqList, async function (ctx) {
  operator(ctx);
  return listDeadLetters(runtimeOf(this.broker).bus, ctx.params.topic);
});

/** One dead letter whole. */
export const dlqShow = action(API_ACTIONS.dlqShow, async function (ctx) {
  operator(ctx);
  const letter = await showDeadLetter(
    runtimeOf(this.broker).bus,
    ctx.params.topic,
    ctx.params.offset,
  );
  if (!letter) throw notFound("Dead letter");
  return letter;
});

/** Dead letters back to their original topic. */
export const dlqReplay = action(API_ACTIONS.dlqReplay, async function (ctx) {
  operator(ctx);
  return replayDeadLetters(runtimeOf(this.broker).bus, ctx.params.topic, ctx.params);
});
