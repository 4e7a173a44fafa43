import { chromium, type Browser } from "playwright-core";
import type { BookingEntity, BookingRatingsEntity } from "../../contracts";
import { describeWithInfra } from "../support/infra";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

const pickup = { lat: -6.2, lng: 106.8 };
const dropoff = { lat: -6.21, lng: 106.81 };

/** The owner rates its runner from the trip page, once the trip completed. */
describeWithInfra(["mongo", "chromium"], "the trip page's rating form, in a browser", (infra) => {
  let system: System;
  let browser: Browser;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    browser = await chromium.launch({
      executablePath: infra.chromium,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu"],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  it("shows the form once completed, says a rating awaits the owner, and shows both once sent", async () => {
    const owner = system.token("owner", "owner-rating-page");
    const runner = system.token("runner", "runner-rating-page");
    const who = { runner, owner };
    await verifiedRunner(system, runner);
    await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
    const { booking_id: id } = await heldBooking(system, owner, { pickup, dropoff });
    for (const move of ["accept", "pickup", "depart", "deliver"]) {
      expect((await makeMove(system, id, move, who)).status).toBe(200);
    }
    await system.api("POST", `/api/bookings/${id}/confirm`, { token: owner, body: {} });
    await eventually(
      async () =>
        (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body
          .status === "completed"
          ? true
          : undefined,
      { what: "the booking to complete" },
    );
    const byRunner = await system.api("POST", `/api/bookings/${id}/rating`, {
      token: runner,
      body: { stars: 5 },
    });
    expect(byRunner.status).toBe(201);

    const page = await browser.newPage();
    await page.goto(`${system.url}/track/${id}#token=${owner}`);
    await page.waitForSelector("#rating-form:not([hidden])");
    expect(await page.textContent("#rating-note")).toContain("You have been rated");
    expect(await page.$$("#ratings li")).toEqual([]);

    await page.selectOption("#rating-stars", "4");
    await page.fill("#rating-text", "On time, and Rex was calm");
    await page.click("#rating-form button");
    await page.waitForSelector("#rating-form[hidden]", { state: "attached" });
    await page.locator("#ratings li").nth(1).waitFor();
    expect(await page.locator("#ratings li").allTextContents()).toEqual([
      "The owner: ★★★★ “On time, and Rex was calm”",
      "The runner: ★★★★★",
    ]);
    const stored = await system.api<BookingRatingsEntity>("GET", `/api/bookings/${id}/ratings`, {
      token: owner,
    });
    expect(stored.body.items.map((rating) => [rating.rater_role, rating.stars])).toEqual([
      ["owner", 4],
      ["runner", 5],
    ]);
    await page.close();
  });
});
