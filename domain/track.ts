import {
  accept,
  reject,
  type Expect,
  unreachable,
  type Decision,
  type EventDraft,
  withArticle,
  cap,
} from "./decider";
import type { LatLng } from "./geo";
import type { TrackState } from "./tracking";
import {
  applyWelfareChange,
  boardWelfare,
  endWelfare,
  withProgress,
  type Welfare,
  type WelfareChange,
  type WelfareProgress,
  type WelfareStep,
} from "./welfare";

/**
 * A booking's trip: pending from `booking.requested` (the drop-off is known), active from
 * `booking.accepted` (it takes fixes), delivered on `booking.delivered` (no more fixes: the
 * runner is free), completed on `booking.delivery_confirmed`; cancelled with the booking. Which
 * fixes extend an active track is domain/tracking.ts. From the pickup to the delivery an active
 * track keeps a welfare watch (domain/welfare.ts); its alerts are stored moves of the track.
 */
export const TRACK_STATUSES = ["pending", "active", "delivered", "completed", "cancelled"] as const;
export type TrackStatus = (typeof TRACK_STATUSES)[number];

export interface Track {
  _id: string;
  booking_id: string;
  owner_id: string;
  runner_id: string | null;
  status: TrackStatus;
  dropoff: LatLng | null;
  /**
   * How the trip's events name the pet, from the request like the drop-off. Absent on a track
   * opened without its request (one that predates this service) or stored before it existed.
   */
  pet_name?: string;
  /** Set at the pickup: the welfare events name the booking by it. */
  booking_number?: string;
  /** The fix filter's state as of the last checkpoint (a few seconds behind the live one). */
  state: TrackState | null;
  eta_seconds: number | null;
  /** Set when the track closes; while active, the latest waypoint has the running total. */
  total_distance_km: number | null;
  started_at: Date | null;
  completed_at: Date | null;
  /** Absent until the pet is picked up; `aboard` until it is delivered. */
  welfare?: Welfare;
  created_at: Date;
  updated_at: Date;
}

/** Each booking has one track, so its id follows from the booking's (every lookup by `_id`). */
export const trackIdOf = (bookingId: string) => `trk-${bookingId}`;

export type TrackCommand = { at: Date } & (
  | {
      type: "open";
      booking_id: string;
      owner_id: string;
      dropoff: LatLng | null;
      pet_name?: string;
    }
  /** The booking's events that start and complete the trip name it by number: so do the trip's. */
  | { type: "start"; runner_id: string; booking_number: string }
  /** The pet is aboard: the welfare watch starts. */
  | { type: "pickup"; runner_id: string; booking_number: string }
  | { type: "deliver" }
  | { type: "complete"; runner_id: string; booking_number: string; total_distance_km: number }
  | { type: "cancel" }
  /**
   * The stored fix state, saved now and then (a track reloaded after a crash resumes there), with
   * the welfare watch's progress as of the watch's `rev` the cache knew.
   */
  | {
      type: "checkpoint";
      state: TrackState;
      eta_seconds: number | null;
      welfare?: WelfareProgress & Pick<Welfare, "rev">;
    }
  /** A welfare alert opens or clears, judged on the cache's progress (`progress`). */
  | { type: "welfare"; change: WelfareChange; progress: WelfareProgress }
);

/**
 * A move's rules: the statuses it leaves from, the one it goes to (null: it stays), its event
 * (the welfare events, tracking.stopped and tracking.resumed, follow from the watch instead).
 */
interface Move {
  from: readonly TrackStatus[];
  to: TrackStatus | null;
  event: "tracking.started" | "tracking.completed" | null;
}

/** Every move of a track; `decide` refuses a command from any other status. */
const MOVES = {
  start: { from: ["pending"], to: "active", event: "tracking.started" },
  pickup: { from: ["active"], to: null, event: null },
  welfare: { from: ["active"], to: null, event: null },
  deliver: { from: ["active"], to: "delivered", event: null },
  complete: { from: ["active", "delivered"], to: "completed", event: "tracking.completed" },
  cancel: { from: ["pending", "active", "delivered"], to: "cancelled", event: null },
  checkpoint: { from: ["active"], to: null, event: null },
} as const satisfies Record<Exclude<TrackCommand["type"], "open">, Move>;

/** What all of a trip's events say of it: the track, its booking and pet, its parties, when. */
const aboutTrip = (
  track: Track,
  command: { runner_id: string; booking_number: string; at: Date },
) => ({
  track_id: track._id,
  booking_id: track.booking_id,
  booking_number: command.booking_number,
  ...(track.pet_name ? { pet_name: track.pet_name } : {}),
  runner_id: command.runner_id,
  owner_id: track.owner_id,
  occurred_at: command.at.toISOString(),
});

/** The event of a change of the welfare watch, about the trip (an active track has its runner). */
function welfareEvents(track: Track, change: WelfareChange | null, at: Date): EventDraft[] {
  if (!change || !track.runner_id) return [];
  const trip = aboutTrip(track, {
    runner_id: track.runner_id,
    // Stored with the pickup, which every watch starts from.
    booking_number: track.booking_number ?? track.booking_id,
    at,
  });
  const { reason, since, position } = change.alert;
  const about = { ...trip, reason, since: since.toISOString() };
  return [
    change.type === "tracking.stopped"
      ? { type: change.type, data: { ...about, ...(position ?? {}) } }
      : { type: change.type, data: about },
  ];
}

export function decide(track: Track | null, command: TrackCommand): Decision<Track> {
  const { at } = command;
  if (command.type === "open") {
    if (track) return reject("conflict", "The booking has a track already");
    return accept<Track>(
      {},
      {
        _id: trackIdOf(command.booking_id),
        booking_id: command.booking_id,
        owner_id: command.owner_id,
        runner_id: null,
        status: "pending",
        dropoff: command.dropoff,
        ...(command.pet_name ? { pet_name: command.pet_name } : {}),
        state: null,
        eta_seconds: null,
        total_distance_km: null,
        started_at: null,
        completed_at: null,
        created_at: at,
        updated_at: at,
      },
    );
  }
  if (!track) return reject("not_found", "Track not found");
  const move: Move = MOVES[command.type];
  if (!move.from.includes(track.status)) {
    return reject(
      "conflict",
      `${cap(withArticle(track.status))} track cannot take ${command.type}`,
      { status: track.status },
    );
  }
  // The move's status and time, with what else it changes; guarded on the status it left from.
  const moved = (changes: Partial<Track>, events: EventDraft[] = [], expect: Expect<Track> = {}) =>
    accept<Track>(
      { status: track.status, ...expect },
      { ...(move.to ? { status: move.to } : {}), ...changes, updated_at: at },
      events,
    );
  // A move of the welfare watch counts its `rev` up, and is guarded on it (null: no watch yet).
  const watchMoved = (step: WelfareStep, changes: Partial<Track> = {}) =>
    moved(
      { ...changes, welfare: { ...step.welfare, rev: (track.welfare?.rev ?? 0) + 1 } },
      welfareEvents(track, step.change, at),
      { "welfare.rev": track.welfare?.rev ?? null },
    );
  // The trip ends, and with it the watch: an open alert clears (tracking.resumed).
  const ending = (by: "delivered" | "cancelled", changes: Partial<Track>) =>
    track.welfare
      ? watchMoved(endWelfare(track.welfare, at, by), changes)
      : moved(changes, [], { "welfare.rev": null });
  switch (command.type) {
    case "start":
      return moved({ runner_id: command.runner_id, started_at: at }, [
        {
          type: MOVES[command.type].event,
          data: { ...aboutTrip(track, command), started_at: at.toISOString() },
        },
      ]);
    case "pickup":
      // Aboard already (a repeated event): the watch runs on.
      if (track.welfare?.aboard) return accept({}, {});
      return watchMoved(
        { welfare: boardWelfare(at, track.welfare ?? null), change: null },
        { runner_id: command.runner_id, booking_number: command.booking_number },
      );
    case "deliver":
      return ending("delivered", {});
    case "complete":
      return moved({ completed_at: at, total_distance_km: command.total_distance_km }, [
        {
          type: MOVES[command.type].event,
          data: {
            ...aboutTrip(track, command),
            total_distance_km: command.total_distance_km,
            completed_at: at.toISOString(),
          },
        },
      ]);
    case "cancel":
      return ending("cancelled", { completed_at: at });
    case "checkpoint": {
      const fixes = { state: command.state, eta_seconds: command.eta_seconds };
      const { welfare } = track;
      const progress = command.welfare;
      // Progress judged on a watch that has moved since (an alert raised elsewhere, its end)
      // is left out: the cache that judged it reloads.
      if (progress && welfare?.aboard && welfare.rev === progress.rev) {
        return moved({ ...fixes, welfare: withProgress(welfare, progress) }, [], {
          "welfare.rev": progress.rev,
        });
      }
      return moved(fixes);
    }
    case "welfare": {
      const { welfare } = track;
      if (!welfare?.aboard) return reject("conflict", "No pet is aboard");
      const { change } = command;
      const open = welfare.alert;
      // Raised already (a repeat, another instance's sweep), or that alert is over: nothing to do.
      const done =
        change.type === "tracking.stopped"
          ? open !== null
          : open?.raised_at.getTime() !== change.alert.raised_at.getTime();
      if (done) return accept({}, {});
      return watchMoved({
        welfare: applyWelfareChange(withProgress(welfare, command.progress), change),
        change,
      });
    }
    default:
      return unreachable(command);
  }
}
