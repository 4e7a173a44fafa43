import type { Role } from "../../lib/auth";
import { buildOpenApi, operationsOf, type RouteSpec } from "../../lib/openapi";
import { schemaOf } from "../../lib/zod-validator";
import { allServiceSchemas } from "../../services";

const SERVICE_SCHEMAS = allServiceSchemas();

const routes = (SERVICE_SCHEMAS.api.settings as { routes?: RouteSpec[] }).routes ?? [];
const document = buildOpenApi(routes, SERVICE_SCHEMAS, { title: "Kilat", version: "test" });
const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
const operations = operationsOf(routes, SERVICE_SCHEMAS);

describe("OpenAPI document", () => {
  it("documents every route of the gateway, each answered by an action with a zod schema", () => {
    expect(operations.length).toBeGreaterThan(25);
    for (const operation of operations) {
      expect(paths[operation.path]?.[operation.method]).toBeDefined();
      const [service, action] = operation.action.split(".");
      const definition = SERVICE_SCHEMAS[service as keyof typeof SERVICE_SCHEMAS]?.actions?.[
        action
      ] as { params?: unknown } | undefined;
      expect([operation.action, schemaOf(definition?.params) !== undefined]).toEqual([
        operation.action,
        true,
      ]);
    }
  });

  it("routes every action that declares roles: none is public-but-undocumented", () => {
    const routed = new Set(operations.map((operation) => operation.action));
    for (const [service, schema] of Object.entries(SERVICE_SCHEMAS)) {
      for (const [name, definition] of Object.entries(schema.actions ?? {})) {
        if ((definition as { roles?: Role[] }).roles)
          expect(routed).toContain(`${service}.${name}`);
      }
    }
  });

  it("puts path parameters in the path, GET inputs in the query and the rest in a JSON body", () => {
    const create = paths["/api/bookings"].post as {
      requestBody: { content: { "application/json": { schema: Record<string, unknown> } } };
      security: unknown;
    };
    const body = create.requestBody.content["application/json"].schema;
    // Either pet_ids or the quick form (pet_type and pet_name): neither is required alone.
    expect(body.required).toEqual(["pickup", "dropoff"]);
    expect((body.properties as Record<string, { enum?: string[] }>).pet_type.enum).toEqual([
      "dog",
      "cat",
      "bird",
      "rabbit",
      "other",
    ]);
    expect(create.security).toEqual([{ bearerAuth: [] }]);

    const list = paths["/api/bookings"].get as { parameters: { name: string; in: string }[] };
    expect(list.parameters.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
      "query:cursor",
      "query:limit",
      "query:status",
    ]);
    const accept = paths["/api/bookings/{id}/accept"].post as {
      parameters: { name: string; in: string }[];
      "x-roles": string[];
      requestBody?: unknown;
    };
    expect(accept.parameters).toEqual([
      expect.objectContaining({ name: "id", in: "path", required: true }),
    ]);
    expect(accept["x-roles"]).toEqual(["runner"]);
    expect(accept.requestBody).toBeUndefined();
    const cancel = paths["/api/bookings/{id}/cancel"].post as {
      requestBody: { content: { "application/json": { schema: Record<string, unknown> } } };
    };
    expect(cancel.requestBody.content["application/json"].schema.required).toEqual(["reason"]);
  });

  it("documents the Stripe webhook, which has no token, and the docs routes themselves", () => {
    expect(paths["/api/webhooks/stripe"].post).toBeDefined();
    expect(paths["/api/webhooks/stripe"].post.security).toBeUndefined();
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining(["/api/openapi.json", "/api/docs", "/api/asyncapi.yaml"]),
    );
    expect(document.openapi).toBe("3.1.0");
  });
});
