import { accept, reject, unreachable, type Decision, withArticle, cap } from "./decider";
import { isMappable, type LatLng } from "./geo";

/**
 * Dispatch of one booking: who is offered it, and when to move on.
 *
 *   waiting → searching      once both the pickup (booking.requested) and the escrow
 *                             (payment.escrow_held) are known, in either order
 *   searching → offered      the nearest free runner in range is offered it (`runner.assigned`)
 *   offered → searching      declined, expired, or the runner went away: the next one, please
 *   any → accepted           a runner accepted (the one offered, or another)
 *   any → closed / cancelled the pet is handed over, or the booking is off
 *   waiting, searching → failed  the pickup is where no runner can ever be found (the geo index
 *                             cannot hold it): recorded once, never searched again
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
  pickup: LatLng | null;
  escrow_held: boolean;
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
  | { type: "pickup_known"; pickup: LatLng }
  | { type: "escrow_held" }
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

export function decide(stored: Dispatch | null, command: DispatchCommand): Decision<Dispatch> {
  const { at } = command;
  const dispatch = stored ?? fresh(command.booking_id, at);
  // A new document is written whole; an existing one moves only from what was read.
  const write = (
    expect: Partial<Dispatch>,
    changes: Partial<Dispatch>,
    events = [] as Parameters<typeof accept<Dispatch>>[2],
  ) =>
    stored
      ? accept<Dispatch>(expect, { ...changes, updated_at: at }, events)
      : accept<Dispatch>({}, { ...dispatch, ...changes }, events);
  const refuse = () =>
    reject(
      "conflict",
      `${cap(withArticle(dispatch.status))} dispatch cannot take ${command.type}`,
      {
        status: dispatch.status,
      },
    );

  switch (command.type) {
    case "pickup_known":
    case "escrow_held": {
      const known =
        command.type === "pickup_known" ? { pickup: command.pickup } : { escrow_held: true };
      const next = { ...dispatch, ...known };
      const ready = next.status === "waiting" && next.escrow_held && next.pickup !== null;
      const status = next.pickup && !isMappable(next.pickup) ? "failed" : "searching";
      // What readiness was judged on: the status, and each half not known before.
      const expect: Partial<Dispatch> = {
        status: dispatch.status,
        escrow_held: dispatch.escrow_held,
      };
      if (dispatch.pickup === null) expect.pickup = null;
      return write(expect, ready ? { ...known, status } : known);
    }
    case "offer":
      if (dispatch.status !== "searching" || !stored) return refuse();
      return write(
        { status: "searching" },
        {
          status: "offered",
          runner_id: command.runner_id,
          offer_expires_at: command.expires_at,
          tried: [...dispatch.tried, command.runner_id],
        },
        [
          {
            type: "runner.assigned",
            data: {
              runner_id: command.runner_id,
              booking_id: dispatch._id,
              occurred_at: at.toISOString(),
            },
          },
        ],
      );
    case "requeue":
      if (dispatch.status !== "searching" || !stored) return refuse();
      // Moved to the back a moment ago already (its escrow, another runner's try): a second
      // write would move it by less than the sweeps could ever tell apart.
      if (at.getTime() - dispatch.updated_at.getTime() < REQUEUED_LATELY_MS)
        return accept<Dispatch>({}, {});
      return write({ status: "searching" }, {});
    case "fail":
      if (dispatch.status !== "searching" || !stored) return refuse();
      return write({ status: "searching" }, { status: "failed" });
    case "move_on":
    case "decline":
      if (dispatch.status !== "offered" || dispatch.runner_id !== command.runner_id) {
        return command.type === "decline"
          ? reject("conflict", "You hold no open offer for this booking")
          : refuse();
      }
      return write(
        { status: "offered", runner_id: command.runner_id },
        { status: "searching", runner_id: null, offer_expires_at: null },
      );
    case "accepted":
      return write(
        { status: dispatch.status, runner_id: dispatch.runner_id },
        { status: "accepted", runner_id: command.runner_id, offer_expires_at: null },
      );
    case "closed":
      return write({ status: dispatch.status }, { status: "closed" });
    case "cancelled":
      return write(
        { status: dispatch.status, runner_id: dispatch.runner_id },
        { status: "cancelled", offer_expires_at: null },
      );
    default:
      return unreachable(command);
  }
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
