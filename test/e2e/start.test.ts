import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
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

describe("starting the server process", () => {
  it("with no variables at all: serves /health, or — where mongod cannot be downloaded — exits with one clear line", async () => {
    const PORT = port();
    const { child, output } = startProcess({ PORT });
    // Whichever comes first: the process gives up, or it answers /health (polling stops then).
    const outcome = await eventually(
      async () => {
        if (child.exitCode !== null) return { exited: child.exitCode };
        const health = await fetch(`http://127.0.0.1:${PORT}/health`).catch(() => undefined);
        return health?.ok ? { healthy: true } : undefined;
      },
      { timeoutMs: 90000, intervalMs: 200 },
    );
    if ("exited" in outcome) {
      expect(outcome.exited).toEqual(1);
      const lines = output().err.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^kilat: The embedded MongoDB .* Set MONGO_URL=mongodb:\/\/… or run `npm run infra:up`/,
      );
      expect(output().err).not.toMatch(/\n\s+at /);
    } else {
      child.kill("SIGTERM");
      expect(await exitOf(child)).toEqual(0);
    }
  }, 120000);

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
      const token = signToken({ sub: "owner-start", role: "owner" }, DEFAULT_JWT_SECRET);
      const created = await fetch(`http://127.0.0.1:${PORT}/api/bookings`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          pet_type: "bird",
          pet_name: "Kiwi",
          pickup: { lat: 1, lng: 1 },
          dropoff: { lat: 1.01, lng: 1 },
        }),
      });
      expect(created.status).toEqual(201);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exitOf(child)).toEqual(0);
  }, 90000);
});
