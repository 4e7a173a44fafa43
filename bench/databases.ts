/**
 * The MongoDB-compatible servers a bench can run on besides the FerretDB of `npm run infra:up`:
 * the stand-ins of scripts/stand-ins/, each started by its script (`up <port>` prints its URL)
 * and stopped after the run (`down`).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export const STAND_INS: Record<string, { script: string; port: number }> = {
  "ferretdb-postgres": { script: "ferretdb-postgres.sh", port: 27032 },
  "mongo-java-server": { script: "mongo-java-server.sh", port: 27031 },
};

const script = (name: string, ...args: string[]) =>
  execFileSync(
    "bash",
    [join(__dirname, "..", "scripts", "stand-ins", STAND_INS[name].script), ...args],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    },
  ).trim();

/** Starts a stand-in (if it is not running) and gives its URL. */
export function startStandIn(name: string): string {
  if (!STAND_INS[name])
    throw new Error(`unknown database ${name} (ferretdb, ${Object.keys(STAND_INS).join(", ")})`);
  return script(name, "up", String(STAND_INS[name].port));
}

export function stopStandIn(name: string): void {
  script(name, "down");
}

/**
 * `--database <name>` of any bench: the run's services use that stand-in (MONGO_URL, and
 * BENCH_DATABASE for the per-process CPU table), stopped when the bench exits or is interrupted. FerretDB on
 * PostgreSQL applies an update as a read and a separate write, as on SQLite, so its services
 * keep one connection each (`maxPoolSize=1`); mongo-java-server applies each update atomically.
 */
export function useDatabase(name: string): void {
  if (name === "ferretdb") return;
  const url = startStandIn(name);
  process.env.MONGO_URL = name === "ferretdb-postgres" ? `${url}?maxPoolSize=1` : url;
  process.env.BENCH_DATABASE = name;
  process.on("exit", () => stopStandIn(name));
  // Ctrl-C ends the bench through `exit`, so the stand-in stops with it.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
}
