import {
  DISPATCH_STATUSES,
  decide as dispatch,
  type Dispatch,
  type DispatchStatus,
} from "../../domain/dispatch";
import {
  AVAILABILITIES,
  decide as runner,
  isFree,
  type Availability,
  type Runner,
} from "../../domain/runner";
import {
  TRACK_STATUSES,
  decide as track,
  trackIdOf,
  type Track,
  type TrackStatus,
} from "../../domain/track";
import { emptyTrack } from "../../domain/tracking";

const AT = new Date("2026-12-01T10:00:00.000Z");
const EARLIER = new Date("2026-12-01T09:00:00.000Z");
const pickup = { lat: -6.2, lng: 106.8 };

describe("dispatch decider", () => {
  const stored = (status: DispatchStatus, extra: Partial<Dispatch> = {}): Dispatch => ({
    _id: "b1",
    pickup,
    escrow_held: true,
    status,
    runner_id: status === "offered" || status === "accepted" ? "r1" : null,
    offer_expires_at: null,
    tried: [],
    created_at: EARLIER,
    updated_at: EARLIER,
    ...extra,
  });
  const on = { booking_id: "b1", at: AT };

  it("given neither half, when the pickup comes first, then it waits; the escrow then starts the search", () => {
    const first = dispatch(null, { ...on, type: "pickup_known", pickup });
    expect(first).toEqual({
      ok: true,
      expect: {},
      changes: { ...stored("waiting", { escrow_held: false, created_at: AT, updated_at: AT }) },
      events: [],
    });
    const waiting = stored("waiting", { escrow_held: false });
    expect(dispatch(waiting, { ...on, type: "escrow_held" })).toEqual({
      ok: true,
      expect: { status: "waiting", escrow_held: false },
      changes: { escrow_held: true, status: "searching", updated_at: AT },
      events: [],
    });
  });

  it("given the escrow first, then the pickup starts the search, guarded on the pickup being unknown", () => {
    const waiting = stored("waiting", { pickup: null });
    expect(dispatch(waiting, { ...on, type: "pickup_known", pickup })).toEqual({
      ok: true,
      expect: { status: "waiting", escrow_held: true, pickup: null },
      changes: { pickup, status: "searching", updated_at: AT },
      events: [],
    });
  });

  it("given a searching booking, when offered, then the runner holds it with runner.assigned, tried once", () => {
    const expires_at = new Date(AT.getTime() + 30_000);
    expect(
      dispatch(stored("searching", { tried: ["r0"] }), {
        ...on,
        type: "offer",
        runner_id: "r1",
        expires_at,
      }),
    ).toEqual({
      ok: true,
      expect: { status: "searching" },
      changes: {
        status: "offered",
        runner_id: "r1",
        offer_expires_at: expires_at,
        tried: ["r0", "r1"],
        updated_at: AT,
      },
      events: [
        {
          type: "runner.assigned",
          data: { runner_id: "r1", booking_id: "b1", occurred_at: AT.toISOString() },
        },
      ],
    });
  });

  /** The moves that leave from one status only. */
  const ONLY_FROM: [Parameters<typeof dispatch>[1], DispatchStatus][] = [
    [{ ...on, type: "offer", runner_id: "r1", expires_at: AT }, "searching"],
    [{ ...on, type: "requeue" }, "searching"],
    [{ ...on, type: "move_on", runner_id: "r1" }, "offered"],
    [{ ...on, type: "decline", runner_id: "r1" }, "offered"],
  ];
  it.each(
    ONLY_FROM.flatMap(([command, from]) =>
      DISPATCH_STATUSES.map((status) => [command.type, status, status === from, command] as const),
    ),
  )("given %s on a %s dispatch, then it is allowed: %s", (_type, status, allowed, command) => {
    expect(dispatch(stored(status), command).ok).toBe(allowed);
  });

  it("lets only the runner holding the offer decline it, with a message for that runner", () => {
    expect(dispatch(stored("offered"), { ...on, type: "decline", runner_id: "r2" })).toEqual({
      ok: false,
      rejection: { kind: "conflict", message: "You hold no open offer for this booking" },
    });
    expect(dispatch(stored("offered"), { ...on, type: "move_on", runner_id: "r1" })).toEqual({
      ok: true,
      expect: { status: "offered", runner_id: "r1" },
      changes: { status: "searching", runner_id: null, offer_expires_at: null, updated_at: AT },
      events: [],
    });
  });

  it.each(DISPATCH_STATUSES)(
    "given a %s dispatch, accepted, closed and cancelled always land",
    (status) => {
      const accepted = dispatch(stored(status), { ...on, type: "accepted", runner_id: "r9" });
      const closed = dispatch(stored(status), { ...on, type: "closed" });
      const cancelled = dispatch(stored(status), { ...on, type: "cancelled" });
      expect([accepted, closed, cancelled].map((d) => d.ok && d.changes.status)).toEqual([
        "accepted",
        "closed",
        "cancelled",
      ]);
    },
  );
});

describe("runner availability decider", () => {
  const stored = (availability: Availability, extra: Partial<Runner> = {}): Runner => ({
    _id: "r1",
    name: null,
    vehicle: null,
    stripe_account_id: null,
    availability,
    last_lat: null,
    last_lng: null,
    active_booking_id: availability === "busy" ? "b1" : null,
    active_since: availability === "busy" ? EARLIER : null,
    offer: null,
    created_at: EARLIER,
    updated_at: EARLIER,
    ...extra,
  });
  const offer = { booking_id: "b2", pickup, offered_at: EARLIER, expires_at: AT };

  it("given an offline runner, when it goes online, then runner.online; a repeat only moves it", () => {
    expect(runner(stored("offline"), { type: "go_online", position: pickup, at: AT })).toEqual({
      ok: true,
      expect: { availability: "offline" },
      changes: { last_lat: -6.2, last_lng: 106.8, availability: "online", updated_at: AT },
      events: [
        {
          type: "runner.online",
          data: {
            runner_id: "r1",
            latitude: -6.2,
            longitude: 106.8,
            occurred_at: AT.toISOString(),
          },
        },
      ],
    });
    for (const availability of ["online", "busy"] as const) {
      expect(runner(stored(availability), { type: "go_online", position: pickup, at: AT })).toEqual(
        {
          ok: true,
          expect: {},
          changes: { last_lat: -6.2, last_lng: 106.8, updated_at: AT },
          events: [],
        },
      );
    }
  });

  it.each(AVAILABILITIES)("given a %s runner, it goes offline only from online", (availability) => {
    const decision = runner(stored(availability), { type: "go_offline", by: "system", at: AT });
    expect(decision.ok).toBe(availability === "online");
  });

  it("refuses a runner going offline during its booking, naming the booking", () => {
    expect(runner(stored("busy"), { type: "go_offline", by: "runner", at: AT })).toEqual({
      ok: false,
      rejection: {
        kind: "conflict",
        message: "Finish or cancel your active booking before going offline",
        data: { active_booking_id: "b1" },
      },
    });
  });

  it("offers only to a free runner, guarded on it staying free", () => {
    const command = { type: "offer" as const, booking_id: "b2", pickup, expires_at: AT, at: AT };
    expect(runner(stored("online"), command)).toEqual({
      ok: true,
      expect: { availability: "online", offer: null, active_booking_id: null },
      changes: {
        offer: { booking_id: "b2", pickup, offered_at: AT, expires_at: AT },
        updated_at: AT,
      },
      events: [],
    });
    for (const taken of [stored("offline"), stored("busy"), stored("online", { offer })]) {
      expect([isFree(taken), runner(taken, command).ok]).toEqual([false, false]);
    }
  });

  it("takes a booking whatever offer it held, guarded on the offer and its availability; frees only from that booking", () => {
    expect(
      runner(stored("online", { offer }), {
        type: "take_booking",
        booking_id: "b1",
        at: AT,
        by: "claim",
      }),
    ).toEqual({
      ok: true,
      expect: { availability: "online", active_booking_id: null, "offer.booking_id": "b2" },
      changes: {
        availability: "busy",
        active_booking_id: "b1",
        active_since: AT,
        offer: null,
        updated_at: AT,
      },
      events: [],
    });
    expect(runner(stored("busy"), { type: "free", booking_id: "b1", at: AT })).toEqual({
      ok: true,
      expect: { active_booking_id: "b1" },
      changes: {
        availability: "online",
        active_booking_id: null,
        active_since: null,
        updated_at: AT,
      },
      events: [],
    });
    expect(runner(stored("busy"), { type: "free", booking_id: "b9", at: AT }).ok).toBe(false);
    expect(
      runner(stored("online", { offer }), { type: "release_offer", booking_id: "b1", at: AT }).ok,
    ).toBe(false);
    expect(
      runner(stored("online", { offer }), { type: "release_offer", booking_id: "b2", at: AT }),
    ).toEqual({
      ok: true,
      expect: { "offer.booking_id": "b2" },
      changes: { offer: null, updated_at: AT },
      events: [],
    });
  });

  it("given an offline or unknown runner, when it takes a booking, then 409: go online first", () => {
    const claim = { type: "take_booking" as const, booking_id: "b1", at: AT, by: "claim" as const };
    const event = { ...claim, by: "event" as const };
    const refusal = {
      ok: false,
      rejection: {
        kind: "conflict",
        message: "Go online before accepting a booking",
        data: { availability: "offline" },
      },
    };
    expect(
      [claim, event].flatMap((command) => [
        runner(stored("offline"), command),
        runner(null, command),
      ]),
    ).toEqual([refusal, refusal, refusal, refusal]);
  });

  it.each(["claim", "event"] as const)(
    "given a runner busy on a booking, when it takes it again (%s), then nothing changes: it keeps its start",
    (by) => {
      expect(
        runner(stored("busy"), { type: "take_booking", booking_id: "b1", at: AT, by }),
      ).toEqual({
        ok: true,
        expect: { availability: "busy", active_booking_id: "b1" },
        changes: {},
        events: [],
      });
    },
  );

  it("given a runner still busy on a delivered booking, when the next accept claims it, then it moves on to it from now", () => {
    const decision = runner(stored("busy"), {
      type: "take_booking",
      booking_id: "b3",
      at: AT,
      by: "claim",
    });
    expect(decision).toEqual({
      ok: true,
      expect: { availability: "busy", active_booking_id: "b1", offer: null },
      changes: {
        availability: "busy",
        active_booking_id: "b3",
        active_since: AT,
        offer: null,
        updated_at: AT,
      },
      events: [],
    });
  });

  it("given a runner busy on b2, when a late booking.accepted of b1 comes, then it stays on b2", () => {
    const onNext = stored("busy", { active_booking_id: "b2", active_since: EARLIER });
    expect(runner(onNext, { type: "take_booking", booking_id: "b1", at: AT, by: "event" })).toEqual(
      {
        ok: false,
        rejection: {
          kind: "conflict",
          message: "The runner is on another booking",
          data: { active_booking_id: "b2" },
        },
      },
    );
  });

  it("given an online runner on no booking, when a booking.accepted comes, then it is busy on it from then (a lost claim repaired)", () => {
    expect(
      runner(stored("online"), { type: "take_booking", booking_id: "b1", at: AT, by: "event" }),
    ).toEqual({
      ok: true,
      expect: { availability: "online", active_booking_id: null, offer: null },
      changes: {
        availability: "busy",
        active_booking_id: "b1",
        active_since: AT,
        offer: null,
        updated_at: AT,
      },
      events: [],
    });
  });

  it("registers a runner once, offline", () => {
    expect(runner(null, { type: "register", runner_id: "r1", at: AT })).toEqual({
      ok: true,
      expect: {},
      changes: stored("offline", { created_at: AT, updated_at: AT }),
      events: [],
    });
    expect(runner(stored("offline"), { type: "register", runner_id: "r1", at: AT }).ok).toBe(false);
  });
});

describe("track decider", () => {
  const stored = (status: TrackStatus): Track => ({
    _id: trackIdOf("b1"),
    booking_id: "b1",
    owner_id: "owner-1",
    runner_id: status === "pending" ? null : "r1",
    status,
    dropoff: pickup,
    state: null,
    eta_seconds: null,
    total_distance_km: null,
    started_at: null,
    completed_at: null,
    created_at: EARLIER,
    updated_at: EARLIER,
  });

  /** Every move: the statuses it leaves from, and where it goes. */
  const TABLE: [Parameters<typeof track>[1], TrackStatus[], TrackStatus | undefined][] = [
    [{ type: "start", runner_id: "r1", at: AT }, ["pending"], "active"],
    [{ type: "deliver", at: AT }, ["active"], "delivered"],
    [
      { type: "complete", runner_id: "r1", total_distance_km: 4.2, at: AT },
      ["active", "delivered"],
      "completed",
    ],
    [{ type: "cancel", at: AT }, ["pending", "active", "delivered"], "cancelled"],
    [{ type: "checkpoint", state: emptyTrack(), eta_seconds: 60, at: AT }, ["active"], undefined],
  ];
  it.each(
    TABLE.flatMap(([command, from, to]) =>
      TRACK_STATUSES.map(
        (status) =>
          [
            command.type,
            status,
            from.includes(status) ? (to ?? status) : "refused",
            command,
          ] as const,
      ),
    ),
  )("given %s on a %s track, then it is %s", (_type, status, outcome, command) => {
    const decision = track(stored(status), command);
    expect(decision.ok ? (decision.changes.status ?? status) : "refused").toEqual(outcome);
  });

  it("starts with tracking.started and completes with tracking.completed, each naming the owner", () => {
    expect(track(stored("pending"), { type: "start", runner_id: "r1", at: AT })).toEqual({
      ok: true,
      expect: { status: "pending" },
      changes: { status: "active", runner_id: "r1", started_at: AT, updated_at: AT },
      events: [
        {
          type: "tracking.started",
          data: {
            track_id: "trk-b1",
            booking_id: "b1",
            runner_id: "r1",
            owner_id: "owner-1",
            started_at: AT.toISOString(),
            occurred_at: AT.toISOString(),
          },
        },
      ],
    });
    const completed = track(stored("delivered"), {
      type: "complete",
      runner_id: "r1",
      total_distance_km: 4.2,
      at: AT,
    });
    expect(completed.ok && completed.events).toEqual([
      {
        type: "tracking.completed",
        data: {
          track_id: "trk-b1",
          booking_id: "b1",
          runner_id: "r1",
          owner_id: "owner-1",
          total_distance_km: 4.2,
          completed_at: AT.toISOString(),
          occurred_at: AT.toISOString(),
        },
      },
    ]);
  });

  it("opens a booking's track once, pending", () => {
    const opened = track(null, {
      type: "open",
      booking_id: "b1",
      owner_id: "owner-1",
      dropoff: pickup,
      at: AT,
    });
    expect(opened.ok && opened.changes).toEqual({
      ...stored("pending"),
      created_at: AT,
      updated_at: AT,
    });
    expect(
      track(stored("pending"), {
        type: "open",
        booking_id: "b1",
        owner_id: "owner-1",
        dropoff: null,
        at: AT,
      }).ok,
    ).toBe(false);
  });
});
