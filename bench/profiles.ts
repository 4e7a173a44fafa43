/**
 * `npm run bench -- profiles <dir> [--top 10]`: the top self-time functions of every V8 CPU
 * profile in a folder — what `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=<dir>"` wrote for each
 * server process of a bench run: each main thread's profile, named by what the process hosted
 * (`processes.tsv`, which the bench writes beside them).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** Where a function lives, short: the package, Node's own code, or the project's file and line. */
function place({ url, lineNumber }: ProfileNode["callFrame"]): string {
  if (!url) return "(native)";
  if (url.startsWith("node:")) return "(node)";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0)
    return url
      .slice(modules + "node_modules/".length)
      .split("/")
      .slice(0, 2)
      .join("/");
  const file = url
    .replace(/^file:\/\//, "")
    .split("/")
    .slice(-2)
    .join("/");
  return `${file}:${lineNumber + 1}`;
}

/** Self time per function (ms), most first. */
export function selfTimes(profile: Profile): { name: string; ms: number; share: number }[] {
  const interval =
    (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  let all = 0;
  for (const id of profile.samples) {
    const node = byNode.get(id);
    if (!node) continue;
    const { functionName } = node.callFrame;
    if (functionName === "(idle)" || functionName === "(program)") continue;
    const name = `${functionName || "(anonymous)"} ${place(node.callFrame)}`;
    totals.set(name, (totals.get(name) ?? 0) + interval);
    all += interval;
  }
  return [...totals.entries()]
    .map(([name, ms]) => ({ name, ms, share: ms / all }))
    .sort((a, b) => b.ms - a.ms);
}

/** Self time per package (node_modules/<name>), for the project's own files, and native code. */
function byPackage(times: { name: string; ms: number }[]): { name: string; ms: number }[] {
  const totals = new Map<string, number>();
  for (const { name, ms } of times) {
    const where = name.slice(name.lastIndexOf(" ") + 1);
    const pkg = where.includes(":") ? "kilat (project code)" : where.split("/")[0];
    totals.set(pkg, (totals.get(pkg) ?? 0) + ms);
  }
  return [...totals.entries()].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "10" } },
  });
  const dir = positionals[1];
  if (!dir) throw new Error("usage: npm run bench -- profiles <dir> [--top 10]");
  const names = new Map<string, string>();
  try {
    for (const line of readFileSync(join(dir, "processes.tsv"), "utf8").trim().split("\n")) {
      const [pid, label] = line.split("\t");
      names.set(pid, label);
    }
  } catch {
    // profiles of processes the bench did not start: named by file
  }
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main one (the others
  // are tsx's loader, busy only at start).
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".cpuprofile") && name.split(".").at(-3) === "0")
    .sort();
  for (const file of files) {
    const pid = file.split(".").at(-4) ?? "";
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
    const times = selfTimes(profile);
    const busy = times.reduce((sum, t) => sum + t.ms, 0);
    console.log(`\n${names.get(pid) ?? file} (pid ${pid}): ${(busy / 1000).toFixed(1)} s on CPU`);
    const line = (name: string, ms: number) =>
      `  ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(7)} ms  ${name}`;
    console.log("  top functions by self time:");
    for (const { name, ms } of times.slice(0, Number(values.top))) console.log(line(name, ms));
    console.log("  by package:");
    for (const { name, ms } of byPackage(times).slice(0, 8)) console.log(line(name, ms));
  }
}

main();
