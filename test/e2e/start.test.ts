import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { signToken } from "../../lib/auth";
import { DEFAULT_JWT_SECRET } from "../../lib/config";
import { describeWithInfra, uniqueName } from "../support/infra";
import { eventually } from "../support/wait";

const ROOT = join(__dirname, "..", "..");

/** `npm start`'s process (server.ts) with exactly the variables given. */
function startProcess(env: Record<string, string>): {
  child: ChildProcess;
  output: () => { out: string; err: string };
} {
  const child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  return { child, output: () => ({ out, err }) };
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on("exit", resolve);
  });

const port = () => String(20000 + Math.floor(Math.random() * 20000));

/** An owner's booking request, as an app sends it. */
const book = (PORT: string) =>
  fetch(`http://127.0.0.1:${PORT}/api/bookings`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${signToken({ sub: "owner-start", role: "owner" }, DEFAULT_JWT_SECRET)}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      pet_type: "bird",
      pet_name: "Kiwi",
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.25, lng: 106.85 },
    }),
  });

describe("starting the server process", () => {
  const folders: string[] = [];
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), "kilat-start-"));
    folders.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  });

  it("with no database variables: the embedded database takes a booking, and SIGTERM stops it all", async () => {
    const PORT = port();
    const dataDir = folder();
    const { child, output } = startProcess({ PORT, KILAT_DATA_DIR: dataDir });
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`exited: ${output().err}`);
          return (await fetch(`http://127.0.0.1:${PORT}/ready`)).ok ? true : undefined;
        },
        { timeoutMs: 240_000, intervalMs: 200, what: "/ready" },
      );
      expect((await book(PORT)).status).toEqual(201);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exitOf(child)).toEqual(0);
    const engine = readFileSync(join(dataDir, "engine"), "utf8");
    expect(["mongod\n", "ferretdb\n"]).toContain(engine);
    // FerretDB runs in its own process group; the server stops it and removes its pid file.
    expect(existsSync(join(dataDir, "ferretdb.pid"))).toBe(false);
  }, 300_000);

  it("where neither mongod nor Go can be had: one line naming what to install or set", async () => {
    const empty = folder();
    // PATH without Go (and without any mongod); mongod's download goes nowhere.
    const path = (process.env.PATH ?? "")
      .split(delimiter)
      .filter((dir) => !existsSync(join(dir, "go")) && !existsSync(join(dir, "mongod")))
      .join(delimiter);
    const { child, output } = startProcess({
      PATH: path,
      PORT: port(),
      KILAT_DATA_DIR: join(empty, "data"),
      KILAT_CACHE_DIR: join(empty, "cache"),
      MONGOMS_DOWNLOAD_DIR: join(empty, "mongodb-binaries"),
      MONGOMS_DOWNLOAD_URL: "http://127.0.0.1:9/mongodb.tgz",
    });
    expect(await exitOf(child)).toEqual(1);
    const lines = output().err.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(
        /^kilat: No database for the embedded mode: mongod is not available: .+, and FerretDB cannot be had \(Go is needed to build FerretDB\)\. Install Go \(https:\/\/go\.dev\/dl\/\) to build FerretDB, or MongoDB, or set MONGO_URL=mongodb:\/\/… /,
      ),
    ]);
  }, 60_000);

  it("refuses a bad variable with a message naming it", async () => {
    const { child, output } = startProcess({ PORT: "http" });
    expect(await exitOf(child)).toEqual(1);
    expect(output().err).toMatch(
      /^kilat: Invalid configuration:\n {2}- PORT: expected a TCP port number \(got "http"\)$/m,
    );
  });

  it("in production refuses the default JWT secret", async () => {
    const { child, output } = startProcess({
      NODE_ENV: "production",
      STRIPE_WEBHOOK_SECRET: "whsec_real",
    });
    expect(await exitOf(child)).toEqual(1);
    expect(output().err).toContain(
      "JWT_SECRET: the development default is set; NODE_ENV=production needs a real secret",
    );
  });
});

describeWithInfra(["mongo"], "starting the server process with MONGO_URL", (infra) => {
  it("takes a booking, and stops cleanly on SIGTERM", async () => {
    const PORT = port();
    const { child } = startProcess({
      PORT,
      MONGO_URL: infra.mongo,
      MONGO_DB_PREFIX: uniqueName("start"),
    });
    try {
      await eventually(
        async () => ((await fetch(`http://127.0.0.1:${PORT}/ready`)).ok ? true : undefined),
        {
          timeoutMs: 60000,
        },
      );
      const created = await book(PORT);
      expect(created.status).toEqual(201);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exitOf(child)).toEqual(0);
  }, 90000);
});
