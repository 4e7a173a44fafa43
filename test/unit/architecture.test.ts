import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { MOVES } from "../../domain/booking";

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

/** Every project file a file imports (static, dynamic, type-only and require() alike). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import|require)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map(
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

/** Source lines that are code, not comments. */
const codeOf = (file: string) =>
  readFileSync(join(ROOT, file), "utf8")
    .split("\n")
    .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line));

describe("what a reader meets (README, Architecture)", () => {
  it("keeps every service file under 300 lines", () => {
    const long = files
      .filter((file) => layer(file) === "services")
      .map((file) => [file, readFileSync(join(ROOT, file), "utf8").split("\n").length] as const)
      .filter(([, lines]) => lines > 300);
    expect(long).toEqual([]);
  });

  it("defeats the types in at most 8 places (`as unknown as`, `as never`)", () => {
    const casts = files.flatMap((file) =>
      codeOf(file)
        .filter((line) => /\bas (unknown as|never)\b/.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    );
    expect(casts.length).toBeLessThanOrEqual(8);
  });

  it("writes a booking move's name in at most 3 source files", () => {
    const names = Object.keys(MOVES);
    const spread = names
      .map((name) => {
        const literal = new RegExp(`["'\`]${name}["'\`]`);
        const where = files.filter(
          (file) =>
            (file === "domain/booking.ts" ||
              importsOf(join(ROOT, file)).includes("domain/booking.ts")) &&
            codeOf(file).some((line) => literal.test(line)),
        );
        return [name, where] as const;
      })
      .filter(([, where]) => where.length > 3);
    expect(spread).toEqual([]);
  });

  it("declares every broadcast in contracts/broadcasts.ts", () => {
    const declared =
      readFileSync(join(ROOT, "contracts/broadcasts.ts"), "utf8") +
      readFileSync(join(ROOT, "contracts/live.ts"), "utf8");
    const sent = files.flatMap((file) =>
      [
        ...codeOf(file)
          .join("\n")
          .matchAll(/broadcast\((?:[^()"]*,\s*)?"([\w.]+)"/g),
      ].map((match) => match[1]),
    );
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((name) => !declared.includes(`"${name}":`))).toEqual([]);
  });

  it("lists at most 8 files that 'a runner accepts' passes through, each of them real", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.split("A runner accepts, from the route to the owner's socket:")[1];
    expect(section).toBeDefined();
    const listed = [...section.split("\n\n")[1].matchAll(/^\d+\. `([^`]+)`/gm)].map((m) => m[1]);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.length).toBeLessThanOrEqual(8);
    for (const file of listed) expect(files).toContain(file);
  });
});
