import { request, type IncomingHttpHeaders } from "node:http";
import { gzipSync } from "node:zlib";
import { describeWithInfra } from "../support/infra";
import { startSystem, type System } from "../support/system";

/** Limits, CORS and security headers at the gateway. */
describeWithInfra(["mongo"], "gateway hardening, embedded", (infra) => {
  let system: System;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: {
        RATE_LIMIT_PER_TOKEN: "3",
        RATE_LIMIT_PER_IP: "1000",
        CORS_ORIGINS: "https://app.example.com",
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("sends security headers on every answer, errors included", async () => {
    for (const path of ["/health", "/api/bookings"]) {
      const response = await system.api("GET", path);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("content-security-policy")).toMatch(/^default-src 'none'/);
    }
  });

  it("answers 429 with Retry-After past a token's limit, and other tokens go on", async () => {
    const busy = system.token("owner", "limit-busy");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await system.api("GET", "/api/bookings", { token: busy })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await system.api<{ type: string; code: number }>("GET", "/api/bookings", {
      token: busy,
    });
    expect([limited.body.type, limited.body.code]).toEqual(["RATE_LIMITED", 429]);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    const other = system.token("owner", "limit-other");
    expect((await system.api("GET", "/api/bookings", { token: other })).status).toBe(200);
  });

  it("lets configured browser origins in, and only those", async () => {
    const preflight = (origin: string) =>
      fetch(`${system.url}/api/bookings`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type",
        },
      });
    const allowed = await preflight("https://app.example.com");
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(allowed.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("takes a POST from its own pages (Origin: this host), and refuses one from another origin", async () => {
    const owner = system.token("owner", "origin-owner");
    const post = (origin: string) =>
      fetch(`${system.url}/api/notifications/read-all`, {
        method: "POST",
        headers: { origin, authorization: `Bearer ${owner}`, "content-type": "application/json" },
        body: "{}",
      });
    const own = await post(new URL(system.url).origin);
    expect([own.status, own.headers.get("access-control-allow-origin")]).toEqual([200, null]);
    const foreign = await post("https://evil.example");
    expect(foreign.status).toBe(403);
    // Another port of the same host is another origin.
    const url = new URL(system.url);
    expect((await post(`${url.protocol}//${url.hostname}:1`)).status).toBe(403);
  });
});

/** The pages' own policy: their scripts and styles only, and a tile server only when configured. */
describeWithInfra(["mongo"], "the pages' content security policy", (infra) => {
  let plain: System;
  let tiled: System;
  beforeAll(async () => {
    [plain, tiled] = await Promise.all([
      startSystem({ infra: { mongo: infra.mongo } }),
      startSystem({
        infra: { mongo: infra.mongo },
        env: { MAP_TILE_URL: "https://tiles.example.org/{z}/{x}/{y}.png" },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), tiled?.stop()]);
  });

  it("serves the pages with no inline script and no other origin, unless tiles are configured", async () => {
    for (const path of ["/track/b1", "/ops"]) {
      const page = await plain.api<string>("GET", path);
      expect([page.status, page.headers.get("content-type")]).toEqual([
        200,
        "text/html; charset=utf-8",
      ]);
      expect(page.headers.get("content-security-policy")).toEqual(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
      expect(page.body).not.toMatch(/<script>|<script [^>]*>[^<]|\son\w+=/);
    }
    // The trip page's "Report a problem" takes what the API takes.
    const disputes = {
      dispute_reasons: ["injured", "wrong_pet", "late", "not_delivered", "other"],
      dispute_photos_max: 5,
    };
    expect((await plain.api("GET", "/pages/config.json")).body).toEqual({
      tile_url: null,
      ...disputes,
    });
    const withTiles = await tiled.api("GET", "/track/b1");
    expect(withTiles.headers.get("content-security-policy")).toContain(
      "img-src 'self' data: blob: https://tiles.example.org;",
    );
    expect((await tiled.api("GET", "/pages/config.json")).body).toEqual({
      tile_url: "https://tiles.example.org/{z}/{x}/{y}.png",
      ...disputes,
    });
    expect((await plain.api("GET", "/pages/..%2Fpackage.json")).status).toBe(404);
  });
});

/** A POST with exactly these headers and bytes (fetch would not send a false Content-Encoding). */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(body.length) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Bodies as sent: plain, compressed, or lying about their compression. */
describeWithInfra(["mongo"], "request bodies and their Content-Encoding", (infra) => {
  let system: System;
  let logged: jest.SpyInstance[];
  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  beforeEach(() => {
    logged = (["error", "warn", "log", "info"] as const).map((level) =>
      jest.spyOn(console, level).mockImplementation(() => undefined),
    );
  });
  afterEach(() => logged.forEach((spy) => spy.mockRestore()));
  afterAll(async () => {
    await system?.stop();
  });

  const post = (encoding: string, body: Buffer, token?: string) =>
    rawPost(
      `${system.url}/api/bookings`,
      {
        "content-type": "application/json",
        "content-encoding": encoding,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body,
    );

  it.each(["gzip", "deflate", "br"])(
    "answers 400 naming the encoding to a plain body that claims %s, and logs no stack",
    async (encoding) => {
      const answer = await post(encoding, Buffer.from('{"pet_type":"dog"}'));
      expect([answer.status, JSON.parse(answer.body)]).toEqual([
        400,
        {
          name: "BadRequest",
          message: `Request body is not valid ${encoding} data, as its Content-Encoding says`,
          code: 400,
          type: "INVALID_BODY_ENCODING",
          data: null,
        },
      ]);
      expect(answer.headers["x-content-type-options"]).toEqual("nosniff");
      expect(logged.flatMap((spy) => spy.mock.calls as unknown[])).toEqual([]);
    },
  );

  it("answers 415 in the API's error shape to an unknown encoding", async () => {
    const answer = await post("xz", Buffer.from("{}"));
    expect([answer.status, JSON.parse(answer.body)]).toEqual([
      415,
      {
        name: "UnsupportedMediaType",
        message:
          'Content-Encoding "xz" is not supported: send the body as identity, gzip, deflate or br',
        code: 415,
        type: "UNSUPPORTED_ENCODING",
        data: null,
      },
    ]);
    expect(answer.body).not.toContain("Moleculer");
  });

  it("reads a gzip body, and answers 413 when it inflates past 64 kB (a zip bomb)", async () => {
    const owner = system.token("owner", "gzip-owner");
    const valid = await post("gzip", gzipSync(Buffer.from("{}")), owner);
    expect([valid.status, (JSON.parse(valid.body) as { type: string }).type]).toEqual([
      422,
      "VALIDATION_ERROR",
    ]);
    const bomb = gzipSync(Buffer.from(`{"pad":"${" ".repeat(10_000_000)}"}`));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const answer = await post("gzip", bomb, owner);
    expect([answer.status, (JSON.parse(answer.body) as { type: string }).type]).toEqual([
      413,
      "PAYLOAD_TOO_LARGE",
    ]);
  });
});

/** /metrics: for admins and Prometheus only, and nothing about the host. */
describeWithInfra(["mongo"], "the metrics endpoint", (infra) => {
  const METRICS_TOKEN = "prometheus-scrape-token-0123456789";
  let system: System;
  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo }, env: { METRICS_TOKEN } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("refuses readers without METRICS_TOKEN or an admin token; /health and /ready stay public", async () => {
    const statuses = await Promise.all(
      [undefined, "not-a-jwt", system.token("owner", "m"), system.token("runner", "m")].map(
        async (token) => (await system.api("GET", "/metrics", { token })).status,
      ),
    );
    expect(statuses).toEqual([401, 401, 403, 403]);
    expect((await system.api("GET", "/health")).status).toEqual(200);
    expect((await system.api("GET", "/ready")).status).toEqual(200);
  });

  it("shows admins and METRICS_TOKEN the process numbers, and nothing that describes the host", async () => {
    for (const token of [system.token("admin", "ops"), METRICS_TOKEN]) {
      const metrics = await system.api<string>("GET", "/metrics", { token });
      expect(metrics.status).toEqual(200);
      for (const family of [
        "process_cpu_user_seconds_total",
        "process_eventloop_delay_seconds",
        "moleculer_request_total",
      ]) {
        expect([family, new RegExp(`^${family}[{ ]`, "m").test(metrics.body)]).toEqual([
          family,
          true,
        ]);
      }
      for (const leak of [/^os_/m, /^process_arguments/m, /^process_pid/m, /root/, /hostname/]) {
        expect([String(leak), leak.test(metrics.body)]).toEqual([String(leak), false]);
      }
    }
  });
});

/** socket.io's own answers carry the same headers as the REST ones. */
describeWithInfra(["mongo"], "socket.io answers", (infra) => {
  let system: System;
  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("sends nosniff and a content security policy on the polling transport and the client script", async () => {
    for (const path of ["/socket.io/?EIO=4&transport=polling", "/socket.io/socket.io.min.js"]) {
      const answer = await fetch(system.url + path);
      await answer.arrayBuffer();
      expect([path, answer.status, answer.headers.get("x-content-type-options")]).toEqual([
        path,
        200,
        "nosniff",
      ]);
      expect(answer.headers.get("content-security-policy")).toMatch(/^default-src 'none'/);
      expect(answer.headers.get("x-frame-options")).toEqual("DENY");
    }
  });
});

/** The per-address limit behind a proxy: the forwarded address counts only from a trusted peer. */
describeWithInfra(["mongo"], "X-Forwarded-For and TRUSTED_PROXIES", (infra) => {
  let behindProxy: System;
  let direct: System;
  beforeAll(async () => {
    const env = { RATE_LIMIT_PER_IP: "3" };
    [behindProxy, direct] = await Promise.all([
      startSystem({ infra: { mongo: infra.mongo }, env: { ...env, TRUSTED_PROXIES: "127.0.0.1" } }),
      startSystem({ infra: { mongo: infra.mongo }, env }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([behindProxy?.stop(), direct?.stop()]);
  });

  const hits = async (system: System, forwardedFor: string, count: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) {
      const answer = await fetch(`${system.url}/health`, {
        headers: { "x-forwarded-for": forwardedFor },
      });
      await answer.arrayBuffer();
      statuses.push(answer.status);
    }
    return statuses;
  };

  it("given a trusted proxy, gives each forwarded client its own bucket", async () => {
    expect(await hits(behindProxy, "203.0.113.5, 198.51.100.1", 4)).toEqual([200, 200, 200, 429]);
    expect(await hits(behindProxy, "203.0.113.5, 198.51.100.2", 1)).toEqual([200]);
  });

  it("given an untrusted peer, ignores what X-Forwarded-For says", async () => {
    expect(await hits(direct, "198.51.100.1", 3)).toEqual([200, 200, 200]);
    expect(await hits(direct, "198.51.100.2", 1)).toEqual([429]);
  });
});
