import {
  accept,
  reject,
  unreachable,
  type Decision,
  type EventDraft,
  withArticle,
  cap,
} from "./decider";
import type { EventPayload } from "../events/catalog";
import { isMappable, type LatLng } from "./geo";
import { needsFields, type PetNeeds } from "./pets";

/**
 * Dispatch of one booking: who is offered it, and when to move on. It waits until both the
 * pickup (booking.requested) and the escrow (payment.escrow_held) are known, in either order,
 * then searches: the nearest free runner in range is offered it, and the next one when that one
 * does not take it. A pickup where no runner can ever be found (the geo index cannot hold it)
 * fails it: recorded once, never searched again. Which status each command moves from and to is
 * the table MOVES below.
 */
export const DISPATCH_STATUSES = [
  "waiting",
  "searching",
  "offered",
  "accepted",
  "cancelled",
  "closed",
  "failed",
] as const;
export type DispatchStatus = (typeof DISPATCH_STATUSES)[number];

/** Dispatch state of one booking (`_id` = booking id). */
export interface Dispatch {
  _id: string;
  /**
   * How its offers name the booking to the runner, known with the pickup. Absent before then
   * and on dispatches stored before it existed: their offers name the booking by its id.
   */
  booking_number?: string;
  /** The booking's owner, known with the pickup: its offers name it (its integrations hear them). */
  owner_id?: string;
  /**
   * What carrying its pets takes, known with the pickup: only runners who can are offered it.
   * Absent when the booking did not say (made before needs were kept): any verified runner.
   */
  needs?: PetNeeds;
  pickup: LatLng | null;
  escrow_held: boolean;
  /**
   * A scheduled booking is not offered before this (DISPATCH_LEAD_MINUTES before its pickup):
   * it waits, and the sweep starts it when due. Absent or null: at once.
   */
  starts_at?: Date | null;
  status: DispatchStatus;
  /** Who holds the offer (offered) or took the booking (accepted). */
  runner_id: string | null;
  offer_expires_at: Date | null;
  /** Runners offered it already, in order; none is offered it twice. */
  tried: string[];
  created_at: Date;
  updated_at: Date;
}

/** What happened to a booking's dispatch; stamped with the booking and the time (`DispatchCommand`). */
export type DispatchStep =
  | {
      type: "pickup_known";
      pickup: LatLng;
      booking_number: string;
      owner_id: string;
      needs?: PetNeeds;
      starts_at?: Date | null;
    }
  | { type: "escrow_held" }
  /** A waiting scheduled booking's dispatch is due: it searches, if held by then. */
  | { type: "due" }
  | { type: "offer"; runner_id: string; expires_at: Date }
  /** No free runner in range: to the back of the queue (sweeps take the longest-waiting first). */
  | { type: "requeue" }
  | { type: "move_on"; runner_id: string }
  /** The runner holding the offer turns it down: the same move, refused to anyone else. */
  | { type: "decline"; runner_id: string }
  | { type: "accepted"; runner_id: string }
  | { type: "closed" }
  | { type: "cancelled" }
  /** The search can never succeed (the index refuses the pickup): it stops for good. */
  | { type: "fail" };

export type DispatchCommand = DispatchStep & { booking_id: string; at: Date };

/**
 * A searching dispatch written this recently is at the back of the queue already: requeue
 * leaves it be. Far below the sweeps' retry interval (DISPATCH_TUNING.searchRetryMs, 10 s), so
 * the order in which they take bookings is kept to within this.
 */
export const REQUEUED_LATELY_MS = 1000;

/** Booking and escrow events arrive on two topics in either order: the first one creates it. */
const fresh = (booking_id: string, at: Date): Dispatch => ({
  _id: booking_id,
  pickup: null,
  escrow_held: false,
  status: "waiting",
  runner_id: null,
  offer_expires_at: null,
  tried: [],
  created_at: at,
  updated_at: at,
});

/** A move's rules: the statuses it leaves from, the one it goes to (null: it stays), its event. */
interface Move {
  from: readonly DispatchStatus[];
  to: DispatchStatus | null;
  event: "runner.assigned" | null;
}

/**
 * Every move of a dispatch; `decide` refuses a command from any other status. A dispatch not
 * stored yet is waiting: the first event about its booking creates it.
 */
const MOVES = {
  // Each half is recorded whenever it comes; the second one moves a waiting dispatch on, to
  // searching (or to failed: a pickup no runner can ever be found at).
  pickup_known: { from: DISPATCH_STATUSES, to: null, event: null },
  escrow_held: { from: DISPATCH_STATUSES, to: null, event: null },
  due: { from: ["waiting"], to: null, event: null },
  offer: { from: ["searching"], to: "offered", event: "runner.assigned" },
  requeue: { from: ["searching"], to: null, event: null },
  fail: { from: ["searching"], to: "failed", event: null },
  // Declined, expired, or the runner went away: the next one, please. Only from the runner
  // holding the offer.
  move_on: { from: ["offered"], to: "searching", event: null },
  decline: { from: ["offered"], to: "searching", event: null },
  // A runner accepted (the one offered, or another), the pet is handed over, the booking is off.
  accepted: { from: DISPATCH_STATUSES, to: "accepted", event: null },
  closed: { from: DISPATCH_STATUSES, to: "closed", event: null },
  cancelled: { from: DISPATCH_STATUSES, to: "cancelled", event: null },
} as const satisfies Record<DispatchStep["type"], Move>;

export function decide(stored: Dispatch | null, command: DispatchCommand): Decision<Dispatch> {
  const { at } = command;
  const dispatch = stored ?? fresh(command.booking_id, at);
  const refuse = () =>
    command.type === "decline"
      ? reject("conflict", "You hold no open offer for this booking")
      : reject(
          "conflict",
          `${cap(withArticle(dispatch.status))} dispatch cannot take ${command.type}`,
          { status: dispatch.status },
        );
  const move: Move = MOVES[command.type];
  if (!move.from.includes(dispatch.status)) return refuse();
  // The move's status and time, with what else it changes; guarded on the status it left from
  // and on anything else it read (`also`). A new document is written whole.
  const moved = (
    changes: Partial<Dispatch>,
    events: EventDraft[] = [],
    also: Partial<Dispatch> = {},
  ) => {
    const next = { ...(move.to ? { status: move.to } : {}), ...changes };
    return stored
      ? accept<Dispatch>({ status: dispatch.status, ...also }, { ...next, updated_at: at }, events)
      : accept<Dispatch>({}, { ...dispatch, ...next }, events);
  };

  switch (command.type) {
    case "pickup_known":
    case "escrow_held":
    case "due": {
      const known =
        command.type === "pickup_known"
          ? {
              pickup: command.pickup,
              booking_number: command.booking_number,
              owner_id: command.owner_id,
              ...(command.needs ? { needs: command.needs } : {}),
              ...(command.starts_at ? { starts_at: command.starts_at } : {}),
            }
          : command.type === "escrow_held"
            ? { escrow_held: true }
            : {};
      const next: Dispatch = { ...dispatch, ...known };
      const due = !next.starts_at || next.starts_at.getTime() <= at.getTime();
      const ready = next.status === "waiting" && next.escrow_held && next.pickup !== null && due;
      if (command.type === "due" && !ready) return refuse();
      const status = next.pickup && !isMappable(next.pickup) ? "failed" : "searching";
      // What readiness was judged on: the status, and each half not known before.
      const also: Partial<Dispatch> = { escrow_held: dispatch.escrow_held };
      if (dispatch.pickup === null) also.pickup = null;
      return moved(ready ? { ...known, status } : known, [], also);
    }
    case "offer":
      return moved(
        {
          runner_id: command.runner_id,
          offer_expires_at: command.expires_at,
          tried: [...dispatch.tried, command.runner_id],
        },
        [
          {
            type: MOVES[command.type].event,
            data: {
              runner_id: command.runner_id,
              booking_id: dispatch._id,
              booking_number: dispatch.booking_number ?? dispatch._id,
              ...(dispatch.owner_id ? { owner_id: dispatch.owner_id } : {}),
              ...needsFields(dispatch.needs),
              occurred_at: at.toISOString(),
            },
          },
        ],
      );
    case "requeue":
      // Moved to the back a moment ago already (its escrow, another runner's try): a second
      // write would move it by less than the sweeps could ever tell apart.
      if (at.getTime() - dispatch.updated_at.getTime() < REQUEUED_LATELY_MS)
        return accept<Dispatch>({}, {});
      return moved({});
    case "fail":
      return moved({});
    case "move_on":
    case "decline":
      if (dispatch.runner_id !== command.runner_id) return refuse();
      return moved({ runner_id: null, offer_expires_at: null }, [], {
        runner_id: command.runner_id,
      });
    case "accepted":
      return moved({ runner_id: command.runner_id, offer_expires_at: null }, [], {
        runner_id: dispatch.runner_id,
      });
    case "closed":
      return moved({});
    case "cancelled":
      return moved({ offer_expires_at: null }, [], { runner_id: dispatch.runner_id });
    default:
      return unreachable(command);
  }
}

/**
 * What a booking's request says its pets need, or undefined when it says nothing of them (a
 * request from before they were kept). A field left out reads as asking nothing of it; a
 * request that names no species asks for its pet type.
 */
export function needsOfRequest(request: EventPayload<"booking.requested">): PetNeeds | undefined {
  const { pet_count, species, crate_size, needs_ac } = request;
  if (
    pet_count === undefined &&
    species === undefined &&
    crate_size === undefined &&
    needs_ac === undefined
  )
    return undefined;
  const named = species && species.length > 0 ? species : [request.pet_type];
  return {
    species: [...new Set(named)],
    crate_size: crate_size ?? null,
    count: pet_count ?? named.length,
    needs_ac: needs_ac ?? false,
  };
}

/** A runner who could take a booking, and how far they are from its pickup. */
export interface Candidate {
  runnerId: string;
  distanceKm: number;
}

/**
 * The runner to offer a booking to next: nearest first (ties by runnerId) among candidates within
 * radiusKm, skipping runners already tried for this booking and runners that are not free (open
 * offer or active booking). null when none.
 *
 * Ties break on runnerId by code unit, not locale, so every instance picks the same runner. One
 * pass instead of a sort: it is called once per offer, and only the first is needed.
 */
export function nextCandidate(
  candidates: readonly Candidate[],
  options: { radiusKm: number; tried: ReadonlySet<string>; busy: ReadonlySet<string> },
): Candidate | null {
  let best: Candidate | null = null;
  for (const candidate of candidates) {
    const { runnerId, distanceKm } = candidate;
    // `>= 0` also drops NaN: a runner with no known position is not "near".
    if (!(distanceKm >= 0 && distanceKm <= options.radiusKm)) continue;
    if (options.tried.has(runnerId) || options.busy.has(runnerId)) continue;
    if (
      best === null ||
      distanceKm < best.distanceKm ||
      (distanceKm === best.distanceKm && runnerId < best.runnerId)
    ) {
      best = candidate;
    }
  }
  return best;
}

/** A candidate with the mean of its owners' ratings (null: not rated yet). */
export interface RatedCandidate extends Candidate {
  average: number | null;
}

/**
 * Where an unrated runner ranks among rated ones: the middle of the scale, so a newcomer comes
 * after a well rated runner and before a poorly rated one, and is offered bookings from the start.
 */
export const UNRATED_STARS = 3;

/**
 * Runners after the nearest free one that dispatch looks at, at most, for a better rated one
 * about as near: each costs it a read, free or not.
 */
export const RATING_TIE_LOOKS = 3;

const byDistance = (a: Candidate, b: Candidate) =>
  a.distanceKm - b.distanceKm || (a.runnerId < b.runnerId ? -1 : a.runnerId > b.runnerId ? 1 : 0);

/**
 * The order in which candidates are offered a booking when better rated runners are preferred
 * (DISPATCH_PREFER_RATED): those about as near as the nearest (within `tieKm` of it) best rated
 * first (unrated: UNRATED_STARS), then nearest, then by runnerId; after them the rest, nearest
 * first. Distance still decides beyond the tie: a far runner is never preferred for its stars.
 */
export function preferRated<C extends RatedCandidate>(
  candidates: readonly C[],
  tieKm: number,
): C[] {
  // `>= 0` also drops NaN: a runner with no known position is not "near".
  const placed = candidates.filter((candidate) => candidate.distanceKm >= 0);
  const nearest = Math.min(...placed.map((candidate) => candidate.distanceKm));
  const score = (candidate: RatedCandidate) => candidate.average ?? UNRATED_STARS;
  const tied = placed.filter((candidate) => candidate.distanceKm <= nearest + tieKm);
  const rest = placed.filter((candidate) => candidate.distanceKm > nearest + tieKm);
  return [
    ...tied.sort((a, b) => score(b) - score(a) || byDistance(a, b)),
    ...rest.sort(byDistance),
  ];
}
