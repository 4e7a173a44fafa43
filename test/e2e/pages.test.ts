import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server as SocketServer } from "socket.io";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { signToken } from "../../lib/auth";
import { describeWithInfra } from "../support/infra";
import { walk } from "../support/live";
import { startSystem, type System } from "../support/system";
import { heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

const ROOT = join(__dirname, "..", "..");
/** CI keeps what is under .infra/ as artifacts; the README's pictures are made on request. */
const SHOTS = [
  join(ROOT, ".infra", "screenshots"),
  ...(process.env.KILAT_DOCS_SCREENSHOTS ? [join(ROOT, "docs")] : []),
];
const pickup = { lat: -6.2, lng: 106.8 };
const dropoff = { lat: -6.21, lng: 106.81 };

/** Debian's chromium with a fresh empty profile, headless, kept off the network it cannot reach. */
async function browserFor(executablePath: string) {
  const profile = mkdtempSync(join(tmpdir(), "kilat-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 390, height: 844 }, // a phone
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  return {
    context,
    close: async () => (await context.close(), rmSync(profile, { recursive: true, force: true })),
  };
}

async function screenshot(page: Page, name: string, forDocs = true) {
  for (const dir of forDocs ? SHOTS : SHOTS.slice(0, 1)) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, name), fullPage: true });
  }
}

/** The notices a page showed, in order (it logs each one). */
function notices(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (message) => {
    const text = message.text();
    if (text.startsWith("notice: ")) seen.push(text.slice("notice: ".length));
  });
  return seen;
}

describeWithInfra(
  ["mongo", "chromium"],
  "the trip and operations pages in a real browser",
  (infra) => {
    let system: System;
    let browser: { context: BrowserContext; close(): Promise<void> };

    beforeAll(async () => {
      system = await startSystem({
        infra: { mongo: infra.mongo },
        env: { LOCATION_RATE_LIMIT: "1000" },
      });
      browser = await browserFor(infra.chromium);
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await system?.stop();
    });

    it("shows an owner's trip live: the runner moving, the steps up to completed, the price", async () => {
      const owner = system.token("owner", "owner-page");
      const runner = system.token("runner", "runner-page");
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const booking = await heldBooking(system, owner, { pickup, dropoff, pet_name: "Mochi" });
      const id = booking.booking_id;
      expect(
        (await system.api("POST", `/api/bookings/${id}/accept`, { token: runner, body: {} }))
          .status,
      ).toBe(200);

      const page = await browser.context.newPage();
      const shown = notices(page);
      await page.goto(`${system.url}/track/${id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="accepted"]');
      // The token leaves the address bar once read: it is not kept in history or shared on.
      expect(page.url()).toEqual(`${system.url}/track/${id}`);
      expect(await page.textContent("#title")).toEqual("Mochi's trip");

      for (const step of ["pickup", "depart"]) {
        expect(
          (await system.api("POST", `/api/bookings/${id}/${step}`, { token: runner, body: {} }))
            .status,
        ).toBe(200);
      }
      await page.waitForSelector('#steps[data-status="in_transit"]');
      await trackStarted(system, owner, id);
      const marker = async () =>
        Promise.all([
          page.getAttribute("circle.runner", "cx"),
          page.getAttribute("circle.runner", "data-lat"),
        ]);
      const positions: (string | null)[][] = [];
      for (const fix of walk(pickup, 4, 0.03)) {
        const sent = await system.api("POST", "/api/runners/me/location", {
          token: runner,
          body: { ...fix, booking_id: id },
        });
        expect(sent.status).toBe(202);
        await page.waitForSelector(`circle.runner[data-lat="${fix.lat}"]`);
        positions.push(await marker());
      }
      // One marker position per fix, each new: it moved on the map without a reload.
      expect(new Set(positions.map((p) => p.join())).size).toEqual(4);
      expect(await page.getAttribute("#map", "data-points")).toEqual("4");
      expect(await page.textContent("#distance")).toEqual("0.09 km");

      for (const [step, token] of [
        ["deliver", runner],
        ["confirm", owner],
      ] as const) {
        expect(
          (await system.api("POST", `/api/bookings/${id}/${step}`, { token, body: {} })).status,
        ).toBe(200);
      }
      await page.waitForSelector('#steps[data-status="completed"]', { timeout: 20_000 });
      await page.waitForSelector('#price-label:text-is("Price")');
      expect(await page.textContent("#price")).toMatch(/^IDR [\d,]+\.\d\d$/);
      await screenshot(page, "trip-page.png");
      expect(shown.filter(Boolean)).toEqual([]);
      await page.close();
    });

    it("says so when the connection is lost, and comes back by itself", async () => {
      const owner = system.token("owner", "owner-reconnect");
      const booking = await heldBooking(system, owner, { pickup, dropoff });
      const page = await browser.context.newPage();
      const shown = notices(page);
      await page.goto(`${system.url}/track/${booking.booking_id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="requested"]');
      await page.waitForSelector("#notice", { state: "hidden" });
      const gateway = system.brokers[0].getLocalService("api") as unknown as { io: SocketServer };
      gateway.io.disconnectSockets(true);
      await eventually(() => (shown.length >= 2 ? true : undefined), {
        what: "the page to reconnect",
      });
      expect(shown).toEqual(["Connection lost — reconnecting…", ""]);
      await page.close();
    });

    it("shows operators a runner coming online and going offline", async () => {
      const admin = system.token("admin", "admin-page");
      const runner = system.token("runner", "runner-ops");
      const page = await browser.context.newPage();
      await page.goto(`${system.url}/ops#token=${admin}`);
      await page.waitForSelector("#letters[data-loaded]");
      expect(await page.$('tr[data-runner="runner-ops"]')).toBeNull();

      await system.api("POST", "/api/runners/me/online", {
        token: runner,
        body: { lat: -6.19, lng: 106.79 },
      });
      await page.waitForSelector('tr[data-runner="runner-ops"]');
      await page.waitForSelector('circle.runner[data-runner="runner-ops"]');
      await screenshot(page, "ops-page.png");

      await system.api("POST", "/api/runners/me/offline", { token: runner, body: {} });
      await page.waitForSelector('tr[data-runner="runner-ops"]', { state: "detached" });
      await page.close();
    });

    it.each([
      [
        "a forged token",
        () => "not-a-token",
        "This link is not valid: open it again from the app.",
      ],
      [
        "an expired token",
        () => signToken({ sub: "owner-late", role: "owner" }, system.config.jwtSecret, -60),
        "Your link has expired: open it again from the app for a fresh one.",
      ],
      [
        "someone else's trip",
        () => system.token("owner", "owner-stranger"),
        "This trip is not yours to watch: only its owner and its runner can.",
      ],
    ])("explains %s on the trip page", async (_what, token, message) => {
      const owner = system.token("owner", "owner-wrong");
      const booking = await heldBooking(system, owner, { pickup, dropoff });
      const page = await browser.context.newPage();
      await page.goto(`${system.url}/track/${booking.booking_id}#token=${token()}`);
      await page.waitForSelector('#notice[data-kind="error"]');
      expect(await page.textContent("#notice")).toEqual(message);
      if (message.includes("not valid")) await screenshot(page, "trip-page-bad-token.png", false);
      await page.close();
    });
  },
);
