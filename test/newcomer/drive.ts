/**
 * `tsx test/newcomer/drive.ts <url> <scenario> [state-file]` — drives a running Kilat as an
 * app would: REST with bearer tokens, and a Socket.IO watcher. `scripts/newcomer.sh` runs it
 * against the system started with the README's own commands.
 *
 *   lifecycle <file>  a runner verified by an admin; a pet with its rabies vaccination (an
 *                     expired one refused); book it → pay → escrow held → accept → a photo at
 *                     pickup → depart → GPS fixes watched live → a photo and a wrong PIN, then
 *                     the right one, at the drop-off → the share link read without a login →
 *                     confirm → completed; captured = payout + fee. Writes what it booked to
 *                     <file>.
 *   cancel            book → pay → escrow held → cancel; the whole hold is released.
 *   scheduled         book 10 days ahead → pay: the card is saved, held a day before pickup.
 *   dispute           a booking delivered with its proof; the owner reports a problem with a
 *                     photo instead of confirming; an admin refunds part of it; the money adds up.
 *   remembers <file>  the booking in <file> is still there, completed (after a restart).
 *   forgot <file>     the booking in <file> is gone (after `npm start -- --fresh`).
 *
 * Every step prints one line; the first unexpected answer prints the step, the status and the
 * body, and exits 1.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import sharp from "sharp";
import type { Socket } from "socket.io-client";
import { signToken, type Role } from "../../lib/auth";
import { DEFAULT_JWT_SECRET } from "../../lib/config";
import { connectSocket, request, walk } from "../support/live";

const [base, scenario, stateFile] = process.argv.slice(2);
const secret = process.env.JWT_SECRET || DEFAULT_JWT_SECRET;
const run = randomUUID().slice(0, 8);
const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pet_type: "dog", pet_name: "Rex", pickup, dropoff: { lat: -6.25, lng: 106.85 } };

class StepFailed extends Error {}

const token = (role: Role, sub: string) => signToken({ role, sub }, secret);

function pass(step: string, detail = "") {
  console.log(`  ✓ ${step}${detail ? ` — ${detail}` : ""}`);
}

type Body = Record<string, unknown>;

/** One REST call that must answer `expected`; anything else fails the run with the body. */
async function call(
  step: string,
  expected: number | number[],
  method: string,
  path: string,
  bearer?: string,
  body?: unknown,
): Promise<Body> {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const statuses = Array.isArray(expected) ? expected : [expected];
  if (!statuses.includes(response.status)) {
    throw new StepFailed(
      `${step}: ${method} ${path} → ${response.status}, expected ${statuses.join(" or ")}\n    ${text}`,
    );
  }
  pass(step, `${method} ${path} → ${response.status}`);
  return text ? (JSON.parse(text) as Body) : {};
}

/** A photo as a phone's app sends it: the JPEG's bytes as the body. */
async function uploadPhoto(step: string, path: string, bearer: string): Promise<string> {
  const jpeg = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 120, b: 40 } },
  })
    .jpeg()
    .toBuffer();
  const response = await fetch(base + path, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "image/jpeg" },
    body: new Uint8Array(jpeg),
  });
  const text = await response.text();
  if (response.status !== 201) {
    throw new StepFailed(`${step}: POST ${path} → ${response.status}, expected 201\n    ${text}`);
  }
  pass(step, `POST ${path} → 201`);
  return String((JSON.parse(text) as Body).photo_id);
}

/** A day `days` from today, as a vaccination record writes it (YYYY-MM-DD). */
const day = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/** Asserts one value; a mismatch fails the run naming both. */
function expectEqual(step: string, actual: unknown, expected: unknown) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new StepFailed(
      `${step}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`,
    );
  }
  pass(step, JSON.stringify(actual));
}

/** Polls a GET until `done` holds (an app refreshing its screen), at most `timeoutMs`. */
async function until(
  step: string,
  path: string,
  bearer: string,
  done: (body: Body) => boolean,
  timeoutMs = 30_000,
): Promise<Body> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(base + path, { headers: { authorization: `Bearer ${bearer}` } });
    const text = await response.text();
    const body = response.ok ? (JSON.parse(text) as Body) : undefined;
    if (body && done(body)) {
      pass(step);
      return body;
    }
    if (Date.now() > deadline) {
      throw new StepFailed(
        `${step}: not reached in ${timeoutMs} ms; last GET ${path} → ${response.status}\n    ${text}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A booking paid for, once the booking itself shows the escrow held (a runner may accept). */
async function heldBooking(owner: string, request: Body = trip): Promise<Body> {
  const booking = await call("owner books", 201, "POST", "/api/bookings", owner, request);
  const id = String(booking.booking_id);
  const payment = await call(
    "owner pays",
    [201, 202],
    "POST",
    `/api/bookings/${id}/payment`,
    owner,
    {},
  );
  expectEqual("payment holds the price", payment.amount_cents, booking.estimated_price_cents);
  await until("escrow held", `/api/bookings/${id}`, owner, (b) => b.payment_status === "held");
  return booking;
}

interface TrackUpdate {
  booking_id: string;
  lat: number;
  total_distance_km: number;
}

/** A runner who says what it carries, sends a document, is verified by an admin, and is online. */
async function verifiedRunner(runnerId: string, admin: string): Promise<string> {
  const runner = token("runner", runnerId);
  await call("runner says what it carries", 200, "PATCH", "/api/runners/me", runner, {
    name: "Budi Santoso",
    vehicle_kind: "car",
    crate_capacity: { largest: "large", pets: 2 },
    species: ["dog", "cat"],
    air_conditioning: true,
  });
  const document = await uploadPhoto(
    "runner sends a document",
    "/api/runners/me/documents",
    runner,
  );
  await call("runner asks to be verified", 202, "POST", "/api/runners/me/verification", runner, {
    documents: [document],
  });
  await call("admin verifies", 200, "POST", `/api/runners/${runnerId}/verification`, admin, {
    decision: "verified",
  });
  await call("runner goes online", 200, "POST", "/api/runners/me/online", runner, pickup);
  return runner;
}

async function lifecycle(file: string) {
  const ownerId = `newcomer-owner-${run}`;
  const owner = token("owner", ownerId);
  const admin = token("admin", `newcomer-ops-${run}`);
  const runner = await verifiedRunner(`newcomer-runner-${run}`, admin);

  // The owner's pet, with its rabies vaccination; an expired one is refused at booking.
  const rex = await call("owner adds a pet", 201, "POST", "/api/pets", owner, {
    name: "Rex",
    species: "dog",
    breed: "Beagle",
    weight_kg: 12,
    crate_size: "medium",
    care_notes: "Water every hour",
    vaccinations: [{ kind: "rabies", given_on: day(-400), expires_on: day(-35) }],
  });
  const petId = String(rex.pet_id);
  const journey = { pet_ids: [petId], pickup, dropoff: trip.dropoff };
  const refused = await call(
    "a pet whose rabies expired is refused",
    422,
    "POST",
    "/api/bookings",
    owner,
    journey,
  );
  expectEqual(
    "…naming the pet and the vaccination",
    /Rex: rabies/.test(String(refused.message)),
    true,
  );
  await call(
    "owner records the new vaccination",
    201,
    "POST",
    `/api/pets/${petId}/vaccinations`,
    owner,
    {
      kind: "rabies",
      given_on: day(-30),
      expires_on: day(335),
    },
  );
  const booking = await heldBooking(owner, journey);
  const id = String(booking.booking_id);
  const pin = String(booking.handover_pin);
  const step = (name: string, who: string, action: string, status: string, body: Body = {}) =>
    call(name, 200, "POST", `/api/bookings/${id}/${action}`, who, body).then((moved) =>
      expectEqual(`${name}: status`, moved.status, status),
    );
  await step("runner accepts", runner, "accept", "accepted");

  const watcher: Socket = await connectSocket(base, owner);
  try {
    const updates: TrackUpdate[] = [];
    watcher.on("track:update", (update: TrackUpdate) => updates.push(update));
    // The trip's track starts when the tracking service has consumed booking.accepted, a moment
    // after the accept answered: the app asks again until it may watch (as the trip page does).
    let subscribed = await request(watcher, "track:subscribe", { booking_id: id });
    for (const until = Date.now() + 15_000; !subscribed.ok && Date.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      subscribed = await request(watcher, "track:subscribe", { booking_id: id });
    }
    expectEqual("owner watches the trip (socket)", subscribed.ok, true);
    const atPickup = await uploadPhoto(
      "runner photographs the pet",
      `/api/bookings/${id}/photos?stage=pickup`,
      runner,
    );
    await step("runner picks up", runner, "pickup", "picked_up", { photo_id: atPickup });
    await step("runner departs", runner, "depart", "in_transit");
    await until("track started", `/api/bookings/${id}/track`, owner, (t) => t.status === "active");

    const fixes = walk(pickup, 5, 0.025); // 25 m a second: 90 km/h, under MAX_SPEED_KMH
    for (const fix of fixes) {
      await call("runner sends a GPS fix", 202, "POST", "/api/runners/me/location", runner, {
        ...fix,
        booking_id: id,
      });
      await new Promise((resolve) => setTimeout(resolve, 250)); // inside the per-second limit
    }
    const deadline = Date.now() + 15_000;
    while (updates.length < fixes.length && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expectEqual(
      "watcher got every fix, in order (track:update)",
      updates.map((update) => update.lat),
      fixes.map((fix) => fix.lat),
    );
    const distance = updates.at(-1)?.total_distance_km ?? 0;
    expectEqual("distance so far: 4 × 25 m", Math.round(distance * 1000), 100);
  } finally {
    watcher.close();
  }

  const atDropoff = await uploadPhoto(
    "runner photographs the pet again",
    `/api/bookings/${id}/photos?stage=dropoff`,
    runner,
  );
  await call("a wrong PIN is refused", 422, "POST", `/api/bookings/${id}/deliver`, runner, {
    photo_id: atDropoff,
    pin: pin === "000000" ? "111111" : "000000",
  });
  const link = await call(
    "owner shares the trip",
    201,
    "POST",
    `/api/bookings/${id}/share`,
    owner,
    {},
  );
  const shared = await call(
    "the share link, without a login",
    200,
    "GET",
    `/api/shared/${String(link.token)}`,
  );
  expectEqual(
    "…shows the trip and the runner's first name",
    [shared.status, shared.runner_first_name],
    ["in_transit", "Budi"],
  );
  expectEqual("…and never the PIN", JSON.stringify(shared).includes(pin), false);
  await step("runner delivers with the recipient's PIN", runner, "deliver", "delivered", {
    photo_id: atDropoff,
    pin,
  });
  await step("owner confirms", owner, "confirm", "confirmed");
  const done = await until(
    "completed",
    `/api/bookings/${id}`,
    owner,
    (b) => b.status === "completed",
  );
  const payment = await call("payment", 200, "GET", `/api/bookings/${id}/payment`, owner);
  expectEqual("payment captured", payment.status, "captured");
  expectEqual("captured = the price", payment.captured_cents, booking.estimated_price_cents);
  expectEqual(
    "captured = payout + fee",
    Number(payment.runner_payout_cents) + Number(payment.platform_fee_cents),
    payment.captured_cents,
  );
  expectEqual("final price = captured", done.final_price_cents, payment.captured_cents);
  const track = await call("track", 200, "GET", `/api/bookings/${id}/track`, owner);
  expectEqual(
    "track completed with every fix",
    [track.status, track.waypoint_count],
    ["completed", 5],
  );
  await until("owner notified of completion", "/api/notifications", owner, (inbox) =>
    (inbox.items as { booking_id: string; event_type: string }[]).some(
      (item) => item.booking_id === id && item.event_type === "booking.completed",
    ),
  );
  // The README's links: the trip page and the operators' page answer.
  for (const page of [`/track/${id}`, "/ops", "/share"]) {
    const response = await fetch(base + page);
    const type = response.headers.get("content-type") ?? "";
    if (response.status !== 200 || !type.startsWith("text/html")) {
      throw new StepFailed(`page ${page}: ${response.status} ${type}`);
    }
    pass(`page ${page}`, `GET → 200 ${type}`);
  }
  writeFileSync(file, JSON.stringify({ owner: ownerId, booking_id: id }));
}

async function cancel() {
  const owner = token("owner", `newcomer-canceller-${run}`);
  const booking = await heldBooking(owner);
  const id = String(booking.booking_id);
  const cancelled = await call("owner cancels", 200, "POST", `/api/bookings/${id}/cancel`, owner, {
    reason: "plans changed",
  });
  expectEqual("cancelled: status", cancelled.status, "cancelled");
  const payment = await until(
    "hold released",
    `/api/bookings/${id}/payment`,
    owner,
    (p) => p.status === "canceled" || p.status === "refunded",
  );
  expectEqual("refunded = held", payment.refunded_cents, payment.amount_cents);
  expectEqual("nothing captured", payment.captured_cents, 0);
}

/**
 * A booking 10 days ahead, beyond the authorisation window: paying saves the card, and the
 * booking and its payment show it saved, with the time it is held (a day before the pickup).
 * Time cannot be moved from outside: what follows is stored, and seen through GET.
 */
async function scheduled() {
  const owner = token("owner", `newcomer-planner-${run}`);
  const pickupAt = new Date(Math.floor((Date.now() + 10 * 86_400_000) / 1000) * 1000);
  const booked = await call("owner books 10 days ahead", 201, "POST", "/api/bookings", owner, {
    ...trip,
    pickup_at: pickupAt.toISOString(),
  });
  const id = String(booked.booking_id);
  expectEqual("booking: pickup_at", booked.pickup_at, pickupAt.toISOString());
  const paid = await call(
    "owner pays: the card is saved",
    201,
    "POST",
    `/api/bookings/${id}/payment`,
    owner,
    {},
  );
  expectEqual("payment: card saved", paid.status, "card_saved");
  const holdAt = new Date(pickupAt.getTime() - 86_400_000).toISOString();
  expectEqual("payment: held a day before the pickup", paid.hold_at, holdAt);
  expectEqual("payment: nothing held yet", [paid.provider_ref, paid.captured_cents], [null, 0]);
  const booking = await until(
    "booking shows the card saved",
    `/api/bookings/${id}`,
    owner,
    (b) => b.payment_status === "card_saved",
  );
  expectEqual("booking: no payment deadline now", booking.payment_due_at, null);
  expectEqual("booking: still requested", booking.status, "requested");
  const payment = await call("payment as stored", 200, "GET", `/api/bookings/${id}/payment`, owner);
  expectEqual("payment: hold time kept", payment.hold_at, holdAt);
}

/**
 * A booking delivered with its proof; the owner reports a problem with a photo instead of
 * confirming, and an admin refunds part of it: captured + refunded = held, payout + fee = captured.
 */
async function dispute() {
  const owner = token("owner", `newcomer-disputer-${run}`);
  const admin = token("admin", `newcomer-ops-${run}`);
  const runner = await verifiedRunner(`newcomer-runner-d-${run}`, admin);
  const pet = await call("owner adds a pet", 201, "POST", "/api/pets", owner, {
    name: "Mochi",
    species: "cat",
    weight_kg: 4,
    crate_size: "small",
    vaccinations: [{ kind: "rabies", given_on: day(-30), expires_on: day(335) }],
  });
  const booking = await heldBooking(owner, {
    pet_ids: [String(pet.pet_id)],
    pickup,
    dropoff: trip.dropoff,
  });
  const id = String(booking.booking_id);
  const move = (name: string, who: string, action: string, status: string, body: Body = {}) =>
    call(name, 200, "POST", `/api/bookings/${id}/${action}`, who, body).then((moved) =>
      expectEqual(`${name}: status`, moved.status, status),
    );
  await move("runner accepts", runner, "accept", "accepted");
  const atPickup = await uploadPhoto(
    "runner photographs the pet",
    `/api/bookings/${id}/photos?stage=pickup`,
    runner,
  );
  await move("runner picks up", runner, "pickup", "picked_up", { photo_id: atPickup });
  await move("runner departs", runner, "depart", "in_transit");
  const atDropoff = await uploadPhoto(
    "runner photographs the pet again",
    `/api/bookings/${id}/photos?stage=dropoff`,
    runner,
  );
  await move("runner delivers", runner, "deliver", "delivered", {
    photo_id: atDropoff,
    pin: String(booking.handover_pin),
  });

  const evidence = await uploadPhoto(
    "owner photographs the problem",
    `/api/bookings/${id}/photos?stage=dispute`,
    owner,
  );
  await move("owner reports a problem instead of confirming", owner, "dispute", "disputed", {
    reason: "injured",
    text: "A scratch on the left ear that was not there at pickup",
    photo_ids: [evidence],
  });
  await call(
    "a disputed booking cannot be confirmed",
    409,
    "POST",
    `/api/bookings/${id}/confirm`,
    owner,
    {},
  );
  const held = Number(booking.estimated_price_cents);
  const refund = Math.floor(held / 4);
  await move("admin refunds part of it", admin, "resolve", "confirmed", {
    outcome: "partial_refund",
    refund_cents: refund,
    note: "vet bill",
  });
  const done = await until(
    "completed",
    `/api/bookings/${id}`,
    owner,
    (b) => b.status === "completed",
  );
  const payment = await call("payment", 200, "GET", `/api/bookings/${id}/payment`, owner);
  expectEqual(
    "captured = held − refund; refunded = refund",
    [payment.captured_cents, payment.refunded_cents],
    [held - refund, refund],
  );
  expectEqual(
    "payout + fee + refunded = held",
    Number(payment.runner_payout_cents) + Number(payment.platform_fee_cents) + refund,
    held,
  );
  expectEqual("final price = captured", done.final_price_cents, payment.captured_cents);
  await until("owner notified of the resolution", "/api/notifications", owner, (inbox) =>
    (inbox.items as { booking_id: string; event_type: string }[]).some(
      (item) => item.booking_id === id && item.event_type === "booking.dispute_resolved",
    ),
  );
}

async function remembered(file: string, present: boolean) {
  const { owner, booking_id } = JSON.parse(readFileSync(file, "utf8")) as {
    owner: string;
    booking_id: string;
  };
  const path = `/api/bookings/${booking_id}`;
  if (!present) {
    await call("the earlier booking is gone", 404, "GET", path, token("owner", owner));
    return;
  }
  const booking = await call(
    "the earlier booking is kept",
    200,
    "GET",
    path,
    token("owner", owner),
  );
  expectEqual("…still completed", booking.status, "completed");
}

async function main() {
  await call("health", 200, "GET", "/health");
  await call("ready", 200, "GET", "/ready");
  switch (scenario) {
    case "lifecycle":
      return lifecycle(stateFile);
    case "cancel":
      return cancel();
    case "scheduled":
      return scheduled();
    case "dispute":
      return dispute();
    case "remembers":
      return remembered(stateFile, true);
    case "forgot":
      return remembered(stateFile, false);
    default:
      throw new StepFailed(
        `unknown scenario ${scenario}: lifecycle | cancel | scheduled | dispute | remembers | forgot`,
      );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`  ✗ ${error instanceof StepFailed ? error.message : String(error)}`);
    process.exit(1);
  },
);
