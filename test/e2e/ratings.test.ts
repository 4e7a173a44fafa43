import type {
  BookingEntity,
  BookingRatingsEntity,
  NotificationEntity,
  OfferEntity,
  RatingEntity,
  RunnerEntity,
} from "../../contracts";
import { createEvent } from "../../events/envelope";
import { runtimeOf } from "../../lib/runtime";
import { describeWithInfra, type Infra } from "../support/infra";
import { makeMove } from "../support/handover";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System, type SystemOptions } from "../support/system";
import { heldBooking } from "../support/trips";
import { eventually } from "../support/wait";

const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };

/** Short, so that a test sees a window end; long enough to rate in it after a completion. */
const RATING_WINDOW_MS = 8000;

type Answer = RatingEntity & { type?: string; message?: string };

/** Where the suite runs: every service in one process, or over Kafka and Redis in four. */
const MODES = [
  {
    name: "embedded",
    needs: ["mongo"] as const,
    options: (infra: Required<Infra>): SystemOptions => ({ infra: { mongo: infra.mongo } }),
  },
  {
    name: "distributed",
    needs: ["mongo", "kafka", "redis"] as const,
    options: (infra: Required<Infra>): SystemOptions => ({
      infra: { mongo: infra.mongo, kafka: infra.kafka, redis: infra.redis },
      processes: [["api"], ["booking"], ["payment", "notification"], ["runner", "tracking"]],
    }),
  },
];

/**
 * Ratings after a trip through the public API: each party rates the other once, double-blind
 * (shown once both have rated, or the window has ended), published as `booking.rated`, which
 * the runner's average and the rated party's inbox hear.
 */
describe.each(MODES)("ratings after a trip, $name", ({ name, needs, options }) =>
  describeWithInfra([...needs], `through the public API (${name})`, (infra) => {
    let system: System;
    const admin = () => system.token("admin", "ops-ratings");

    beforeAll(async () => {
      const given = options(infra);
      system = await startSystem({
        ...given,
        env: { ...given.env, RATING_WINDOW: `${RATING_WINDOW_MS}ms` },
      });
    }, 60_000);
    afterAll(async () => {
      await system?.stop();
    });

    const post = (path: string, token: string, body: unknown = {}) =>
      system.api<Answer>("POST", path, { token, body });
    const get = <T>(path: string, token: string) => system.api<T>("GET", path, { token });
    const ratingsOf = async (id: string, token: string) => {
      const answer = await get<BookingRatingsEntity>(`/api/bookings/${id}/ratings`, token);
      expect(answer.status).toBe(200);
      return answer.body;
    };
    const ratingOfRunner = async (token: string) =>
      (await get<RunnerEntity>("/api/runners/me", token)).body.rating;

    /** A booking carried by a fresh verified runner through to `completed`. */
    async function completed(name: string) {
      const owner = system.token("owner", `owner-${name}`);
      const runner = system.token("runner", `runner-${name}`);
      await verifiedRunner(system, runner);
      expect((await post("/api/runners/me/online", runner, pickup)).status).toBe(200);
      const booking = await heldBooking(system, owner, trip);
      const id = booking.booking_id;
      const who = { runner, owner };
      for (const move of ["accept", "pickup", "depart", "deliver"]) {
        expect([move, (await makeMove(system, id, move, who)).status]).toEqual([move, 200]);
      }
      expect((await post(`/api/bookings/${id}/confirm`, owner)).status).toBe(200);
      const done = await eventually(
        async () => {
          const now = await get<BookingEntity>(`/api/bookings/${id}`, owner);
          return now.body.status === "completed" ? now.body : undefined;
        },
        { what: "the booking to complete" },
      );
      return { id, number: done.booking_number, owner, runner, ownerId: done.owner_id };
    }

    it("hides the owner's rating from the runner until the runner rates; then both see both, the runner's average counts it, and each hears its stars", async () => {
      const { id, number, owner, runner, ownerId } = await completed("blind");
      const runnerId = `runner-blind`;

      const rated = await post(`/api/bookings/${id}/rating`, owner, {
        stars: 4,
        text: "Kind to Rex",
      });
      expect(rated.status).toBe(201);
      const ownersRating: RatingEntity = {
        booking_id: id,
        booking_number: number,
        rater_role: "owner",
        rater_id: ownerId,
        ratee_role: "runner",
        ratee_id: runnerId,
        stars: 4,
        text: "Kind to Rex",
        created_at: expect.any(String) as string,
      };
      expect(rated.body).toEqual(ownersRating);

      // The owner sees its own; the runner sees nothing of it yet, only that one is waiting.
      const toOwner = await ratingsOf(id, owner);
      expect([toOwner.items, toOwner.hidden, toOwner.can_rate]).toEqual([[ownersRating], 0, false]);
      const toRunner = await ratingsOf(id, runner);
      expect([toRunner.items, toRunner.hidden, toRunner.can_rate]).toEqual([[], 1, true]);

      // Bad stars: 422, and nothing changes.
      for (const stars of [0, 6, 4.5, "5", null]) {
        const bad = await post(`/api/bookings/${id}/rating`, runner, { stars });
        expect([stars, bad.status, bad.body.type]).toEqual([stars, 422, "VALIDATION_ERROR"]);
      }
      const tooLong = await post(`/api/bookings/${id}/rating`, runner, {
        stars: 5,
        text: "x".repeat(501),
      });
      expect(tooLong.status).toBe(422);
      expect(await ratingsOf(id, runner)).toEqual(toRunner);
      // Once each: a second rating is a conflict, and the first stands.
      const again = await post(`/api/bookings/${id}/rating`, owner, { stars: 1 });
      expect([again.status, again.body.message]).toEqual([
        409,
        "You have rated this booking already",
      ]);

      const runnerRated = await post(`/api/bookings/${id}/rating`, runner, { stars: 5 });
      expect(runnerRated.status).toBe(201);
      const runnersRating: RatingEntity = {
        ...ownersRating,
        rater_role: "runner",
        rater_id: runnerId,
        ratee_role: "owner",
        ratee_id: ownerId,
        stars: 5,
        text: null,
        created_at: expect.any(String) as string,
      };
      for (const token of [owner, runner, admin()]) {
        const seen = await ratingsOf(id, token);
        expect([seen.items, seen.hidden, seen.can_rate]).toEqual([
          [ownersRating, runnersRating],
          0,
          false,
        ]);
      }

      // booking.rated: the owner's stars count in the runner's average, and each hears its stars.
      await eventually(
        async () => {
          const rating = await ratingOfRunner(runner);
          return rating.count === 1 ? rating : undefined;
        },
        { what: "the runner's average" },
      );
      expect(await ratingOfRunner(runner)).toEqual({ count: 1, average: 4 });
      const heard = (token: string, title: string) =>
        eventually(
          async () => {
            const inbox = await get<{ items: NotificationEntity[] }>("/api/notifications", token);
            return inbox.body.items.find((n) => n.title === title);
          },
          { what: title },
        );
      expect((await heard(runner, `Booking ${number}: you were rated 4★`)).event_type).toBe(
        "booking.rated",
      );
      await heard(owner, `Booking ${number}: you were rated 5★`);
    });

    it("answers 404 to a stranger, 403 to an admin rating, 409 before completion", async () => {
      const { id, owner } = await completed("strangers");
      for (const stranger of [
        system.token("owner", "owner-stranger"),
        system.token("runner", "runner-stranger"),
      ]) {
        expect((await post(`/api/bookings/${id}/rating`, stranger, { stars: 5 })).status).toBe(404);
        expect((await get(`/api/bookings/${id}/ratings`, stranger)).status).toBe(404);
      }
      expect((await post(`/api/bookings/${id}/rating`, admin(), { stars: 5 })).status).toBe(403);
      expect((await ratingsOf(id, owner)).can_rate).toBe(true);

      const open = await heldBooking(system, owner, trip);
      const early = await post(`/api/bookings/${open.booking_id}/rating`, owner, { stars: 5 });
      expect([early.status, early.body.message]).toEqual([
        409,
        "Only a completed booking can be rated",
      ]);
      expect(await ratingsOf(open.booking_id, owner)).toEqual({
        booking_id: open.booking_id,
        window_ends_at: null,
        can_rate: false,
        items: [],
        hidden: 0,
      });
      // Off the dispatch queue: a runner coming online in the next test is not offered it.
      const cancelled = await post(`/api/bookings/${open.booking_id}/cancel`, owner, {
        reason: "Rated too early",
      });
      expect(cancelled.status).toBe(200);
    });

    it("shows a lone rating once the window ends, publishes it, counts it once however often it is replayed, and takes no rating after", async () => {
      const { id, number, owner, runner } = await completed("window");
      const runnerId = "runner-window";
      expect((await post(`/api/bookings/${id}/rating`, owner, { stars: 2 })).status).toBe(201);
      const hidden = await ratingsOf(id, runner);
      expect([hidden.items, hidden.hidden]).toEqual([[], 1]);
      const ends = Date.parse(hidden.window_ends_at ?? "");

      // The sweep publishes it after the window's end: the runner's average counts it.
      const counted = await eventually(
        async () => {
          const rating = await ratingOfRunner(runner);
          return rating.count === 1 ? rating : undefined;
        },
        { what: "the lone rating to be published", timeoutMs: RATING_WINDOW_MS + 15_000 },
      );
      expect(Date.now()).toBeGreaterThanOrEqual(ends);
      expect(counted).toEqual({ count: 1, average: 2 });
      const shown = await ratingsOf(id, runner);
      expect([
        shown.items.map((r) => [r.rater_role, r.stars]),
        shown.hidden,
        shown.can_rate,
      ]).toEqual([[["owner", 2]], 0, false]);
      const late = await post(`/api/bookings/${id}/rating`, runner, { stars: 5 });
      expect([late.status, late.body.type]).toEqual([409, "CONFLICT"]);

      // A replay of the rating (any event id) counts nothing more; another booking's counts once.
      const { bus } = runtimeOf(system.brokers[0]);
      const rated = (bookingId: string, stars: number) =>
        createEvent(
          "booking.rated",
          {
            booking_id: bookingId,
            booking_number: number,
            rater_role: "owner",
            rater_id: "owner-window",
            ratee_role: "runner",
            ratee_id: runnerId,
            stars,
            occurred_at: new Date().toISOString(),
          },
          { service: "booking" },
        );
      const replay = rated(id, 2);
      const other = rated("booking-replayed-elsewhere", 5);
      await bus.publish("booking.events", [replay, replay, rated(id, 2), other, other]);
      await eventually(
        async () => ((await ratingOfRunner(runner)).count === 2 ? true : undefined),
        {
          what: "the other booking's rating",
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await ratingOfRunner(runner)).toEqual({ count: 2, average: 3.5 });
    });

    it("offers a booking to the better rated of two runners at the same spot, the rating on the offer", async () => {
      // Only the two runners of this test are online.
      for (const name of ["blind", "strangers", "window"]) {
        await post("/api/runners/me/offline", system.token("runner", `runner-${name}`));
      }
      const plain = system.token("runner", "runner-a-plain");
      const starred = system.token("runner", "runner-z-starred");
      for (const token of [plain, starred]) {
        await verifiedRunner(system, token);
        expect((await post("/api/runners/me/online", token, pickup)).status).toBe(200);
      }
      // runner-z-starred has one five-star rating (runner-a-plain, none): nearest by id alone, the
      // plain one would be offered the booking first.
      const { bus } = runtimeOf(system.brokers[0]);
      await bus.publish("booking.events", [
        createEvent(
          "booking.rated",
          {
            booking_id: "booking-starred",
            booking_number: "KLT-STARRED",
            rater_role: "owner",
            rater_id: "owner-starred",
            ratee_role: "runner",
            ratee_id: "runner-z-starred",
            stars: 5,
            occurred_at: new Date().toISOString(),
          },
          { service: "booking" },
        ),
      ]);
      await eventually(
        async () => ((await ratingOfRunner(starred)).count === 1 ? true : undefined),
        {
          what: "the starred runner's rating",
        },
      );

      const booking = await heldBooking(system, system.token("owner", "owner-dispatch"), trip);
      const offers = await eventually(
        async () => {
          const mine = await get<{ items: OfferEntity[] }>("/api/runners/me/offers", starred);
          return mine.body.items.length > 0 ? mine.body.items : undefined;
        },
        { what: "the offer to the starred runner" },
      );
      expect(offers.map((offer) => [offer.booking_id, offer.runner_rating])).toEqual([
        [booking.booking_id, { count: 1, average: 5 }],
      ]);
      const toPlain = await get<{ items: OfferEntity[] }>("/api/runners/me/offers", plain);
      expect(toPlain.body.items).toEqual([]);
    });
  }),
);
