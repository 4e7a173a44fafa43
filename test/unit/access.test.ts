import {
  SYSTEM,
  bookingsListedFor,
  mayPay,
  maySeeBooking,
  mayWatchTrip,
  partiesOf,
  userKey,
  webhookHears,
  type Actor,
  type User,
} from "../../domain/access";
import { MOVES, MOVE_NAMES, type MoveName } from "../../domain/booking";

const owner: User = { role: "owner", sub: "owner-1" };
const otherOwner: User = { role: "owner", sub: "owner-2" };
const runner: User = { role: "runner", sub: "runner-1" };
const otherRunner: User = { role: "runner", sub: "runner-2" };
const admin: User = { role: "admin", sub: "admin-1" };
const taken = { owner_id: "owner-1", runner_id: "runner-1", status: "accepted" };
const open = { owner_id: "owner-1", runner_id: null, status: "requested" };

describe("access", () => {
  it.each([
    [owner, taken, true],
    [runner, taken, true],
    [admin, taken, true],
    [otherOwner, taken, false],
    [otherRunner, taken, false],
    [otherRunner, open, true], // any runner may look at an open booking, to accept it
    [otherOwner, open, false],
  ] as const)(
    "given %j and the booking %j, when they look, then they see it: %s",
    (actor, booking, sees) => {
      expect(maySeeBooking(actor, booking)).toBe(sees);
    },
  );

  // Who learns a booking exists when moving it is decided by decide: see test/unit/booking.test.ts.

  /** Who may issue each move (its row's `may`), whatever the booking's state. */
  const ISSUERS: Record<MoveName, Actor[]> = {
    accept: [runner, otherRunner],
    pickup: [runner],
    depart: [runner],
    deliver: [runner],
    confirm: [owner, admin, SYSTEM],
    dispute: [owner],
    resolve: [admin],
    complete: [SYSTEM],
    refund: [SYSTEM],
    cancel: [owner, runner, admin, SYSTEM],
    cancel_uncharged: [SYSTEM],
    expire: [SYSTEM],
    arrive_at_pickup: [runner],
    arrive_at_dropoff: [runner],
    no_show_at_pickup: [runner],
    no_show_at_dropoff: [runner],
    no_show_to_ops: [runner],
    hand_back: [runner],
  };
  const EVERYONE: Actor[] = [owner, otherOwner, runner, otherRunner, admin, SYSTEM];
  it.each(
    MOVE_NAMES.flatMap((type) =>
      EVERYONE.map((actor) => [type, actor, ISSUERS[type].includes(actor)] as const),
    ),
  )(
    "given runner-1's booking, when %s is issued by %j, then it may: %s",
    (type, actor, allowed) => {
      expect(MOVES[type].may(actor, taken)).toBe(allowed);
    },
  );

  it("given an owner, a runner and an admin, when they list bookings, then an owner gets its own, a runner its assigned ones, an admin all", () => {
    expect([owner, runner, admin].map((user) => bookingsListedFor(user))).toEqual([
      { owner_id: "owner-1" },
      { runner_id: "runner-1" },
      {},
    ]);
  });

  it("given runner-1's booking, when owners pay into it, then only its owner may", () => {
    expect([
      mayPay({ role: "owner", sub: "owner-1" }, taken),
      mayPay({ role: "owner", sub: "owner-2" }, taken),
    ]).toEqual([true, false]);
  });

  it("given runner-1's booking, when users watch its trip, then only its parties may", () => {
    expect(
      [owner, runner, admin, otherOwner, otherRunner].map((user) => mayWatchTrip(user, taken)),
    ).toEqual([true, true, true, false, false]);
  });

  it("given a booking's parties, when webhooks are asked, then an admin's hears everything, an owner's only its own bookings", () => {
    const parties = partiesOf(taken);
    expect(webhookHears({ role: "admin", owner_id: "admin-1" }, ["owner:owner-9"])).toBe(true);
    expect(webhookHears({ role: "owner", owner_id: "owner-1" }, parties)).toBe(true);
    expect(webhookHears({ role: "owner", owner_id: "owner-2" }, parties)).toBe(false);
  });

  describe("identity is the pair (role, sub)", () => {
    // Subs come from whoever issues tokens; nothing keeps a runner's from equalling an owner's.
    const twin = { owner_id: "same", runner_id: "runner-1", status: "accepted" };
    const runnerNamedLikeOwner: User = { role: "runner", sub: "same" };
    const adminNamedLikeOwner: User = { role: "admin", sub: "same" };

    it("given an accepted booking, when a runner whose sub is the owner's id looks, then they are not the owner", () => {
      expect(maySeeBooking(runnerNamedLikeOwner, twin)).toBe(false);
      expect(mayWatchTrip(runnerNamedLikeOwner, twin)).toBe(false);
      expect(mayPay(runnerNamedLikeOwner, twin)).toBe(false);
      expect(MOVES.confirm.may(runnerNamedLikeOwner, twin)).toBe(false);
      expect(MOVES.cancel.may(runnerNamedLikeOwner, twin)).toBe(false);
      // decide hides the booking from them: see test/unit/booking.test.ts.
    });

    it("given a booking, when an owner whose sub is its runner's id looks, then they are not its runner", () => {
      const ownerNamedLikeRunner: User = { role: "owner", sub: "runner-1" };
      expect(maySeeBooking(ownerNamedLikeRunner, taken)).toBe(false);
      expect(mayWatchTrip(ownerNamedLikeRunner, taken)).toBe(false);
      expect(MOVES.pickup.may(ownerNamedLikeRunner, taken)).toBe(false);
    });

    it("given users who share a sub, when keyed, then each role is its own key", () => {
      expect([owner, runnerNamedLikeOwner, adminNamedLikeOwner].map(userKey)).toEqual([
        "owner:owner-1",
        "runner:same",
        "admin:same",
      ]);
      expect(partiesOf(twin)).toEqual(["owner:same", "runner:runner-1"]);
      expect(partiesOf({ owner_id: "same", runner_id: null })).toEqual(["owner:same"]);
    });

    it("given an owner's booking, when a webhook of another role with the owner's sub is asked, then only an admin's hears it", () => {
      const parties = partiesOf({ owner_id: "same", runner_id: null });
      expect(webhookHears({ role: "owner", owner_id: "same" }, parties)).toBe(true);
      expect(webhookHears({ role: "owner", owner_id: "same" }, ["runner:same"])).toBe(false);
    });
  });
});
