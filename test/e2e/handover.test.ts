import type {
  BookingEntity,
  BookingMoved,
  NotificationEntity,
  OfferEntity,
  SharedTrip,
  ShareLinkEntity,
} from "../../contracts";
import type { DomainEvent } from "../../events/envelope";
import { runtimeOf } from "../../lib/runtime";
import { describeWithInfra } from "../support/infra";
import { makeMove, pinOf, proofPhoto, smallJpeg, storedPhotos, upload } from "../support/handover";
import { connectSocket, request } from "../support/live";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { fixRecordedAt, heldBooking, trackStarted } from "../support/trips";
import { eventually } from "../support/wait";

const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };

type Answer = BookingEntity & { type?: string; message?: string; data?: unknown };

/** What a handover event says of its proof (events/catalog.ts `proof`). */
type ProofData = { booking_id?: string; proof_lat?: number; proof_lng?: number };

/** A `booking:status` push's arguments, once the booking is delivered. */
const isDelivered = (payload: unknown[]) =>
  (payload[0] as BookingMoved | undefined)?.status === "delivered";

/**
 * Proof at both ends through the public API: a photo of the pet at pickup, a photo and the
 * recipient's PIN at the drop-off (a few wrong ones lock the handover and alert operations), and
 * a share link that shows the trip without a login.
 */
describeWithInfra(["mongo"], "the handover and the share link, embedded", (infra) => {
  let system: System;
  let owner: string;
  const admin = () => system.token("admin", "ops-handover");

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { HANDOVER_PIN_TRIES: "3" },
    });
    owner = system.token("owner", "owner-handover");
  });
  afterAll(async () => {
    await system?.stop();
  });

  const post = (path: string, token: string, body: unknown = {}) =>
    system.api<Answer>("POST", path, { token, body });
  const get = <T>(path: string, token?: string) => system.api<T>("GET", path, { token });

  /** A paid booking, accepted by a fresh verified runner: its id and the runner's token. */
  async function accepted(name: string) {
    const runner = system.token("runner", name);
    await verifiedRunner(system, runner);
    expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
    const booking = await heldBooking(system, owner, trip);
    expect((await post(`/api/bookings/${booking.booking_id}/accept`, runner)).status).toBe(200);
    return { id: booking.booking_id, runner };
  }

  it("refuses a pickup without a photo, or with a photo of another booking, and changes nothing", async () => {
    const first = await accepted("runner-no-photo");
    const missing = await post(`/api/bookings/${first.id}/pickup`, first.runner);
    expect([missing.status, missing.body.type]).toEqual([422, "VALIDATION_ERROR"]);

    const second = await accepted("runner-other-photo");
    const theirs = await proofPhoto(system, second.id, second.runner, "pickup");
    const borrowed = await post(`/api/bookings/${first.id}/pickup`, first.runner, {
      photo_id: theirs,
    });
    expect([borrowed.status, borrowed.body.message]).toEqual([
      422,
      expect.stringContaining("photo_id: not a photo of this booking you uploaded"),
    ]);
    expect((await get<BookingEntity>(`/api/bookings/${first.id}`, owner)).body.status).toBe(
      "accepted",
    );
  });

  /** Where a handover event of the booking says the track was, once the outbox published it. */
  const provenAt = (id: string, type: string) =>
    eventually(
      async () => {
        const event = (await runtimeOf(system.brokers[0]).bus.readTopic("booking.events"))
          .map((record) => JSON.parse(record.value) as DomainEvent)
          .map((parsed) => ({ type: parsed.type, data: parsed.data as ProofData }))
          .find((parsed) => parsed.type === type && parsed.data.booking_id === id);
        return event && { proof_lat: event.data.proof_lat, proof_lng: event.data.proof_lng };
      },
      { what: `${type} of ${id}` },
    );

  it("runs the handover with proof: photos and positions on the booking and in the events", async () => {
    const { id, runner } = await accepted("runner-proof");
    const who = { runner, owner };
    // Where the track is at each handover: the pickup, then a few steps on (the runner cannot
    // reach the drop-off in the seconds a test has; the position is the track's, not a place's).
    const handedOverAt = { lat: -6.2003, lng: 106.8002 };

    await fixRecordedAt(system, runner, id, pickup);
    const picked = await makeMove(system, id, "pickup", who);
    expect([picked.status, picked.body.status]).toEqual([200, "picked_up"]);
    expect(picked.body.pickup_proof).toEqual({
      photo_id: expect.any(String) as string,
      at: expect.any(String) as string,
      position: pickup,
    });
    expect((await makeMove(system, id, "depart", who)).status).toBe(200);
    await fixRecordedAt(system, runner, id, handedOverAt);
    const delivered = await makeMove(system, id, "deliver", who);
    expect([delivered.status, delivered.body.status]).toEqual([200, "delivered"]);
    expect(delivered.body.dropoff_proof).toEqual({
      photo_id: expect.any(String) as string,
      at: expect.any(String) as string,
      position: handedOverAt,
      pin_verified: true,
    });

    // The owner reads the same proof later, and the events carry its positions.
    const read = (await get<BookingEntity>(`/api/bookings/${id}`, owner)).body;
    expect([read.pickup_proof, read.dropoff_proof]).toEqual([
      picked.body.pickup_proof,
      delivered.body.dropoff_proof,
    ]);
    expect(await provenAt(id, "booking.pet_picked_up")).toEqual({
      proof_lat: pickup.lat,
      proof_lng: pickup.lng,
    });
    expect(await provenAt(id, "booking.delivered")).toEqual({
      proof_lat: handedOverAt.lat,
      proof_lng: handedOverAt.lng,
    });

    // The owner sees both photos; the bytes are the re-encoded JPEG.
    const photo = await fetch(
      `${system.url}/api/bookings/${id}/photos/${delivered.body.dropoff_proof?.photo_id}`,
      { headers: { authorization: `Bearer ${owner}` } },
    );
    expect([photo.status, photo.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    expect(Buffer.from(await photo.arrayBuffer()).subarray(0, 2)).toEqual(
      Buffer.from([0xff, 0xd8]),
    );
  });

  it("never lets the runner read the PIN: not in its bookings, offers, inbox or socket pushes", async () => {
    const runner = system.token("runner", "runner-no-pin");
    await verifiedRunner(system, runner);
    expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
    // Everything the runner's app hears, from before the booking exists to after it is over.
    const socket = await connectSocket(system.url, runner);
    const pushes: { event: string; payload: unknown[] }[] = [];
    socket.onAny((event: string, ...payload: unknown[]) => pushes.push({ event, payload }));
    try {
      const booking = await heldBooking(system, owner, trip);
      const id = booking.booking_id;
      const pin = await pinOf(system, id, owner);
      // The PIN as a number of its own: not the same digits inside a longer one (a float's tail).
      const pinIn = new RegExp(`(?<!\\d)${pin}(?!\\d)`);
      const offers = await eventually(
        async () => {
          const listed = await get<{ items: OfferEntity[] }>("/api/runners/me/offers", runner);
          return listed.body.items.some((offer) => offer.booking_id === id) ? listed : undefined;
        },
        { what: "the offer to the runner" },
      );
      expect((await post(`/api/bookings/${id}/accept`, runner)).status).toBe(200);
      // The track starts when the tracking service hears of the accept: the room opens then.
      await trackStarted(system, runner, id);
      expect((await request(socket, "track:subscribe", { booking_id: id })).ok).toBe(true);
      const who = { runner, owner };
      const moves = [];
      for (const move of ["pickup", "depart", "deliver"]) {
        const moved = await makeMove(system, id, move, who);
        expect(moved.status).toBe(200);
        moves.push(moved.body);
      }
      expect((await post(`/api/bookings/${id}/confirm`, owner)).status).toBe(200);
      const inbox = await eventually(
        async () => {
          const read = await get<{ items: NotificationEntity[] }>("/api/notifications", runner);
          return read.body.items.some((n) => n.title.endsWith("delivery confirmed"))
            ? read
            : undefined;
        },
        { what: "the runner told of the confirmation" },
      );
      await eventually(
        async () =>
          pushes.some(({ event, payload }) => event === "booking:status" && isDelivered(payload))
            ? true
            : undefined,
        { what: "the delivery pushed to the runner's socket" },
      );

      const seen = {
        list: (await get("/api/bookings", runner)).body,
        booking: (await get(`/api/bookings/${id}`, runner)).body,
        offers: [offers.body, (await get("/api/runners/me/offers", runner)).body],
        inbox: inbox.body,
        moves,
        pushes,
      };
      // What the runner read covers this booking (so a leak would be in it)...
      expect(JSON.stringify(seen.list)).toContain(id);
      expect(pushes.map(({ event }) => event)).toEqual(
        expect.arrayContaining(["notification", "booking:status"]),
      );
      for (const [what, body] of Object.entries(seen)) {
        expect([what, pinIn.test(JSON.stringify(body))]).toEqual([what, false]);
      }
      // ...and the same check finds the PIN where it is meant to be: the owner's view.
      expect(JSON.stringify((await get(`/api/bookings/${id}`, owner)).body)).toMatch(pinIn);
    } finally {
      socket.close();
    }
  });

  it("counts wrong PINs (422 with the tries left), locks at the third and alerts operations; an admin unlocks", async () => {
    const { id, runner } = await accepted("runner-wrong-pin");
    const who = { runner, owner };
    await makeMove(system, id, "pickup", who);
    await makeMove(system, id, "depart", who);
    const pin = await pinOf(system, id, owner);
    const wrong = pin === "000000" ? "111111" : "000000";
    const photo_id = await proofPhoto(system, id, runner, "dropoff");
    const deliver = (given: string) =>
      post(`/api/bookings/${id}/deliver`, runner, { photo_id, pin: given });

    const first = await deliver(wrong);
    expect([first.status, first.body.message]).toEqual([
      422,
      "Invalid request: pin: does not match: 2 tries left",
    ]);
    expect((await deliver(wrong)).body.message).toBe(
      "Invalid request: pin: does not match: 1 try left",
    );
    const third = await deliver(wrong);
    expect([third.status, third.body.type]).toEqual([409, "CONFLICT"]);
    // Locked: even the right PIN is refused now, and the booking has not moved.
    const locked = await deliver(pin);
    expect([locked.status, locked.body.message]).toEqual([
      409,
      "The handover is locked after too many wrong PINs: operations will contact you",
    ]);
    const now = await get<BookingEntity>(`/api/bookings/${id}`, owner);
    expect([now.body.status, now.body.handover_locked]).toEqual(["in_transit", true]);

    const locks = await get<{ items: BookingEntity[] }>("/api/ops/handover-locks", admin());
    expect(locks.body.items.map((b) => b.booking_id)).toContain(id);
    await eventually(
      async () => {
        const inbox = await get<{ items: NotificationEntity[] }>("/api/notifications", owner);
        return inbox.body.items.find((n) => n.title.endsWith("handover on hold"));
      },
      { what: "the owner told of the lock" },
    );

    expect((await post(`/api/bookings/${id}/handover/unlock`, owner)).status).toBe(403);
    const unlocked = await post(`/api/bookings/${id}/handover/unlock`, admin());
    expect([unlocked.status, unlocked.body.handover_locked]).toEqual([200, false]);
    const done = await deliver(pin);
    expect([done.status, done.body.status]).toEqual([200, "delivered"]);
  });

  it("refuses a 6 MB upload and a text file as a photo, clearly, storing nothing", async () => {
    const { id, runner } = await accepted("runner-bad-upload");
    const path = `/api/bookings/${id}/photos?stage=pickup`;
    const before = await storedPhotos(system);
    const big = Buffer.concat([await smallJpeg(), Buffer.alloc(6 * 1024 * 1024)]);
    expect((await upload(system, path, runner, big)).status).toBe(413);
    const text = Buffer.from("not a photo at all\n".repeat(100));
    expect((await upload(system, path, runner, text, "image/jpeg")).status).toBe(415);
    expect(await storedPhotos(system)).toEqual(before);
    expect((await get<BookingEntity>(`/api/bookings/${id}`, owner)).body.status).toBe("accepted");
  });

  it("shares the trip without a login: status and first name, the position only while aboard; revoked or over, gone", async () => {
    const { id, runner } = await accepted("runner-share");
    await system.api("PATCH", "/api/runners/me", { token: runner, body: { name: "Budi Santoso" } });
    const share = () =>
      system.api<ShareLinkEntity>("POST", `/api/bookings/${id}/share`, { token: owner, body: {} });
    const made = await system.api<ShareLinkEntity>("POST", `/api/bookings/${id}/share`, {
      token: owner,
      body: { expires_in_minutes: 60 },
    });
    expect(made.status).toBe(201);
    const link = made.body;
    expect(Date.parse(link.expires_at) - Date.parse(link.created_at)).toBe(60 * 60_000);
    expect(link.url).toBe(`/share#${link.token}`);
    const view = () => get<SharedTrip>(`/api/shared/${link.token}`);

    const before = await view();
    expect(before.status).toBe(200);
    expect(before.body).toEqual(
      expect.objectContaining({ status: "accepted", runner_first_name: "Budi", position: null }),
    );
    expect(JSON.stringify(before.body)).not.toMatch(/handover_pin|runner_id|owner_id|Santoso/);

    const who = { runner, owner };
    await makeMove(system, id, "pickup", who);
    const at = { ...pickup, timestamp: new Date().toISOString(), booking_id: id };
    expect((await post("/api/runners/me/location", runner, at)).status).toBe(202);
    await eventually(async () => ((await view()).body.position ? true : undefined), {
      what: "the runner's position on the shared trip",
    });

    // Someone else's guess, or a malformed token, learns nothing.
    expect((await get(`/api/shared/${"A".repeat(43)}`)).status).toBe(404);
    expect(
      (await post(`/api/bookings/${id}/share`, system.token("owner", "stranger"))).status,
    ).toBe(404);
    const listed = await get<{ items: ShareLinkEntity[] }>(`/api/bookings/${id}/share`, owner);
    expect(listed.body.items.map((l) => [l.link_id, l.token])).toEqual([[link.link_id, undefined]]);
    const revoked = await system.api("DELETE", `/api/bookings/${id}/share/${link.link_id}`, {
      token: owner,
    });
    expect(revoked.status).toBe(200);
    expect((await view()).status).toBe(404);

    // A fresh link stops showing the trip once it is over.
    const second = (await share()).body;
    expect((await get(`/api/shared/${second.token}`)).status).toBe(200);
    await makeMove(system, id, "depart", who);
    await makeMove(system, id, "deliver", who);
    await post(`/api/bookings/${id}/confirm`, owner);
    expect((await get(`/api/shared/${second.token}`)).status).toBe(404);
  });
});

/** A share link's set time, shortened by SHARE_LINK_MAX_TTL so the test need not wait minutes. */
describeWithInfra(["mongo"], "a share link's expiry, embedded", (infra) => {
  const MAX_TTL_MS = 5000;
  let system: System;

  beforeAll(async () => {
    system = await startSystem({
      infra: { mongo: infra.mongo },
      env: { SHARE_LINK_MAX_TTL: `${MAX_TTL_MS}ms` },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("stops showing the trip once its time is up, with the same 404 as a revoked link", async () => {
    const owner = system.token("owner", "owner-share-expiry");
    const runner = system.token("runner", "runner-share-expiry");
    await verifiedRunner(system, runner);
    await system.api("POST", "/api/runners/me/online", { token: runner, body: pickup });
    const { booking_id: id } = await heldBooking(system, owner, trip);
    const accepted = await system.api("POST", `/api/bookings/${id}/accept`, { token: runner });
    expect(accepted.status).toBe(200);
    const share = async () => {
      const made = await system.api<ShareLinkEntity>("POST", `/api/bookings/${id}/share`, {
        token: owner,
        body: { expires_in_minutes: 1 },
      });
      expect(made.status).toBe(201);
      return made.body;
    };
    const view = (link: ShareLinkEntity) =>
      system.api<SharedTrip>("GET", `/api/shared/${link.token}`);

    // A minute asked for, SHARE_LINK_MAX_TTL given: the shorter of the two.
    const link = await share();
    expect(Date.parse(link.expires_at) - Date.parse(link.created_at)).toBe(MAX_TTL_MS);
    const revoked = await share();
    const revoke = `/api/bookings/${id}/share/${revoked.link_id}`;
    expect((await system.api("DELETE", revoke, { token: owner })).status).toBe(200);
    expect((await view(link)).status).toBe(200);
    const gone = await view(revoked);
    expect(gone.status).toBe(404);

    await new Promise((resolve) =>
      setTimeout(resolve, Date.parse(link.expires_at) + 50 - Date.now()),
    );
    const expired = await view(link);
    expect([expired.status, expired.body]).toEqual([404, gone.body]);
    // Expired, not revoked: the trip is on, only the link's time is up.
    const listed = await system.api<{ items: ShareLinkEntity[] }>(
      "GET",
      `/api/bookings/${id}/share`,
      { token: owner },
    );
    expect(listed.body.items.find((item) => item.link_id === link.link_id)?.revoked_at).toBeNull();
    expect(
      (await system.api<BookingEntity>("GET", `/api/bookings/${id}`, { token: owner })).body.status,
    ).toBe("accepted");
  });
});
