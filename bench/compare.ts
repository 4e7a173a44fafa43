/**
 * `npm run bench -- compare --base <git ref> [--rounds 2] [--same-bench] [--head-tracing] <bench> [its options…]`
 *
 * Runs one benchmark on an earlier commit and on the working tree in one sitting, alternating
 * base, head, base, head… so both see the same machine, and prints each figure's median per
 * side and head ÷ base. The base is a detached git worktree in a temporary folder, sharing this
 * checkout's node_modules and servers (`npm run infra:up`). Reads the benches' own report lines
 * (lifecycle and tracking), so it also compares commits from before it existed; `--same-bench`
 * runs the head's bench/ against the base's code (a bench that now drives more requests). And, when the
 * database is FerretDB, the commands each run sent it (its own counters, so the same for both
 * sides), per lifecycle.
 *
 * `--head-tracing` turns OpenTelemetry on for the head's runs only: their processes export every
 * span over OTLP/HTTP to a receiver in this process that counts and drops them (a collector's
 * intake, on the same cores). With `--base HEAD` that is tracing off against tracing on.
 */
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { percentile } from "./support";

const ROOT = join(__dirname, "..");

/** figure name → value, from one run's output. */
type Figures = Map<string, number>;

const LIFECYCLE = /^(\w+): (\d+) lifecycles in [\d.]+ s = ([\d.]+) lifecycles\/s \((\d+) failed\)/;
const STEP = /^ {2}(\w+)\s+([\d.]+)\s+([\d.]+)$/;
/** A route's line (n, p50, p99, max, non-2xx) as the lifecycle bench prints it since it times every request. */
const ROUTE = /^ {2}((?:GET|POST) \S+)\s+\d+\s+([\d.]+|-)\s+([\d.]+|-)\s+([\d.]+|-)\s+\d+$/;
/** The route an older bench's step line timed: a base from before routes compares with a head after. */
const ROUTE_OF_STEP: Record<string, string> = {
  create: "POST /api/bookings",
  pay: "POST /api/bookings/:id/payment",
};
const routeOfStep = (step: string) => ROUTE_OF_STEP[step] ?? `POST /api/bookings/:id/${step}`;
const SAGA = /^ {2}confirm→completed \(saga\)\s+([\d.]+)\s+([\d.]+)$/;
const TRACKING =
  /^(\S+)\s+(\S+(?: \S+)?)\s{2,}[\d.]+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)/;

/** The figures a bench's report lines give (lifecycles/s and step latencies; fixes/s and p50/p99). */
export function figuresOf(output: string): Figures {
  const figures: Figures = new Map();
  let mode = "";
  for (const line of output.split("\n")) {
    const lifecycle = LIFECYCLE.exec(line);
    if (lifecycle) {
      mode = lifecycle[1];
      figures.set(`${mode} lifecycles/s`, Number(lifecycle[3]));
      figures.set(`${mode} failed`, Number(lifecycle[4]));
      figures.set("lifecycles", (figures.get("lifecycles") ?? 0) + Number(lifecycle[2]));
      continue;
    }
    const saga = SAGA.exec(line);
    if (saga && mode) {
      figures.set(`${mode} confirm→completed p50 ms`, Number(saga[1]));
      figures.set(`${mode} confirm→completed p99 ms`, Number(saga[2]));
      continue;
    }
    const step = STEP.exec(line);
    if (step && mode) {
      figures.set(`${mode} ${routeOfStep(step[1])} p50 ms`, Number(step[2]));
      figures.set(`${mode} ${routeOfStep(step[1])} p99 ms`, Number(step[3]));
      continue;
    }
    const route = ROUTE.exec(line);
    if (route && mode) {
      if (route[2] !== "-") figures.set(`${mode} ${route[1]} p50 ms`, Number(route[2]));
      if (route[3] !== "-") figures.set(`${mode} ${route[1]} p99 ms`, Number(route[3]));
      continue;
    }
    const tracking = TRACKING.exec(line);
    if (tracking) {
      const [, target, phase, delivered, p50, p99, lost, duplicated] = tracking;
      figures.set(`${target} ${phase} delivered/s`, Number(delivered));
      figures.set(`${target} ${phase} p50 ms`, Number(p50));
      figures.set(`${target} ${phase} p99 ms`, Number(p99));
      figures.set(`${target} ${phase} lost+dups`, Number(lost) + Number(duplicated));
    }
  }
  return figures;
}

/** FerretDB's count of each command it was sent (its debug endpoint), or none without it. */
async function databaseCommands(): Promise<Map<string, number>> {
  const url = process.env.FERRETDB_METRICS_URL ?? "http://127.0.0.1:27018/debug/metrics";
  const text = await fetch(url).then(
    (r) => (r.ok ? r.text() : ""),
    () => "",
  );
  const counts = new Map<string, number>();
  for (const match of text.matchAll(
    /^ferretdb_client_requests_total\{command="(\w+)",opcode="OP_MSG"\} (\d+)$/gm,
  )) {
    counts.set(match[1], Number(match[2]));
  }
  return counts;
}

/** The commands a run sent the database, per lifecycle it completed (lifecycle bench only). */
function perLifecycle(before: Map<string, number>, after: Map<string, number>, figures: Figures) {
  const lifecycles = [...figures].filter(([name]) => name.endsWith(" lifecycles/s")).length;
  const done = Number([...figures].find(([name]) => name === "lifecycles")?.[1] ?? 0);
  if (lifecycles === 0 || done === 0) return;
  let all = 0;
  for (const [command, count] of after) {
    if (["find", "insert", "update", "findAndModify", "delete"].includes(command)) {
      const sent = count - (before.get(command) ?? 0);
      all += sent;
      figures.set(`db ${command}/lifecycle`, sent / done);
    }
  }
  figures.set("db commands/lifecycle", all / done);
}

/** An OTLP/HTTP intake that counts the spans and requests it is sent, and keeps nothing. */
async function spanSink(): Promise<{ endpoint: string; spans: () => number; close: () => void }> {
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces" && req.headers["content-type"]?.includes("json")) {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
        };
        for (const resource of body.resourceSpans ?? [])
          for (const scope of resource.scopeSpans ?? []) spans += scope.spans?.length ?? 0;
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, spans: () => spans, close: () => server.close() };
}

/** The environment without OpenTelemetry's variables: tracing off. */
const withoutOtel = (env: NodeJS.ProcessEnv) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("OTEL_")));

function runBench(tree: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, "node_modules", ".bin", "tsx"), ["bench/index.ts", ...args], {
      cwd: tree,
      env: { ...env, KILAT_INFRA_DIR: process.env.KILAT_INFRA_DIR ?? join(ROOT, ".infra") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.once("exit", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`bench in ${tree} exited ${code}`)),
    );
  });
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    strict: false,
    options: {
      base: { type: "string" },
      rounds: { type: "string", default: "2" },
      "same-bench": { type: "boolean", default: false },
      "head-tracing": { type: "boolean", default: false },
    },
  });
  const [, ...benchArgs] = positionals; // positionals[0] is "compare"
  const base = typeof values.base === "string" ? values.base : undefined;
  if (!base || benchArgs.length === 0) {
    throw new Error("usage: npm run bench -- compare --base <ref> [--rounds 2] <bench> [options]");
  }
  // The options after the bench's name are the bench's own: pass them on as given.
  const passOn = process.argv.slice(process.argv.indexOf(benchArgs[0]));
  const work = mkdtempSync(join(tmpdir(), "kilat-compare-"));
  const baseTree = join(work, "base");
  execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", baseTree, base], {
    stdio: "ignore",
  });
  symlinkSync(join(ROOT, "node_modules"), join(baseTree, "node_modules"));
  // The head's bench on both sides: the same requests against the base's servers, when the bench
  // itself changed (it then needs nothing of the head's code outside bench/).
  if (values["same-bench"] === true)
    cpSync(join(ROOT, "bench"), join(baseTree, "bench"), { recursive: true });
  const sides = { base: [] as Figures[], head: [] as Figures[] };
  const sink = values["head-tracing"] === true ? await spanSink() : undefined;
  const envOf = {
    base: sink ? withoutOtel(process.env) : process.env,
    head: sink
      ? { ...withoutOtel(process.env), OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint }
      : process.env,
  };
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const [side, tree] of [
        ["base", baseTree],
        ["head", ROOT],
      ] as const) {
        console.log(`\n== round ${round}, ${side} (${side === "base" ? base : "working tree"})`);
        const before = await databaseCommands();
        const spansBefore = sink?.spans() ?? 0;
        const figures = figuresOf(await runBench(tree, passOn, envOf[side]));
        perLifecycle(before, await databaseCommands(), figures);
        const done = figures.get("lifecycles");
        if (sink && side === "head" && done)
          figures.set("spans exported/lifecycle", (sink.spans() - spansBefore) / done);
        sides[side].push(figures);
      }
    }
  } finally {
    sink?.close();
    execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", baseTree], {
      stdio: "ignore",
    });
    rmSync(work, { recursive: true, force: true });
  }
  const median = (runs: Figures[], name: string) =>
    percentile(
      runs.map((run) => run.get(name)).filter((v): v is number => v !== undefined),
      50,
    );
  const headIs = sink ? "working tree with tracing on" : "working tree";
  console.log(`\ncompare: ${base} → ${headIs}, medians of ${values.rounds} rounds each`);
  console.log(`${"figure".padEnd(44)} ${"base".padStart(9)} ${"head".padStart(9)}  head/base`);
  for (const name of sides.head[0]?.keys() ?? []) {
    const [was, is] = [median(sides.base, name), median(sides.head, name)];
    const ratio = was > 0 ? (is / was).toFixed(2) : "-";
    console.log(
      `${name.padEnd(44)} ${was.toFixed(1).padStart(9)} ${is.toFixed(1).padStart(9)}  ${ratio}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  },
);
