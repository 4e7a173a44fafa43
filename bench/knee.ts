/**
 * `npm run bench -- knee [--mode embedded|distributed] [--rates 5,10,20,40] [--seconds 10]
 *   [--max-in-flight N] [--out bench/knee]`
 *
 * Where Kilat stops keeping up, and what it does beyond: an open-loop load generator. At each
 * offered rate, booking lifecycles start at fixed intervals whatever the backlog, as a city's
 * apps would; each is a fresh owner and runner: create → pay → poll the booking every 100 ms
 * until the escrow is held → runner online → accept → photo → pickup → depart → photo →
 * deliver (with the owner's PIN, from the create's answer) → confirm. The runners of a rate are
 * verified before its window opens (set-up, not offered load). A
 * request answered 503 or 429 is shed, and its lifecycle given up (its app would come back
 * after Retry-After, which would make the offered load depend on the answers). Per rate it prints
 * lifecycles offered and completed per second, requests answered 2xx and shed per second, and
 * p50/p99 of both; then writes the table (`<out>.md`) and a chart of throughput and p99 against
 * the offered rate with the knee marked (`<out>.png`, drawn by the machine's chromium).
 * `--max-in-flight` sets the gateway's API_MAX_IN_FLIGHT (0: no shedding, to see the queueing).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { format, resolveConfig } from "prettier";
import { signToken } from "../lib/auth";
import { DEFAULT_JWT_SECRET } from "../lib/config";
import { readInfraEnv } from "../scripts/infra-env";
import {
  child,
  dropDatabases,
  percentile,
  proofPhoto,
  randomPort,
  runnerToken,
  sleep,
  startDistributed,
  stopChildren,
  until,
  verifyRunners,
} from "./support";

/** One request's answer: when it came (ms on the bench's clock), how long it took, its status. */
interface Answer {
  at: number;
  ms: number;
  /** 0: no answer (a network error or the bench's timeout). */
  status: number;
}

/** What one offered rate gave. */
interface Step {
  offered: number;
  /** Lifecycles started, completed and given up because a request was shed, in the window. */
  started: number;
  completed: number;
  shedLifecycles: number;
  failed: number;
  answers: Answer[];
  /** The window of arrivals, ms on the bench's clock. */
  from: number;
  to: number;
}

const PICKUP = { lat: -6.2, lng: 106.8 };
const DROPOFF = { lat: -6.25, lng: 106.85 };
/** A request not answered in this long counts as no answer: the app gave up. */
const REQUEST_TIMEOUT_MS = 30_000;
const isShed = (status: number) => status === 503 || status === 429;
const ok = (status: number) => status >= 200 && status < 300;

class Shed extends Error {}

/** The runner of lifecycle `id`: a fresh one each. */
const runnerOf = (id: string) => `knee-runner-${id}`;

/** One lifecycle as an app drives it; every request's answer goes to `answers`. */
async function lifecycle(base: string, id: string, answers: Answer[]): Promise<void> {
  const owner = signToken({ sub: `knee-owner-${id}`, role: "owner" }, DEFAULT_JWT_SECRET);
  const runner = runnerToken(runnerOf(id));
  /** A request: a JSON body, or a photo's bytes (an upload). */
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const started = performance.now();
    let status = 0;
    let json: Record<string, unknown> = {};
    try {
      const photo = body instanceof Buffer ? new Uint8Array(body) : undefined;
      const response = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": photo ? "image/jpeg" : "application/json",
        },
        body: photo ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = response.status;
      json = (await response.json()) as Record<string, unknown>;
    } catch {
      // No answer: recorded as status 0.
    }
    const now = performance.now();
    answers.push({ at: now, ms: now - started, status });
    if (isShed(status)) throw new Shed();
    if (!ok(status)) throw new Error(`${method} ${path} → ${status} ${JSON.stringify(json)}`);
    return json;
  };
  const booking = await call(owner, "POST", "/api/bookings", {
    pet_type: "dog",
    pet_name: `Knee ${id}`,
    pickup: PICKUP,
    dropoff: DROPOFF,
  });
  const bookingId = String(booking.booking_id);
  const path = `/api/bookings/${bookingId}`;
  const photo = (stage: "pickup" | "dropoff") =>
    proofPhoto((to, bytes) => call(runner, "POST", to, bytes), bookingId, stage);
  await call(owner, "POST", `${path}/payment`, {});
  const deadline = performance.now() + REQUEST_TIMEOUT_MS;
  while ((await call(owner, "GET", path)).payment_status !== "held") {
    if (performance.now() > deadline) throw new Error("escrow not held in time");
    await sleep(100);
  }
  await call(runner, "POST", "/api/runners/me/online", PICKUP);
  await call(runner, "POST", `${path}/accept`, {});
  await call(runner, "POST", `${path}/pickup`, { photo_id: await photo("pickup") });
  await call(runner, "POST", `${path}/depart`, {});
  // The recipient's PIN, which the owner's app shows from the booking it created.
  const pin = String(booking.handover_pin);
  await call(runner, "POST", `${path}/deliver`, { photo_id: await photo("dropoff"), pin });
  await call(owner, "POST", `${path}/confirm`, {});
}

/** Starts `rate` lifecycles a second for `seconds`, on schedule, and waits for all of them. */
async function offer(base: string, rate: number, seconds: number): Promise<Step> {
  const step: Step = {
    offered: rate,
    started: 0,
    completed: 0,
    shedLifecycles: 0,
    failed: 0,
    answers: [],
    from: performance.now(),
    to: 0,
  };
  const runs: Promise<void>[] = [];
  const total = Math.round(rate * seconds);
  let firstError: string | undefined;
  for (let n = 0; n < total; n++) {
    // Each arrival at its own time from the start: a late one does not push the later ones.
    const due = step.from + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    step.started++;
    runs.push(
      lifecycle(base, `${rate}-${n}`, step.answers).then(
        () => {
          step.completed++;
        },
        (error: unknown) => {
          if (error instanceof Shed) step.shedLifecycles++;
          else {
            step.failed++;
            firstError ??= (error as Error).message;
          }
        },
      ),
    );
  }
  step.to = step.from + seconds * 1000;
  await Promise.all(runs);
  if (firstError) console.error(`  ${step.failed} lifecycles failed; the first: ${firstError}`);
  return step;
}

/** One row of the table: rates per second over the arrival window, latencies in ms. */
interface Row {
  offered: number;
  completed: number;
  shedLifecycles: number;
  ok: number;
  shed: number;
  failed: number;
  okP50: number;
  okP99: number;
  shedP50: number;
  shedP99: number;
}

function rowOf(step: Step): Row {
  const seconds = (step.to - step.from) / 1000;
  const inWindow = step.answers.filter((a) => a.at <= step.to);
  const okMs = step.answers.filter((a) => ok(a.status)).map((a) => a.ms);
  const shedMs = step.answers.filter((a) => isShed(a.status)).map((a) => a.ms);
  return {
    offered: step.offered,
    // Lifecycles over the whole run (they end after the window), per second of arrivals.
    completed: step.completed / seconds,
    shedLifecycles: step.shedLifecycles / seconds,
    // Requests answered within the window: what the system gave while the load was on.
    ok: inWindow.filter((a) => ok(a.status)).length / seconds,
    shed: inWindow.filter((a) => isShed(a.status)).length / seconds,
    failed: step.failed,
    okP50: percentile(okMs, 50),
    okP99: percentile(okMs, 99),
    shedP50: percentile(shedMs, 50),
    shedP99: percentile(shedMs, 99),
  };
}

/**
 * The knee: the highest offered rate that was still carried (at least 90 % of its lifecycles
 * completed); beyond it, the excess is shed or waits. Undefined when even the first was not.
 */
function kneeOf(rows: Row[]): Row | undefined {
  return rows.filter((row) => row.completed >= 0.9 * row.offered).at(-1);
}

const num = (value: number, digits = 1) => (Number.isNaN(value) ? "-" : value.toFixed(digits));

function table(rows: Row[], knee: Row | undefined): string {
  const lines = [
    "| offered lifecycles/s | completed lifecycles/s | shed lifecycles/s | failed | requests 2xx/s | shed requests/s | 2xx p50 ms | 2xx p99 ms | shed p50 ms | shed p99 ms |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (row) =>
        `| ${num(row.offered)}${row === knee ? " (knee)" : ""} | ${num(row.completed)} | ${num(row.shedLifecycles)} | ${row.failed} | ${num(row.ok)} | ${num(row.shed)} | ${num(row.okP50, 0)} | ${num(row.okP99, 0)} | ${num(row.shedP50, 0)} | ${num(row.shedP99, 0)} |`,
    ),
  ];
  return lines.join("\n");
}

/** A chart of lifecycles/s (left axis) and 2xx p99 (right axis) against the offered rate. */
function chart(rows: Row[], knee: Row | undefined, title: string): string {
  const [width, height] = [900, 520];
  const pad = { left: 70, right: 80, top: 50, bottom: 60 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const nice = (max: number) => {
    const magnitude = 10 ** Math.floor(Math.log10(Math.max(max, 1e-9)));
    return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((n) => n >= max) ?? max;
  };
  const xMax = nice(Math.max(...rows.map((r) => r.offered)));
  const yMax = nice(Math.max(...rows.map((r) => Math.max(r.offered, r.completed))));
  const msMax = nice(Math.max(1, ...rows.map((r) => (Number.isNaN(r.okP99) ? 0 : r.okP99))));
  const x = (v: number) => pad.left + (v / xMax) * plotW;
  const y = (v: number) => pad.top + plotH - (v / yMax) * plotH;
  const yMs = (v: number) => pad.top + plotH - (v / msMax) * plotH;
  const ticks = (max: number) => Array.from({ length: 6 }, (_, i) => (max * i) / 5);
  const line = (points: [number, number][]) =>
    points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
  const dots = (points: [number, number][], color: string) =>
    points.map(([px, py]) => `<circle cx="${px}" cy="${py}" r="4" fill="${color}"/>`).join("");
  const done: [number, number][] = rows.map((r) => [x(r.offered), y(r.completed)]);
  const shed: [number, number][] = rows.map((r) => [x(r.offered), y(r.shedLifecycles)]);
  const p99: [number, number][] = rows
    .filter((r) => !Number.isNaN(r.okP99))
    .map((r) => [x(r.offered), yMs(r.okP99)]);
  const text = (tx: number, ty: number, content: string, attrs = "") =>
    `<text x="${tx}" y="${ty}" ${attrs}>${content}</text>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    text(width / 2, 28, title, 'text-anchor="middle" font-size="16" font-weight="bold"'),
    ...ticks(yMax).map(
      (v) =>
        `<line x1="${pad.left}" x2="${pad.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>` +
        text(pad.left - 8, y(v) + 4, num(v, v % 1 ? 1 : 0), 'text-anchor="end"'),
    ),
    ...ticks(msMax).map((v) => text(pad.left + plotW + 8, yMs(v) + 4, num(v, 0), 'fill="#c0392b"')),
    ...ticks(xMax).map(
      (v) =>
        `<line x1="${x(v)}" x2="${x(v)}" y1="${pad.top + plotH}" y2="${pad.top + plotH + 5}" stroke="black"/>` +
        text(x(v), pad.top + plotH + 20, num(v, v % 1 ? 1 : 0), 'text-anchor="middle"'),
    ),
    `<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`,
    text(
      pad.left + plotW / 2,
      height - 15,
      "offered load (booking lifecycles started per second)",
      'text-anchor="middle"',
    ),
    text(
      18,
      pad.top + plotH / 2,
      "lifecycles per second",
      `text-anchor="middle" transform="rotate(-90 18 ${pad.top + plotH / 2})"`,
    ),
    text(
      width - 18,
      pad.top + plotH / 2,
      "p99 latency of 2xx requests (ms)",
      `text-anchor="middle" fill="#c0392b" transform="rotate(90 ${width - 18} ${pad.top + plotH / 2})"`,
    ),
    // What full service would be: every offered lifecycle completed.
    `<path d="${line([
      [x(0), y(0)],
      [x(Math.min(xMax, yMax)), y(Math.min(xMax, yMax))],
    ])}" stroke="#999" stroke-dasharray="3 4" fill="none"/>`,
    `<path d="${line(done)}" stroke="#2471a3" stroke-width="2.5" fill="none"/>`,
    dots(done, "#2471a3"),
    `<path d="${line(shed)}" stroke="#7d8c8d" stroke-width="2" stroke-dasharray="6 4" fill="none"/>`,
    dots(shed, "#7d8c8d"),
    `<path d="${line(p99)}" stroke="#c0392b" stroke-width="2.5" fill="none"/>`,
    dots(p99, "#c0392b"),
  ];
  if (knee) {
    parts.push(
      `<line x1="${x(knee.offered)}" x2="${x(knee.offered)}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="#27ae60" stroke-width="2" stroke-dasharray="8 5"/>`,
      // Right of the line, or left of it when the knee is in the right half.
      text(
        x(knee.offered) + (knee.offered > xMax / 2 ? -6 : 6),
        pad.top + 16,
        `knee: ${num(knee.offered)} offered/s, ${num(knee.completed)} completed/s`,
        `fill="#27ae60" font-weight="bold" text-anchor="${knee.offered > xMax / 2 ? "end" : "start"}"`,
      ),
    );
  }
  const legend = [
    ["#2471a3", "", "completed lifecycles/s"],
    ["#7d8c8d", 'stroke-dasharray="6 4"', "lifecycles shed/s (a request answered 503/429)"],
    ["#c0392b", "", "p99 of 2xx requests (right axis)"],
    ["#999", 'stroke-dasharray="3 4"', "completed = offered"],
  ];
  legend.forEach(([color, dash, label], i) => {
    const ly = pad.top + 40 + i * 20;
    parts.push(
      `<line x1="${pad.left + 14}" x2="${pad.left + 44}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.5" ${dash}/>`,
      text(pad.left + 52, ly + 4, label),
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** The SVG as a PNG, by the machine's chromium (playwright-core drives it; no download). */
async function renderPng(svg: string, file: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath:
      process.env.CHROMIUM_PATH ?? readInfraEnv().CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 520 } });
    await page.setContent(`<!doctype html><body style="margin:0">${svg}</body>`);
    await page.locator("svg").screenshot({ path: file });
  } finally {
    await browser.close();
  }
}

const run = `bench-${Date.now().toString(36)}`;

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      mode: { type: "string", default: "embedded" },
      rates: { type: "string", default: "5,10,20,30,40,60" },
      seconds: { type: "string", default: "10" },
      "max-in-flight": { type: "string" },
      out: { type: "string", default: join(__dirname, "knee") },
    },
  });
  if (positionals[0] !== "knee" || !["embedded", "distributed"].includes(values.mode)) {
    throw new Error("usage: npm run bench -- knee [--mode embedded|distributed] [--rates …]");
  }
  const rates = values.rates.split(",").map(Number);
  if (rates.some((rate) => !(rate > 0))) throw new Error(`--rates: ${values.rates}`);
  const seconds = Number(values.seconds);
  const maxInFlight = values["max-in-flight"];
  // One load generator is one client address: the per-address limit would measure itself.
  const env: Record<string, string> = {
    LOG_LEVEL: "error",
    RATE_LIMIT_PER_IP: "10000000",
    ...(maxInFlight === undefined ? {} : { API_MAX_IN_FLIGHT: maxInFlight }),
  };
  const infra = { ...readInfraEnv(), ...process.env };
  if (!infra.MONGO_URL) throw new Error("the knee bench needs MONGO_URL: run npm run infra:up");
  console.log(
    `knee bench, ${values.mode}: ${rates.join(", ")} lifecycles/s, ${seconds} s each, ` +
      `API_MAX_IN_FLIGHT ${maxInFlight ?? "default"} (${new Date().toISOString()})`,
  );

  let stop: () => Promise<void>;
  let url: string;
  if (values.mode === "embedded") {
    const port = await randomPort();
    const server = child(["server.ts"], {
      ...env,
      PORT: port,
      MONGO_URL: infra.MONGO_URL,
      MONGO_DB_PREFIX: run,
    });
    stop = () => stopChildren([server]);
    url = `http://127.0.0.1:${port}`;
  } else {
    ({ url, stop } = await startDistributed(
      run,
      ["api", "booking", "payment", "notification", "runner,tracking"],
      env,
    ));
  }
  const rows: Row[] = [];
  try {
    await until("Kilat to be ready", async () => (await fetch(`${url}/ready?all=true`)).ok);
    console.log(
      "offered/s  completed/s  shed lc/s  failed  2xx req/s  shed req/s  2xx p50/p99 ms  shed p50/p99 ms",
    );
    for (const rate of rates) {
      // Set-up, outside the window: the runners of this rate's lifecycles, verified.
      const total = Math.round(rate * seconds);
      await verifyRunners(
        url,
        Array.from({ length: total }, (_, n) => runnerOf(`${rate}-${n}`)),
      );
      await sleep(1000); // and a quiet second, as between rates
      const row = rowOf(await offer(url, rate, seconds));
      rows.push(row);
      console.log(
        `${num(row.offered).padStart(9)}  ${num(row.completed).padStart(11)}  ${num(row.shedLifecycles).padStart(9)}  ${String(row.failed).padStart(6)}  ${num(row.ok).padStart(9)}  ${num(row.shed).padStart(10)}  ${`${num(row.okP50, 0)}/${num(row.okP99, 0)}`.padStart(14)}  ${`${num(row.shedP50, 0)}/${num(row.shedP99, 0)}`.padStart(15)}`,
      );
      // A quiet second between rates: the next starts on an idle system, not on this backlog.
      await sleep(1000);
    }
  } finally {
    await stop();
    await dropDatabases(infra.MONGO_URL, run);
  }
  const knee = kneeOf(rows);
  const title = `Kilat ${values.mode}: throughput and p99 against offered load (${seconds} s per rate, API_MAX_IN_FLIGHT ${maxInFlight ?? "default"})`;
  const markdown =
    `${title}, ${new Date().toISOString().slice(0, 10)}\n\n${table(rows, knee)}\n\n` +
    `Knee: ${knee ? `${num(knee.offered)} lifecycles/s offered` : "none (the lowest rate was not carried)"}: ` +
    "the highest offered rate of which at least 90 % of lifecycles completed.\n";
  // Written as the repository's formatter would (the lint step checks every Markdown file).
  const options = await resolveConfig(`${values.out}.md`);
  writeFileSync(`${values.out}.md`, await format(markdown, { ...options, parser: "markdown" }));
  await renderPng(chart(rows, knee, title), `${values.out}.png`);
  console.log(`\nwrote ${values.out}.md and ${values.out}.png`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  },
);
