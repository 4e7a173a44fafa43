import {
  SYSTEM,
  bookingsListedFor,
  mayIssue,
  mayPay,
  maySeeBooking,
  mayTryCommand,
  mayWatchTrip,
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
    expect(webhookHears({ role: "admin", owner_id: "admin-1" }, ["owner-9"])).toBe(true);
    expect(webhookHears({ role: "owner", owner_id: "owner-1" }, ["owner-1", "runner-1"])).toBe(
      true,
    );
    expect(webhookHears({ role: "owner", owner_id: "owner-2" }, ["owner-1", "runner-1"])).toBe(
      false,
    );
  });
});
