/**
 * The shared servers of `npm run infra:up` (Kafka, Redis, FerretDB), found by the pid files
 * scripts/lib/daemons.sh writes, killed with SIGKILL and brought back with `infra.sh up`, which
 * starts only what is not running. Only the suite's `--infra` rounds use this.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "../../bench/support";
import { ROOT } from "./cluster";

export const INFRA_SERVERS = ["kafka", "redis", "ferretdb"] as const;
export type InfraServer = (typeof INFRA_SERVERS)[number];

const RUN_DIR = join(process.env.KILAT_INFRA_DIR ?? join(ROOT, ".infra"), "run");

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The server's pid as `pid_of` in daemons.sh finds it: the pid file's pid, alive, its command
 * line still holding the marker written beside it (after a reboot a pid may be another's).
 */
export function infraPid(name: InfraServer): number {
  const file = join(RUN_DIR, `${name}.pid`);
  let pid: number;
  let marker: string;
  try {
    const [first, ...rest] = readFileSync(file, "utf8").trim().split(" ");
    pid = Number(first);
    marker = rest.join(" ");
  } catch {
    throw new Error(`${name}: no pid file ${file} (was it started by npm run infra:up?)`);
  }
  const command = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      return undefined;
    }
  })();
  if (!Number.isInteger(pid) || command === undefined || (marker && !command.includes(marker)))
    throw new Error(`${name}: pid file ${file} names no running ${name}`);
  return pid;
}

/** kill -9 of the server; resolves once the process is gone. */
export async function killInfra(name: InfraServer): Promise<number> {
  const pid = infraPid(name);
  process.kill(pid, "SIGKILL");
  while (alive(pid)) await sleep(50);
  return pid;
}

/** `bash scripts/infra.sh up`, logged to `logFile`; rejects on failure or after `timeoutMs`. */
export function infraUp(logFile: string, timeoutMs = 180_000): Promise<void> {
  const log = openSync(logFile, "a");
  const child = spawn("bash", [join(ROOT, "scripts", "infra.sh"), "up"], {
    cwd: ROOT,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`infra.sh up took more than ${timeoutMs} ms (see ${logFile})`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`infra.sh up exited with ${code} (see ${logFile})`));
    });
  });
}
