/**
 * Turns the Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json of the k8s.io/kubernetes
 * module) into the JSON schemas kubeconform reads from a folder, so that the manifests are
 * validated offline (scripts/check-kubernetes.sh). kubeconform's own schemas are downloaded from
 * the internet, which CI cannot reach.
 *
 *   node --import tsx scripts/kubernetes-schemas.ts <swagger.json> <folder>
 *
 * The folder gets `_definitions.json` (every definition) and one small file per kind and version,
 * named as kubeconform looks for it (`deployment-apps-v1.json`, `service-v1.json`), that points
 * into it. Like kubectl's own validation, an object may carry no field its type does not declare
 * (strict); a quantity may be written as a number, an int-or-string field as either.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isGroupVersionKind = (value: Json): value is JsonObject & GroupVersionKind =>
  isObject(value) &&
  typeof value.group === "string" &&
  typeof value.version === "string" &&
  typeof value.kind === "string";

/** One schema node, rewritten for JSON Schema draft 4 as kubeconform compiles it. */
function convert(node: Json): Json {
  if (Array.isArray(node)) return node.map(convert);
  if (!isObject(node)) return node;
  if (node.format === "int-or-string") return { oneOf: [{ type: "string" }, { type: "integer" }] };
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    // Descriptions are most of the document's size and validate nothing.
    if (key === "description" || key.startsWith("x-kubernetes-")) continue;
    if (key === "$ref" && typeof value === "string") {
      out.$ref = value.replace(/^#\/definitions\//, "_definitions.json#/definitions/");
    } else if (key === "properties" && isObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, schema]) => [name, convert(schema)]),
      );
    } else {
      out[key] = convert(value);
    }
  }
  // An unknown field is a typo that the API server would drop without a word: refuse it.
  const preservesUnknown = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (isObject(out.properties) && !("additionalProperties" in out) && !preservesUnknown) {
    out.additionalProperties = false;
  }
  return out;
}

/** kubeconform's file name for a kind: see its registry's schemaPath (KindSuffix). */
function fileName({ group, version, kind }: GroupVersionKind): string {
  const groupPart = group === "" ? "" : `-${group.split(".")[0].toLowerCase()}`;
  return `${kind.toLowerCase()}${groupPart}-${version.toLowerCase()}.json`;
}

function main(): void {
  const [swaggerPath, outDir] = process.argv.slice(2);
  if (!swaggerPath || !outDir) {
    console.error("usage: kubernetes-schemas.ts <swagger.json> <folder>");
    process.exit(2);
  }
  const swagger = JSON.parse(readFileSync(swaggerPath, "utf8")) as { definitions?: JsonObject };
  const definitions = swagger.definitions;
  if (!isObject(definitions)) throw new Error(`${swaggerPath}: no definitions`);

  const converted: JsonObject = {};
  for (const [name, schema] of Object.entries(definitions)) {
    converted[name] =
      name === QUANTITY ? { oneOf: [{ type: "string" }, { type: "number" }] } : convert(schema);
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "_definitions.json"), JSON.stringify({ definitions: converted }));

  const written = new Set<string>();
  for (const [name, schema] of Object.entries(definitions)) {
    const kinds = isObject(schema) ? schema["x-kubernetes-group-version-kind"] : undefined;
    if (!Array.isArray(kinds)) continue;
    for (const gvk of kinds.filter(isGroupVersionKind)) {
      const file = fileName(gvk);
      // The same kind appears under meta/v1 helpers (WatchEvent, DeleteOptions) too: first wins.
      if (written.has(file)) continue;
      written.add(file);
      const ref = { $ref: `_definitions.json#/definitions/${name}` };
      writeFileSync(join(outDir, file), JSON.stringify(ref));
    }
  }
  console.log(`[kubernetes] ${written.size} schemas from ${swaggerPath}`);
}

main();
