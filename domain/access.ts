/**
 * Who may see what, decided once, and the checks the booking's moves are made of (who may issue
 * each move is its row in domain/booking.ts). Services ask these functions; the gateway only
 * checks that a caller's role is one an action names.
 */
export const ROLES = ["owner", "runner", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** A caller, as a verified token names them. */
export interface User {
  sub: string;
  role: Role;
}

/** Who acts: a user through the API, or Kilat itself (auto-confirm, the escrow saga). */
export type Actor = User | { role: "system"; sub: "system" };
export const SYSTEM: Actor = { role: "system", sub: "system" };

/**
 * The one string that names a user wherever a user is a key (inbox entries, socket rooms,
 * webhook audiences): the role is part of it, as a runner and an owner may share a sub.
 */
export const userKey = (user: User): string => `${user.role}:${user.sub}`;

/** A booking's parties as a service knows them (a runner only once one accepted). */
export interface Parties {
  owner_id: string | null;
  runner_id: string | null;
}

export const isAdmin = (actor: Actor) => actor.role === "admin";
export const isOwner = (actor: Actor, parties: Parties) =>
  actor.role === "owner" && actor.sub === parties.owner_id;
export const isItsRunner = (actor: Actor, parties: Parties) =>
  actor.role === "runner" && parties.runner_id !== null && actor.sub === parties.runner_id;
const isParty = (actor: Actor, parties: Parties) =>
  isAdmin(actor) || isOwner(actor, parties) || isItsRunner(actor, parties);

/** A booking: its owner, its runner, an admin — and any runner while it is open, to accept it. */
export function maySeeBooking(actor: Actor, booking: Parties & { status: string }): boolean {
  return isParty(actor, booking) || (actor.role === "runner" && booking.status === "requested");
}

/** The bookings a user's list shows: an owner's own, a runner's assigned ones, all for admins. */
export function bookingsListedFor(user: User): Partial<Record<"owner_id" | "runner_id", string>> {
  switch (user.role) {
    case "owner":
      return { owner_id: user.sub };
    case "runner":
      return { runner_id: user.sub };
    case "admin":
      return {};
  }
}

/** Paying into a booking's escrow: its owner only. */
export const mayPay = (user: User, booking: Parties): boolean => isOwner(user, booking);

/** A trip (its track, its live room): its owner, its runner, an admin. */
export const mayWatchTrip = (user: User, trip: Parties): boolean => isParty(user, trip);

/** Operations (dead letters, replays): admins only, through the API and the REPL alike. */
export const mayOperate = (user: User): boolean => user.role === "admin";

/** The users an event is about: its booking's owner and runner, as far as known. */
export const partiesOf = (parties: Parties): string[] => [
  ...(parties.owner_id === null ? [] : [userKey({ role: "owner", sub: parties.owner_id })]),
  ...(parties.runner_id === null ? [] : [userKey({ role: "runner", sub: parties.runner_id })]),
];

/**
 * An integrator webhook hears an event: an admin's hears all, an owner's those about its own
 * (`parties` are user keys, so a runner who shares the owner's sub is not the owner).
 */
export const webhookHears = (hook: { role: Role; owner_id: string }, parties: string[]): boolean =>
  hook.role === "admin" || parties.includes(userKey({ role: hook.role, sub: hook.owner_id }));
