import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layers, as imports: config ← events ← domain ← contracts ← adapters ← lib ← models ←
 * mixins ← services,
 * with no cycle anywhere and no service importing another (they call actions and react to
 * events). Read from the sources, so a new import that breaks a rule fails here.
 */
const ROOT = resolve(__dirname, "..", "..");
const SOURCES = [
  "adapters",
  "config",
  "contracts",
  "domain",
  "events",
  "lib",
  "mixins",
  "models",
  "services",
  "scripts",
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Every project file a file imports (static, dynamic and type-only imports alike). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map(
    (m) => m[1],
  );
  return specifiers.map((specifier) => {
    const base = resolve(dirname(file), specifier);
    for (const candidate of [`${base}.ts`, join(base, "index.ts")]) {
      try {
        if (statSync(candidate).isFile()) return relative(ROOT, candidate);
      } catch {
        // not this one
      }
    }
    throw new Error(`${relative(ROOT, file)}: cannot resolve ${specifier}`);
  });
}

const files = [
  ...SOURCES.flatMap((dir) => sourceFiles(join(ROOT, dir))),
  join(ROOT, "server.ts"),
  join(ROOT, "moleculer.config.ts"),
].map((file) => relative(ROOT, file));
const graph = new Map(files.map((file) => [file, importsOf(join(ROOT, file))]));
const layer = (file: string) => file.split("/")[0];

describe("architecture", () => {
  it("has no import cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
        return;
      }
      state.set(file, "visiting");
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it.each([
    ["config", ["config"]],
    ["events", ["config", "events"]],
    ["domain", ["config", "events", "domain"]],
    ["contracts", ["config", "events", "domain", "contracts"]],
    ["adapters", ["config", "events", "domain", "contracts", "adapters"]],
    ["lib", ["config", "events", "domain", "contracts", "adapters", "lib"]],
    ["models", ["config", "events", "domain", "contracts", "adapters", "lib", "models"]],
    ["mixins", ["config", "events", "domain", "contracts", "adapters", "lib", "models", "mixins"]],
  ])("keeps %s to the layers below it", (from, allowed) => {
    const breaking = [...graph]
      .filter(([file]) => layer(file) === from)
      .flatMap(([file, imports]) =>
        imports
          .filter((target) => !allowed.includes(layer(target)))
          .map((target) => `${file} → ${target}`),
      );
    expect(breaking).toEqual([]);
  });

  it("lets no service import another; only services/index.ts puts them together", () => {
    const serviceOf = (file: string) => file.split("/")[1];
    const breaking = [...graph]
      .filter(([file]) => layer(file) === "services" && file !== "services/index.ts")
      .flatMap(([file, imports]) =>
        imports
          .filter((target) => layer(target) === "services" && serviceOf(target) !== serviceOf(file))
          .map((target) => `${file} → ${target}`),
      );
    expect(breaking).toEqual([]);
  });
});
