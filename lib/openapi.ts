import { z } from "zod";
import type { Role } from "./auth";
import { HTTP_STATUS } from "./http-status";
import { schemaOf } from "./zod-validator";

/** A moleculer-web route as the gateway declares it (the parts the document needs). */
export interface RouteSpec {
  path?: string;
  authentication?: boolean | string;
  aliases?: Record<string, unknown>;
}

/** One documented operation: what an app calls, and which action answers it. */
export interface Operation {
  method: string;
  path: string;
  action: string;
  roles: readonly Role[] | null;
  authenticated: boolean;
}

type JsonSchema = Record<string, unknown>;

/** A path or query parameter of an operation. */
interface Parameter {
  name: string;
  in: "path" | "query";
  required: boolean;
  schema: JsonSchema;
}

/** A route's own handler (not an action), carrying its OpenAPI operation. */
export interface Documented {
  openapi: JsonSchema;
}

/** Attaches an operation to a handler, for the document to show. */
export const documented = <F extends object>(operation: JsonSchema, handler: F): F & Documented =>
  Object.assign(handler, { openapi: operation });

const ERROR_SCHEMA: JsonSchema = {
  type: "object",
  required: ["name", "message", "code", "type"],
  properties: {
    name: { type: "string" },
    message: { type: "string" },
    code: { type: "integer" },
    type: { type: ["string", "null"] },
    data: { description: "For 422: [{field, message, type}] per offending field" },
  },
};

const ERRORS: Record<number, string> = {
  [HTTP_STATUS.BAD_REQUEST]: "Malformed JSON",
  [HTTP_STATUS.UNAUTHORIZED]: "Missing, forged or expired token",
  [HTTP_STATUS.FORBIDDEN]: "Wrong role, or not your booking's move",
  [HTTP_STATUS.NOT_FOUND]: "Not found, or not yours",
  [HTTP_STATUS.CONFLICT]: "Illegal transition or lost race",
  [HTTP_STATUS.PAYLOAD_TOO_LARGE]: "Body too large",
  [HTTP_STATUS.UNPROCESSABLE_ENTITY]: "Invalid input; `data` names each field",
  [HTTP_STATUS.TOO_MANY_REQUESTS]: "Rate limited",
};

/** What every action may answer besides its own outcome. */
const ACTION_ERRORS = [
  HTTP_STATUS.NOT_FOUND,
  HTTP_STATUS.CONFLICT,
  HTTP_STATUS.UNPROCESSABLE_ENTITY,
  HTTP_STATUS.TOO_MANY_REQUESTS,
];

/** `bookings/:id/accept` under `/api` → `/api/bookings/{id}/accept` and its path parameters. */
function openApiPath(prefix: string, path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const joined = `${prefix.replace(/\/$/, "")}/${path}`
    .replace(/\/+/g, "/")
    .replace(/(.)\/$/, "$1");
  const converted = joined.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted, params };
}

/**
 * What the document reads of each service: its actions' roles and params — service schemas, or
 * the contracts (contracts/) they are made from.
 */
export type ActionCatalog = Record<string, { actions?: Record<string, unknown> }>;

/** Every alias of every route that names an action ("GET bookings": "booking.list"). */
export function operationsOf(routes: readonly RouteSpec[], services: ActionCatalog) {
  const operations: Operation[] = [];
  for (const route of routes) {
    for (const [alias, target] of Object.entries(route.aliases ?? {})) {
      // A chain (an upload's body reader, then its action) is routed to its action; any other
      // custom handler documents itself.
      const routed = Array.isArray(target)
        ? target.find((part): part is string => typeof part === "string")
        : target;
      if (typeof routed !== "string") continue;
      const [method, path] = alias.split(/\s+/);
      const [service, action] = routed.split(".");
      const definition = services[service]?.actions?.[action] as { roles?: Role[] } | undefined;
      operations.push({
        method: method.toLowerCase(),
        path: openApiPath(route.path ?? "/", path).path,
        action: routed,
        roles: definition?.roles ?? null,
        authenticated: Boolean(route.authentication),
      });
    }
  }
  return operations;
}

function inputSchema(schema: z.ZodType | undefined): JsonSchema {
  if (!schema) return { type: "object" };
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  delete json.$schema;
  return json;
}

/**
 * The OpenAPI 3.1 document of the public API, from the gateway's routes and the zod schemas the
 * actions validate with — one source, so the document cannot drift from what is enforced.
 */
export function buildOpenApi(
  routes: readonly RouteSpec[],
  services: ActionCatalog,
  info: { title: string; version: string },
): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    for (const [alias, target] of Object.entries(route.aliases ?? {})) {
      const [method, rawPath] = alias.split(/\s+/);
      const { path, params } = openApiPath(route.path ?? "/", rawPath);
      const verb = method.toLowerCase();
      paths[path] ??= {};
      if (typeof target !== "string") {
        paths[path][verb] = (target as Partial<Documented>).openapi ?? {
          summary: "custom handler",
        };
        continue;
      }
      const [service, action] = target.split(".");
      const definition = services[service]?.actions?.[action] as
        { roles?: Role[]; params?: unknown } | undefined;
      const schema = inputSchema(schemaOf(definition?.params));
      const properties = { ...((schema.properties as Record<string, JsonSchema>) ?? {}) };
      const required = ((schema.required as string[]) ?? []).filter((n) => !params.includes(n));
      for (const name of params) delete properties[name];
      const parameters: Parameter[] = params.map((name) => ({
        name,
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
      const operation: Record<string, unknown> = {
        operationId: target,
        summary: `${target}${definition?.roles ? ` — ${definition.roles.join(", ")}` : ""}`,
        "x-roles": definition?.roles ?? [],
        parameters,
        responses: {
          [HTTP_STATUS.OK]: { description: "OK", content: { "application/json": { schema: {} } } },
          ...(route.authentication
            ? {
                [HTTP_STATUS.UNAUTHORIZED]: errorResponse(HTTP_STATUS.UNAUTHORIZED),
                [HTTP_STATUS.FORBIDDEN]: errorResponse(HTTP_STATUS.FORBIDDEN),
              }
            : {}),
          ...Object.fromEntries(ACTION_ERRORS.map((status) => [status, errorResponse(status)])),
        },
        ...(route.authentication ? { security: [{ bearerAuth: [] }] } : {}),
      };
      if (verb === "get") {
        parameters.push(
          ...Object.entries(properties).map(([name, property]): Parameter => ({
            name,
            in: "query",
            required: required.includes(name),
            schema: property,
          })),
        );
      } else if (Object.keys(properties).length > 0 || schema.additionalProperties === false) {
        operation.requestBody = {
          required: required.length > 0,
          content: {
            "application/json": {
              schema: {
                ...schema,
                properties,
                ...(required.length > 0 ? { required } : { required: undefined }),
              },
            },
          },
        };
        const responses = operation.responses as Record<number, unknown>;
        responses[HTTP_STATUS.BAD_REQUEST] = errorResponse(HTTP_STATUS.BAD_REQUEST);
        responses[HTTP_STATUS.PAYLOAD_TOO_LARGE] = errorResponse(HTTP_STATUS.PAYLOAD_TOO_LARGE);
      }
      paths[path][verb] = operation;
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      ...info,
      description:
        "Kilat's public API. Errors are {name, message, code, type, data}. Live updates: Socket.IO on the same port (see the README); events: /api/asyncapi.yaml.",
    },
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}

/** An error response of the document (a status as a number, or as the document's key). */
export function errorResponse(status: number | `${number}`) {
  return {
    description: ERRORS[Number(status)],
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
}

/** A readable, self-contained page of the document: no scripts, no CDN. */
export function docsPage(document: JsonSchema): string {
  const escape = (text: string) =>
    text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
  const rows: string[] = [];
  for (const [path, methods] of Object.entries(document.paths as Record<string, object>)) {
    for (const [method, operation] of Object.entries(methods as Record<string, JsonSchema>)) {
      const body = (operation.requestBody as { content?: Record<string, { schema?: unknown }> })
        ?.content?.["application/json"]?.schema;
      const query = ((operation.parameters as { name: string; in: string }[]) ?? [])
        .filter((p) => p.in === "query")
        .map((p) => p.name);
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td>` +
          `<td>${escape(((operation["x-roles"] as string[]) ?? []).join(", ") || "public")}</td>` +
          `<td>${query.length ? `query: <code>${escape(query.join(", "))}</code><br>` : ""}` +
          `${body ? `<pre>${escape(JSON.stringify(body, null, 1))}</pre>` : ""}</td></tr>`,
      );
    }
  }
  const info = document.info as { title: string; version: string; description: string };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(info.title)} API</title>
<style>body{font:14px system-ui;margin:2em}td{vertical-align:top;border-top:1px solid #ddd;padding:4px 8px}pre{margin:0;font-size:12px}</style>
</head><body><h1>${escape(info.title)} ${escape(info.version)}</h1><p>${escape(info.description)}</p>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1) · <a href="/api/asyncapi.yaml">/api/asyncapi.yaml</a> (events)</p>
<table><tr><th>method</th><th>path</th><th>who</th><th>input</th></tr>${rows.join("\n")}</table></body></html>`;
}
