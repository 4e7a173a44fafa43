import type { Actor } from "../../domain/access";
import { preferRated, type RatedCandidate } from "../../domain/dispatch";
import {
  ONLY_COMPLETED,
  ONLY_PARTIES,
  RATED_ALREADY,
  averageOf,
  decide,
  visibleRatings,
  windowEndOf,
  type RatedBooking,
  type Rating,
  type RatingCommand,
} from "../../domain/ratings";
import { givenWhenThen } from "../support/decider";

const given = givenWhenThen(decide);

const DAY = 86_400_000;
const WINDOW = 7 * DAY;
const completedAt = new Date("2025-03-01T10:00:00.000Z");
const later = (ms: number) => new Date(completedAt.getTime() + ms);
const windowEnds = later(WINDOW);

const owner: Actor = { role: "owner", sub: "o-1" };
const runner: Actor = { role: "runner", sub: "r-1" };
const booking: RatedBooking = {
  _id: "b-1",
  booking_number: "KLT-1",
  status: "completed",
  owner_id: "o-1",
  runner_id: "r-1",
  completed_at: completedAt,
};

const rate = (
  rater: Actor,
  at = later(DAY),
  extra: Partial<Extract<RatingCommand, { type: "rate" }>> = {},
): RatingCommand => ({
  type: "rate",
  booking,
  rater,
  stars: 4,
  text: "Gentle with the dog",
  at,
  windowMs: WINDOW,
  ...extra,
});

const ownersRating: Rating = {
  _id: "b-1:owner",
  booking_id: "b-1",
  booking_number: "KLT-1",
  rater_role: "owner",
  rater_id: "o-1",
  ratee_role: "runner",
  ratee_id: "r-1",
  stars: 4,
  text: "Gentle with the dog",
  created_at: later(DAY),
  window_ends_at: windowEnds,
  revealed_at: null,
};
const runnersRating: Rating = {
  ...ownersRating,
  _id: "b-1:runner",
  rater_role: "runner",
  rater_id: "r-1",
  ratee_role: "owner",
  ratee_id: "o-1",
  stars: 5,
  text: null,
};

describe("rating a completed booking", () => {
  it("given no rating yet, when the owner rates, then its rating of the runner is stored, hidden and unpublished", () => {
    given(null).when(rate(owner)).thenAccepted({ expect: {}, changes: ownersRating });
  });

  it("given no rating yet, when the runner rates, then its rating of the owner is stored", () => {
    given(null)
      .when(rate(runner, later(DAY), { stars: 5, text: null }))
      .thenAccepted({ expect: {}, changes: runnersRating });
  });

  it("given the owner's rating, when it rates again, then it is refused as a conflict", () => {
    given(ownersRating).when(rate(owner)).thenRefused("conflict", RATED_ALREADY);
  });

  it("when someone other than the owner and its runner rates, then it is forbidden", () => {
    const another: Actor = { role: "runner", sub: "r-2" };
    given(null).when(rate(another)).thenRefused("forbidden", ONLY_PARTIES);
    given(null)
      .when(rate({ role: "admin", sub: "ops" }))
      .thenRefused("forbidden", ONLY_PARTIES);
    // The same sub in the other role is someone else.
    given(null)
      .when(rate({ role: "runner", sub: "o-1" }))
      .thenRefused("forbidden", ONLY_PARTIES);
  });

  it("given a booking not completed, when its owner rates, then it is refused as a conflict", () => {
    const delivered = { ...booking, status: "delivered" as const, completed_at: null };
    given(null)
      .when(rate(owner, later(DAY), { booking: delivered }))
      .thenRefused("conflict", ONLY_COMPLETED, { status: "delivered" });
  });

  it("rates up to the window's last moment, and not after", () => {
    given(null).when(rate(owner, windowEnds)).thenAccepted();
    given(null)
      .when(rate(owner, later(WINDOW + 1)))
      .thenRefused("conflict", "The rating window closed at 2025-03-08T10:00:00.000Z", {
        window_ends_at: "2025-03-08T10:00:00.000Z",
      });
  });
});

describe("revealing a rating", () => {
  const at = later(2 * DAY);

  it("given a hidden rating, when both have rated, then it is shown and published as booking.rated", () => {
    given(ownersRating)
      .when({ type: "reveal", both: true, at })
      .thenAccepted({
        expect: { revealed_at: null },
        changes: { revealed_at: at },
        events: [
          {
            type: "booking.rated",
            data: {
              booking_id: "b-1",
              booking_number: "KLT-1",
              rater_role: "owner",
              rater_id: "o-1",
              ratee_role: "runner",
              ratee_id: "r-1",
              stars: 4,
              occurred_at: at.toISOString(),
            },
          },
        ],
      });
  });

  it("given a hidden rating alone, when its window has not ended, then it stays hidden", () => {
    given(ownersRating).when({ type: "reveal", both: false, at }).thenRefused();
  });

  it("given a hidden rating alone, when its window has ended, then it is shown and published", () => {
    given(ownersRating)
      .when({ type: "reveal", both: false, at: windowEnds })
      .thenChanges({ revealed_at: windowEnds });
  });

  it("given a rating shown already, when revealed again, then nothing changes and nothing is published", () => {
    given({ ...ownersRating, revealed_at: at })
      .when({ type: "reveal", both: true, at: later(3 * DAY) })
      .thenAccepted({ expect: {}, changes: {} });
  });

  it("given no rating, when revealed, then it is not found", () => {
    given(null)
      .when({ type: "reveal", both: true, at })
      .thenRefused("not_found", "Rating not found");
  });
});

describe("who sees which rating", () => {
  const parties = { owner_id: "o-1", runner_id: "r-1" };
  const before = later(DAY);

  it("given the owner's rating alone, the owner sees it and the runner does not, until the window ends", () => {
    const given = [ownersRating];
    expect(visibleRatings(owner, parties, given, windowEnds, before)).toEqual([ownersRating]);
    expect(visibleRatings(runner, parties, given, windowEnds, before)).toEqual([]);
    expect(visibleRatings(runner, parties, given, windowEnds, windowEnds)).toEqual([ownersRating]);
  });

  it("given both ratings, each party sees both", () => {
    const both = [ownersRating, runnersRating];
    expect(visibleRatings(owner, parties, both, windowEnds, before)).toEqual(both);
    expect(visibleRatings(runner, parties, both, windowEnds, before)).toEqual(both);
  });

  it("shows admins every rating at once, and anyone else none", () => {
    const admin: Actor = { role: "admin", sub: "ops" };
    expect(visibleRatings(admin, parties, [runnersRating], windowEnds, before)).toEqual([
      runnersRating,
    ]);
    const stranger: Actor = { role: "owner", sub: "o-2" };
    expect(visibleRatings(stranger, parties, [ownersRating, runnersRating], null, before)).toEqual(
      [],
    );
  });

  it("ends the window RATING_WINDOW after completion; a booking not completed has none", () => {
    expect(windowEndOf(booking, WINDOW)).toEqual(windowEnds);
    expect(windowEndOf({ completed_at: null }, WINDOW)).toBeNull();
  });
});

describe("a runner's average", () => {
  it("is the mean of the stars to two decimals, and null before the first rating", () => {
    expect(averageOf({ count: 3, sum: 14 })).toEqual(4.67);
    expect(averageOf({ count: 2, sum: 9 })).toEqual(4.5);
    expect(averageOf({ count: 0, sum: 0 })).toBeNull();
    expect(averageOf(undefined)).toBeNull();
  });
});

describe("preferRated: dispatch among equally near runners", () => {
  const c = (runnerId: string, distanceKm: number, average: number | null): RatedCandidate => ({
    runnerId,
    distanceKm,
    average,
  });
  const ids = (candidates: RatedCandidate[]) => candidates.map((candidate) => candidate.runnerId);
  const TIE_KM = 0.25;

  it("given runners within 250 m of the nearest, offers the best rated of them first", () => {
    const near = [c("r-near", 1, 3.5), c("r-good", 1.2, 4.9), c("r-ok", 1.25, 4.2)];
    expect(ids(preferRated(near, TIE_KM))).toEqual(["r-good", "r-ok", "r-near"]);
  });

  it("never prefers a runner further than the tie for its stars: the rest follow by distance", () => {
    const near = [c("r-far-star", 1.3, 5), c("r-near", 1, 2), c("r-farther", 2, 4)];
    expect(ids(preferRated(near, TIE_KM))).toEqual(["r-near", "r-far-star", "r-farther"]);
  });

  it("ranks an unrated runner as three stars: after a well rated one, before a poorly rated one", () => {
    const near = [c("r-poor", 1, 2.1), c("r-new", 1.1, null), c("r-good", 1.2, 4)];
    expect(ids(preferRated(near, TIE_KM))).toEqual(["r-good", "r-new", "r-poor"]);
  });

  it("given equal ratings, offers the nearer, then the lower runnerId", () => {
    const near = [c("r-b", 1.1, 4), c("r-c", 1, 4), c("r-a", 1.1, 4)];
    expect(ids(preferRated(near, TIE_KM))).toEqual(["r-c", "r-a", "r-b"]);
  });

  it("given a tie of 0 m, keeps nearest first (only runners at the same distance compare stars)", () => {
    const near = [c("r-1", 1, 2), c("r-2", 1.01, 5), c("r-3", 1, 4)];
    expect(ids(preferRated(near, 0))).toEqual(["r-3", "r-1", "r-2"]);
  });

  it("drops runners with no known distance, and leaves the input as it was", () => {
    const near = [c("r-lost", NaN, 5), c("r-1", 1, 3)];
    expect(ids(preferRated(near, TIE_KM))).toEqual(["r-1"]);
    expect(ids(near)).toEqual(["r-lost", "r-1"]);
    expect(preferRated([], TIE_KM)).toEqual([]);
  });
});
