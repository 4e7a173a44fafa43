import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server as SocketServer } from "socket.io";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { RunnerEntity } from "../../contracts";
import { distanceKm } from "../../domain/geo";
import { signToken } from "../../lib/auth";
import { sessionOf } from "../../services/api/socket-guard";
import { describeWithInfra } from "../support/infra";
import { makeMove, proofPhoto, smallJpeg } from "../support/handover";
import { CARRIES_ANYTHING, documentJpeg, uploadDocument, verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { acceptedAgo, fixRecordedAt, heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

const ROOT = join(__dirname, "..", "..");
/** CI keeps what is under .infra/ as artifacts; the README's pictures are made on request. */
const SHOTS = [
  join(ROOT, ".infra", "screenshots"),
  ...(process.env.KILAT_DOCS_SCREENSHOTS ? [join(ROOT, "docs")] : []),
];
/** A one-pixel grey tile, for a tile server the browser reaches only through the test. */
const TILE = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGO48uQCAAUYAon2S8SkAAAAAElFTkSuQmCC",
  "base64",
);
const TILE_URL = /^https:\/\/[abc]\.tiles\.kilat\.test\/\d+\/\d+\/\d+\.png$/;
const pickup = { lat: -6.2, lng: 106.8 };
const dropoff = { lat: -6.21, lng: 106.81 };
/** The runner's way from the pickup to just short of the drop-off, a fix a minute (~25 km/h). */
const way = [
  pickup,
  { lat: -6.2005, lng: 106.8035 },
  { lat: -6.2035, lng: 106.8055 },
  { lat: -6.207, lng: 106.807 },
  { lat: -6.2085, lng: 106.8088 },
].map((point, i, all) => ({
  ...point,
  speed_kmh: 25,
  timestamp: new Date(Date.now() - (all.length - 1 - i) * 60_000).toISOString(),
}));

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

/**
 * What the page's Content Security Policy refused, and what the page threw: Chromium reports a
 * refusal as a `securitypolicyviolation` event (forwarded to the console by a script the browser
 * itself runs, not subject to the page's policy) and as a console error.
 */
async function refusals(page: Page): Promise<string[]> {
  const seen: string[] = [];
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
    console.error("csp: " + e.violatedDirective + " " + e.blockedURI));`);
  page.on("console", (message) => {
    const text = message.text();
    if (text.startsWith("csp: ") || /Content Security Policy/i.test(text)) seen.push(text);
  });
  page.on("pageerror", (error) => seen.push(`error: ${error.message}`));
  return seen;
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
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const booking = await heldBooking(system, owner, { pickup, dropoff, pet_name: "Mochi" });
      const id = booking.booking_id;
      expect(
        (await system.api("POST", `/api/bookings/${id}/accept`, { token: runner, body: {} }))
          .status,
      ).toBe(200);

      const page = await browser.context.newPage();
      const shown = notices(page);
      const refused = await refusals(page);
      await page.goto(`${system.url}/track/${id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="accepted"]');
      // The token leaves the address bar once read: it is not kept in history or shared on.
      expect(page.url()).toEqual(`${system.url}/track/${id}`);
      expect(await page.textContent("#title")).toEqual("Mochi's trip");

      for (const step of ["pickup", "depart"]) {
        expect((await makeMove(system, id, step, { runner, owner })).status).toBe(200);
      }
      await page.waitForSelector('#steps[data-status="in_transit"]');
      await trackStarted(system, owner, id);
      // Leaflet draws the runner as an SVG path: its outline moves with each fix.
      const marker = async () =>
        Promise.all([
          page.getAttribute("path.runner", "d"),
          page.getAttribute("path.runner", "data-lat"),
        ]);
      const positions: (string | null)[][] = [];
      // The way's fixes span minutes: as if the runner had accepted before them.
      await acceptedAgo(system, "runner-page", 10 * 60_000);
      for (const fix of way) {
        const sent = await system.api("POST", "/api/runners/me/location", {
          token: runner,
          body: { ...fix, booking_id: id },
        });
        expect(sent.status).toBe(202);
        await page.waitForSelector(`path.runner[data-lat="${fix.lat}"]`);
        positions.push(await marker());
      }
      // One marker position per fix, each new: it moved on the map without a reload.
      expect(new Set(positions.map((p) => p.join())).size).toEqual(way.length);
      expect(await page.getAttribute("#map", "data-points")).toEqual(String(way.length));
      const travelled = way.slice(1).reduce((km, fix, i) => km + distanceKm(way[i], fix), 0);
      expect(await page.textContent("#distance")).toEqual(`${travelled.toFixed(2)} km`);
      // The whole trip on a plain background: route, pickup, drop-off, labelled; no tile asked for.
      expect(
        await Promise.all(
          ["path.route", "path.pickup", "path.dropoff", "img.leaflet-tile"].map(
            async (selector) => (await page.$$(`#map ${selector}`)).length,
          ),
        ),
      ).toEqual([1, 1, 1, 0]);
      expect(await page.locator("#map .map-label").allTextContents()).toEqual([
        "Pickup",
        "Drop-off",
        "Runner",
      ]);

      for (const [step, token] of [
        ["deliver", runner],
        ["confirm", owner],
      ] as const) {
        expect((await makeMove(system, id, step, { runner, owner }, token)).status).toBe(200);
      }
      await page.waitForSelector('#steps[data-status="completed"]', { timeout: 20_000 });
      await page.waitForSelector('#price-label:text-is("Price")');
      expect(await page.textContent("#price")).toMatch(/^IDR [\d,]+\.\d\d$/);
      await screenshot(page, "trip-page.png");
      expect(shown.filter(Boolean)).toEqual([]);

      // Leaflet's zoom control zooms: the runner's marker is drawn elsewhere.
      const before = await page.getAttribute("path.runner", "d");
      await page.click("#map .leaflet-control-zoom-in");
      await page.waitForSelector(`path.runner:not([d="${before}"])`);
      expect(refused).toEqual([]);
      await page.close();
    });

    it("shows the owner the runner's arrival, a drop-off no-show, the way back without a drop-off ETA, and the charge once returned", async () => {
      const owner = system.token("owner", "owner-no-show-page");
      const runner = system.token("runner", "runner-no-show-page");
      const who = { runner, owner };
      // Ends 200 m apart: one fix between them is within ARRIVAL_RADIUS_M of both.
      const near = { pickup, dropoff: { lat: -6.2018, lng: 106.8 } };
      const between = { lat: -6.2009, lng: 106.8 };
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const booking = await heldBooking(system, owner, { ...near, pet_name: "Mochi" });
      const id = booking.booking_id;
      expect((await makeMove(system, id, "accept", who)).status).toBe(200);
      const post = (path: string, body: unknown = {}) =>
        system.api<{ status: string }>("POST", path, { token: runner, body });
      /** A fresh fix between the ends, once the track has it. */
      const fixed = async (count: number) => {
        const fix = { ...between, timestamp: new Date().toISOString(), booking_id: id };
        expect((await post("/api/runners/me/location", fix)).status).toBe(202);
        await eventually(async () => {
          const track = await system.api<{ waypoints: unknown[] }>(
            "GET",
            `/api/bookings/${id}/track`,
            {
              token: owner,
            },
          );
          return track.body.waypoints.length >= count ? true : undefined;
        });
      };
      await fixed(1);

      const page = await browser.context.newPage();
      const refused = await refusals(page);
      await page.goto(`${system.url}/track/${id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="accepted"]');
      expect(await page.isHidden("#no-show")).toBe(true);
      expect((await post(`/api/bookings/${id}/arrive`)).status).toBe(200);
      await page.waitForSelector('#no-show-title:text-is("Your runner is at the pickup")');

      for (const step of ["pickup", "depart"]) {
        expect((await makeMove(system, id, step, who)).status).toBe(200);
      }
      // On the way, the runner sends its position again, a moment after its first fix.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await fixed(2);
      expect((await post(`/api/bookings/${id}/arrive`)).status).toBe(200);
      await page.waitForSelector('#no-show-title:text-is("Your runner is at the drop-off")');
      // NO_SHOW_WAIT passed: the arrival moved back in the database, not slept.
      const bookings = (
        system.brokers[0].getLocalService("booking") as unknown as {
          models: { bookings: { updateOne(q: object, u: object): Promise<unknown> } };
        }
      ).models.bookings;
      await bookings.updateOne(
        { _id: id },
        { $set: { arrived_at_dropoff: new Date(Date.now() - 11 * 60_000) } },
      );
      expect(
        (await post(`/api/bookings/${id}/no_show`, { reason: "No answer at the gate" })).status,
      ).toBe(200);
      await page.waitForSelector(
        '#no-show-title:text-is("Mochi is on the way back to the pickup")',
      );
      expect(await page.textContent("#no-show-text")).toContain("“No answer at the gate”");
      expect(await page.textContent("#eta")).toEqual("Returning to the pickup");

      const photo = await proofPhoto(system, id, runner, "pickup");
      expect((await post(`/api/bookings/${id}/return_pet`, { photo_id: photo })).status).toBe(200);
      await page.waitForSelector('#steps[data-status="returned"]');
      await page.waitForSelector('#no-show-title:text-is("Returned")');
      expect(await page.textContent("#no-show-text")).toMatch(/Charged IDR [\d,]+\.\d\d/);
      expect(await page.textContent("#eta")).toEqual("Returned");
      expect(refused).toEqual([]);
      await page.close();
    });

    it("shows the owner the PIN and both proof photos, and a share link shows the trip without a login", async () => {
      const owner = system.token("owner", "owner-proof-page");
      const runner = system.token("runner", "runner-proof-page");
      const who = { runner, owner };
      await verifiedRunner(system, runner);
      await system.api("PATCH", "/api/runners/me", { token: runner, body: { name: "Sari Dewi" } });
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const booking = await heldBooking(system, owner, { pickup, dropoff, pet_name: "Kiko" });
      const id = booking.booking_id;
      expect((await makeMove(system, id, "accept", who)).status).toBe(200);

      const page = await browser.context.newPage();
      const refused = await refusals(page);
      await page.goto(`${system.url}/track/${id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="accepted"]');
      expect(await page.textContent("#pin-value")).toMatch(/^\d{6}$/);

      // A photo shows once it is fetched with the token and decoded: its natural size is real.
      const photoShown = (figure: string) =>
        page.waitForFunction((selector) => {
          const { document } = globalThis as {
            document?: {
              querySelector(s: string): { complete: boolean; naturalWidth: number } | null;
            };
          };
          const img = document?.querySelector(selector);
          return Boolean(img?.complete && img.naturalWidth > 0);
        }, `#${figure} img`);
      // Each handover where the track was then: its caption (5 decimals) and a marker on the map.
      const handedOverAt = { lat: -6.2003, lng: 106.8 };
      // (Read once the photo shows: the page draws the marker as it sets the caption.)
      const proofMark = async (figure: string) => {
        const mark = page.locator(`path.${figure}`);
        return {
          caption: await page.textContent(`#${figure} figcaption`),
          mark:
            (await mark.count()) === 1
              ? {
                  lat: await mark.getAttribute("data-lat"),
                  lng: await mark.getAttribute("data-lng"),
                }
              : null,
        };
      };
      await fixRecordedAt(system, runner, id, pickup);
      expect((await makeMove(system, id, "pickup", who)).status).toBe(200);
      await page.waitForSelector('#steps[data-status="picked_up"]');
      await photoShown("pickup-proof");
      expect(await page.getAttribute("#pickup-proof img", "src")).toMatch(/^blob:/);
      expect(await proofMark("pickup-proof")).toEqual({
        caption: expect.stringContaining("(-6.20000, 106.80000)") as string,
        mark: { lat: "-6.2", lng: "106.8" },
      });

      // The owner shares the trip from the page; the link opens in a browser without a token.
      await page.click("#share");
      await page.waitForSelector("#share-link:not(:empty)");
      const shared = (await page.textContent("#share-link")) ?? "";
      const link = /^(\S+\/share#\S+)/.exec(shared)?.[1] ?? "";
      expect([shared, link]).toEqual([shared, expect.stringMatching(/\/share#[\w-]{40,}$/)]);
      const guest = await browser.context.newPage();
      const guestRefused = await refusals(guest);
      await guest.goto(link);
      await guest.waitForSelector('#steps[data-status="picked_up"]');
      expect(await guest.textContent("#title")).toEqual("Kiko on the way");
      expect(await guest.textContent("#runner")).toEqual("Sari");
      const fix = { ...pickup, timestamp: new Date().toISOString(), booking_id: id };
      expect(
        (await system.api("POST", "/api/runners/me/location", { token: runner, body: fix })).status,
      ).toBe(202);
      await guest.waitForSelector("path.runner", { timeout: 15_000 });
      expect(await guest.content()).not.toContain(await page.textContent("#pin-value"));
      await screenshot(guest, "share-page.png");

      expect((await makeMove(system, id, "depart", who)).status).toBe(200);
      await fixRecordedAt(system, runner, id, handedOverAt);
      expect((await makeMove(system, id, "deliver", who)).status).toBe(200);
      await page.waitForSelector('#steps[data-status="delivered"]');
      await photoShown("dropoff-proof");
      expect(await proofMark("dropoff-proof")).toEqual({
        caption: expect.stringMatching(/\(-6\.20030, 106\.80000\), PIN checked$/) as string,
        mark: { lat: "-6.2003", lng: "106.8" },
      });
      expect(await page.isHidden("#pin")).toBe(true);
      await screenshot(page, "trip-page-proof.png");
      expect([...refused, ...guestRefused]).toEqual([]);
      await guest.close();
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
      // The page reads the trip, then connects: hang up only once its socket is there (a hang-up
      // before would meet no socket, and the page would never lose its connection).
      const connected = () =>
        [...gateway.io.of("/").sockets.values()].some(
          (socket) => sessionOf(socket).user?.sub === "owner-reconnect",
        );
      await eventually(() => (connected() ? true : undefined), { what: "the page's socket" });
      gateway.io.disconnectSockets(true);
      await eventually(() => (shown.length >= 2 ? true : undefined), {
        what: "the page to reconnect",
      });
      expect(shown).toEqual(["Connection lost — reconnecting…", ""]);
      await page.close();
    });

    it("shows operators a runner waiting for verification, whom they verify from the page", async () => {
      const admin = system.token("admin", "admin-verifies");
      const runner = system.token("runner", "runner-to-verify");
      await system.api("PATCH", "/api/runners/me", { token: runner, body: CARRIES_ANYTHING });
      const document = await uploadDocument(system, runner, await documentJpeg());
      const asked = await system.api("POST", "/api/runners/me/verification", {
        token: runner,
        body: { documents: [document.body.photo_id] },
      });
      expect(asked.status).toBe(202);

      const page = await browser.context.newPage();
      const refused = await refusals(page);
      await page.goto(`${system.url}/ops#token=${admin}`);
      const row = 'tr[data-runner="runner-to-verify"]';
      await page.waitForSelector(row);
      expect(await page.textContent(`${row} td:nth-child(2)`)).toEqual("van");
      await screenshot(page, "ops-page-verification.png", false);
      await page.click(`${row} button:text-is("Verify")`);
      await page.waitForSelector(row, { state: "detached" });
      const me = await system.api<RunnerEntity>("GET", "/api/runners/me", { token: runner });
      expect(me.body.verification?.status).toBe("verified");
      expect(refused).toEqual([]);
      await page.close();
    });

    it("shows operators a dispute with the owner's report, which they resolve with a refund of an amount", async () => {
      const admin = system.token("admin", "admin-disputes");
      const owner = system.token("owner", "owner-dispute-page");
      const runner = system.token("runner", "runner-dispute-page");
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const booking = await heldBooking(system, owner, { pickup, dropoff });
      const id = booking.booking_id;
      await system.api("POST", `/api/bookings/${id}/accept`, { token: runner, body: {} });
      for (const move of ["pickup", "depart", "deliver"]) {
        await makeMove(system, id, move, { runner, owner });
      }
      const disputed = await system.api("POST", `/api/bookings/${id}/dispute`, {
        token: owner,
        body: { reason: "late", text: "Two hours late, the dog was thirsty" },
      });
      expect(disputed.status).toBe(200);

      const page = await browser.context.newPage();
      const refused = await refusals(page);
      // The owner's trip page leaves the road after the delivery.
      await page.goto(`${system.url}/track/${id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="disputed"]');
      expect(await page.textContent("#steps li.now")).toEqual("Problem reported");
      await page.goto(`${system.url}/ops#token=${admin}`);
      const row = `#disputes tr[data-booking="${id}"]`;
      await page.waitForSelector(row);
      expect(await page.textContent(`${row} td:nth-child(2)`)).toEqual("late");
      expect(await page.textContent(`${row} td:nth-child(3)`)).toEqual(
        "Two hours late, the dog was thirsty",
      );
      await page.fill(`${row} input`, "10");
      await page.click(`${row} button:text-is("Refund amount")`);
      await page.waitForSelector(row, { state: "detached" });
      const payment = await eventually(
        async () => {
          const now = await system.api<{ status: string; refunded_cents: number }>(
            "GET",
            `/api/bookings/${id}/payment`,
            { token: owner },
          );
          return now.body.status === "captured" ? now.body : undefined;
        },
        { what: "the partial refund captured" },
      );
      expect(payment.refunded_cents).toBe(1000);
      expect(refused).toEqual([]);
      await page.close();
    });

    it("lets the owner report a problem with a photo from the trip page, and shows the partial refund operations decide", async () => {
      const admin = system.token("admin", "admin-owner-report");
      const owner = system.token("owner", "owner-report-page");
      const runner = system.token("runner", "runner-report-page");
      const who = { runner, owner };
      await verifiedRunner(system, runner);
      await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
      const booking = await heldBooking(system, owner, { pickup, dropoff, pet_name: "Bima" });
      const id = booking.booking_id;
      for (const move of ["accept", "pickup", "depart", "deliver"]) {
        expect((await makeMove(system, id, move, who)).status).toBe(200);
      }

      const page = await browser.context.newPage();
      const refused = await refusals(page);
      await page.goto(`${system.url}/track/${id}#token=${owner}`);
      await page.waitForSelector('#steps[data-status="delivered"]');
      await page.waitForSelector("#delivery:not([hidden])");
      expect(await page.isVisible("#confirm")).toBe(true);
      // The reasons are the API's (DISPUTE_REASONS), each in words.
      expect(await page.$$eval("#problem-reason option", (options) => options.length)).toBe(5);
      await page.selectOption("#problem-reason", "injured");
      await page.fill("#problem-text", "A cut on the left front paw");
      await page.setInputFiles("#problem-photos", {
        name: "paw.jpg",
        mimeType: "image/jpeg",
        buffer: await smallJpeg(),
      });
      await screenshot(page, "trip-page-report.png", false);
      await page.click('#problem-form button[type="submit"]');
      await page.waitForSelector('#dispute[data-outcome="open"]');
      expect(await page.textContent("#dispute-status")).toEqual(
        "Disputed — operations will review",
      );
      expect(await page.textContent("#dispute-report")).toEqual(
        "My pet was hurt: A cut on the left front paw",
      );
      await page.waitForSelector('#steps[data-status="disputed"]');
      expect(await page.isHidden("#delivery")).toBe(true);
      const disputed = await system.api<{ status: string; dispute?: { photo_ids: string[] } }>(
        "GET",
        `/api/bookings/${id}`,
        { token: owner },
      );
      expect([disputed.body.status, disputed.body.dispute?.photo_ids.length]).toEqual([
        "disputed",
        1,
      ]);
      await screenshot(page, "trip-page-dispute.png");

      const resolved = await system.api("POST", `/api/bookings/${id}/resolve`, {
        token: admin,
        body: { outcome: "partial_refund", refund_cents: 1000, note: "A vet visit" },
      });
      expect(resolved.status).toBe(200);
      await page.waitForSelector('#dispute[data-outcome="partial_refund"]', { timeout: 20_000 });
      expect(await page.textContent("#dispute-status")).toMatch(
        /^Resolved: IDR 10\.00 refunded to you\.$/,
      );
      expect(await page.textContent("#dispute-note")).toEqual("Operations: A vet visit");
      await page.waitForSelector('#steps[data-status="completed"]', { timeout: 20_000 });
      await screenshot(page, "trip-page-dispute-resolved.png", false);
      expect(refused).toEqual([]);
      await page.close();
    });

    it("shows operators a runner coming online and going offline", async () => {
      const admin = system.token("admin", "admin-page");
      const runner = system.token("runner", "runner-ops");
      const page = await browser.context.newPage();
      const refused = await refusals(page);
      await page.goto(`${system.url}/ops#token=${admin}`);
      await page.waitForSelector("#letters[data-loaded]");
      expect(await page.$('tr[data-runner="runner-ops"]')).toBeNull();

      await system.api("POST", "/api/runners/me/online", {
        token: runner,
        body: { lat: -6.19, lng: 106.79 },
      });
      await page.waitForSelector('tr[data-runner="runner-ops"]');
      await page.waitForSelector('path.runner[data-runner="runner-ops"]');
      // Every runner of the list is on the map, labelled with its id.
      const listed = await page.locator("#runners tr td:first-child").allTextContents();
      expect((await page.locator("#map .map-label").allTextContents()).sort()).toEqual(
        listed.sort(),
      );
      expect(await page.$$("#map .leaflet-control-zoom-in")).toHaveLength(1);
      await screenshot(page, "ops-page.png");

      await system.api("POST", "/api/runners/me/offline", { token: runner, body: {} });
      await page.waitForSelector('tr[data-runner="runner-ops"]', { state: "detached" });
      await page.waitForSelector('path.runner[data-runner="runner-ops"]', { state: "detached" });
      expect(refused).toEqual([]);
      await page.close();
    });

    it("puts tiles under the map with MAP_TILE_URL: their origin allowed, their credit shown as text", async () => {
      const tiled = await startSystem({
        infra: { mongo: infra.mongo },
        env: {
          MAP_TILE_URL: "https://{s}.tiles.kilat.test/{z}/{x}/{y}.png",
          MAP_TILE_ATTRIBUTION: '<img src="x"> © Kilat Tiles & friends',
        },
      });
      try {
        const owner = tiled.token("owner", "owner-tiles");
        const booking = await heldBooking(tiled, owner, { pickup, dropoff });
        const page = await browser.context.newPage();
        const refused = await refusals(page);
        const asked: string[] = [];
        await page.route("https://*.tiles.kilat.test/**", (route) => {
          asked.push(route.request().url());
          return route.fulfill({ status: 200, contentType: "image/png", body: TILE });
        });
        const response = await page.goto(`${tiled.url}/track/${booking.booking_id}#token=${owner}`);
        // Leaflet's `{s}` subdomains (a, b, c) are one wildcard source.
        expect(response?.headers()["content-security-policy"]).toContain(
          "; img-src 'self' data: blob: https://*.tiles.kilat.test; ",
        );
        await page.waitForSelector('#steps[data-status="requested"]');
        await page.waitForSelector("#map img.leaflet-tile-loaded");
        expect(asked.filter((url) => !TILE_URL.test(url))).toEqual([]);
        expect(await page.textContent("#map .leaflet-control-attribution")).toEqual(
          ' Leaflet | <img src="x"> © Kilat Tiles & friends',
        );
        expect(await page.$$("#map .leaflet-control-attribution img")).toHaveLength(0);
        expect(refused).toEqual([]);
        await page.close();
      } finally {
        await tiled.stop();
      }
    });

    it("serves Leaflet's script and style from the installed package, and no other file of it", async () => {
      const served = await Promise.all(
        ["leaflet.js", "leaflet.css", "leaflet-src.js", "leaflet.js.map", "marker-icon.png"].map(
          async (name) => {
            const response = await system.api<string>("GET", `/pages/${name}`);
            return [name, response.status, response.headers.get("content-type")];
          },
        ),
      );
      expect(served).toEqual([
        ["leaflet.js", 200, "text/javascript; charset=utf-8"],
        ["leaflet.css", 200, "text/css; charset=utf-8"],
        ["leaflet-src.js", 404, "text/plain; charset=utf-8"],
        ["leaflet.js.map", 404, "text/plain; charset=utf-8"],
        ["marker-icon.png", 404, "text/plain; charset=utf-8"],
      ]);
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
