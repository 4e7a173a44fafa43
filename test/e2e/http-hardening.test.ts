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
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
      expect(page.body).not.toMatch(/<script>|<script [^>]*>[^<]|\son\w+=/);
    }
    expect((await plain.api("GET", "/pages/config.json")).body).toEqual({ tile_url: null });
    const withTiles = await tiled.api("GET", "/track/b1");
    expect(withTiles.headers.get("content-security-policy")).toContain(
      "img-src 'self' data: https://tiles.example.org;",
    );
    expect((await tiled.api("GET", "/pages/config.json")).body).toEqual({
      tile_url: "https://tiles.example.org/{z}/{x}/{y}.png",
    });
    expect((await plain.api("GET", "/pages/..%2Fpackage.json")).status).toBe(404);
  });
});
