import {
  SYSTEM,
  bookingsListedFor,
  mayIssue,
  mayPay,
  maySeeBooking,
  mayTryCommand,
  mayWatchTrip,
  partiesOf,
  userKey,
  webhookHears,
  type Actor,
  type BookingCommandType,
  type User,
} from "../../domain/access";

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
  ] as const)("given %j and booking %j, sees it: %s", (actor, booking, sees) => {
    expect(maySeeBooking(actor, booking)).toBe(sees);
  });

  it("lets any runner try to accept, the system anything, and others only what they may see", () => {
    expect(mayTryCommand("accept", otherRunner, taken)).toBe(true);
    expect(mayTryCommand("accept", otherRunner, null)).toBe(true);
    expect(mayTryCommand("confirm", SYSTEM, null)).toBe(true);
    expect(mayTryCommand("pickup", otherRunner, taken)).toBe(false);
    expect(mayTryCommand("cancel", otherOwner, taken)).toBe(false);
    expect(mayTryCommand("cancel", owner, taken)).toBe(true);
  });

  /** Who may issue each command, whatever the booking's state. */
  const ISSUERS: Record<BookingCommandType, Actor[]> = {
    accept: [runner, otherRunner],
    pickup: [runner],
    depart: [runner],
    deliver: [runner],
    confirm: [owner, admin, SYSTEM],
    complete: [SYSTEM],
    cancel: [owner, runner, admin, SYSTEM],
    expire: [SYSTEM],
  };
  const EVERYONE: Actor[] = [owner, otherOwner, runner, otherRunner, admin, SYSTEM];
  it.each(
    Object.entries(ISSUERS).flatMap(([type, issuers]) =>
      EVERYONE.map((actor) => [type, actor, issuers.includes(actor)] as const),
    ),
  )("given %s by %j, may issue it: %s", (type, actor, allowed) => {
    expect(mayIssue(type as BookingCommandType, actor, taken)).toBe(allowed);
  });

  it("lists owners their bookings, runners theirs, admins all", () => {
    expect([owner, runner, admin].map((user) => bookingsListedFor(user))).toEqual([
      { owner_id: "owner-1" },
      { runner_id: "runner-1" },
      {},
    ]);
  });

  it("lets only the owner pay, and only the trip's parties watch it", () => {
    expect([
      mayPay({ role: "owner", sub: "owner-1" }, taken),
      mayPay({ role: "owner", sub: "owner-2" }, taken),
    ]).toEqual([true, false]);
    expect(
      [owner, runner, admin, otherOwner, otherRunner].map((user) => mayWatchTrip(user, taken)),
    ).toEqual([true, true, true, false, false]);
  });

  it("lets an admin's webhook hear everything, an owner's only its own bookings", () => {
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
      expect(mayIssue("confirm", runnerNamedLikeOwner, twin)).toBe(false);
      expect(mayIssue("cancel", runnerNamedLikeOwner, twin)).toBe(false);
      expect(mayTryCommand("cancel", runnerNamedLikeOwner, twin)).toBe(false);
    });

    it("given a booking, when an owner whose sub is its runner's id looks, then they are not its runner", () => {
      const ownerNamedLikeRunner: User = { role: "owner", sub: "runner-1" };
      expect(maySeeBooking(ownerNamedLikeRunner, taken)).toBe(false);
      expect(mayWatchTrip(ownerNamedLikeRunner, taken)).toBe(false);
      expect(mayIssue("pickup", ownerNamedLikeRunner, taken)).toBe(false);
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
