import {
  DISPATCH_STATUSES,
  decide as dispatch,
  type Dispatch,
  type DispatchCommand,
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
  type TrackCommand,
  type TrackStatus,
} from "../../domain/track";
import { emptyTrack } from "../../domain/tracking";
import { givenWhenThen } from "../support/decider";

const AT = new Date("2026-12-01T10:00:00.000Z");
const EARLIER = new Date("2026-12-01T09:00:00.000Z");
const pickup = { lat: -6.2, lng: 106.8 };

describe("dispatch decider", () => {
  const given = givenWhenThen(dispatch);
  const stored = (status: DispatchStatus, extra: Partial<Dispatch> = {}): Dispatch => ({
    _id: "b1",
    booking_number: "KLT-20261201-ABCDEF",
    owner_id: "owner-1",
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
  const requested = {
    type: "pickup_known",
    pickup,
    booking_number: "KLT-20261201-ABCDEF",
    owner_id: "owner-1",
  } as const;

  it("given neither half, when the pickup comes first, then it waits", () => {
    given(null)
      .when({ ...on, ...requested })
      .thenAccepted({
        expect: {},
        changes: { ...stored("waiting", { escrow_held: false, created_at: AT, updated_at: AT }) },
        events: [],
      });
  });

  it("given the pickup waiting, when the escrow is held, then the search starts", () => {
    given(stored("waiting", { escrow_held: false }))
      .when({ ...on, type: "escrow_held" })
      .thenAccepted({
        expect: { status: "waiting", escrow_held: false },
        changes: { escrow_held: true, status: "searching", updated_at: AT },
        events: [],
      });
  });

  it("given the escrow first, when the pickup comes, then the search starts, guarded on the pickup being unknown", () => {
    given(stored("waiting", { pickup: null }))
      .when({ ...on, ...requested })
      .thenAccepted({
        expect: { status: "waiting", escrow_held: true, pickup: null },
        changes: {
          pickup,
          booking_number: "KLT-20261201-ABCDEF",
          owner_id: "owner-1",
          status: "searching",
          updated_at: AT,
        },
        events: [],
      });
  });

  it("given a searching booking, when offered, then the runner holds it with runner.assigned, tried once", () => {
    const expires_at = new Date(AT.getTime() + 30_000);
    given(stored("searching", { tried: ["r0"] }))
      .when({ ...on, type: "offer", runner_id: "r1", expires_at })
      .thenAccepted({
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
            data: {
              runner_id: "r1",
              booking_id: "b1",
              booking_number: "KLT-20261201-ABCDEF",
              owner_id: "owner-1",
              occurred_at: AT.toISOString(),
            },
          },
        ],
      });
  });

  it("given a searching dispatch stored before booking numbers, when offered, then runner.assigned names the booking by its id", () => {
    const legacy = stored("searching");
    delete legacy.booking_number;
    delete legacy.owner_id;
    const { events } = given(legacy)
      .when({ ...on, type: "offer", runner_id: "r1", expires_at: AT })
      .thenAccepted();
    expect(events.map((event) => event.data)).toEqual([
      expect.objectContaining({ booking_id: "b1", booking_number: "b1" }),
    ]);
  });

  /** The moves that leave from one status only. */
  const ONLY_FROM: [DispatchCommand, DispatchStatus][] = [
    [{ ...on, type: "offer", runner_id: "r1", expires_at: AT }, "searching"],
    [{ ...on, type: "requeue" }, "searching"],
    [{ ...on, type: "move_on", runner_id: "r1" }, "offered"],
    [{ ...on, type: "decline", runner_id: "r1" }, "offered"],
  ];
  it.each(
    ONLY_FROM.flatMap(([command, from]) =>
      DISPATCH_STATUSES.map((status) => [status, command.type, status === from, command] as const),
    ),
  )("given a %s dispatch, when %s, then it is allowed: %s", (status, _type, allowed, command) => {
    const { decision } = given(stored(status)).when(command);
    expect(decision.ok).toBe(allowed);
  });

  it("given an offer, when another runner declines it, then it is refused, in words for that runner", () => {
    given(stored("offered"))
      .when({ ...on, type: "decline", runner_id: "r2" })
      .thenRefused("conflict", "You hold no open offer for this booking");
  });

  it("given an offer, when the dispatch moves on from the runner holding it, then it searches again", () => {
    given(stored("offered"))
      .when({ ...on, type: "move_on", runner_id: "r1" })
      .thenAccepted({
        expect: { status: "offered", runner_id: "r1" },
        changes: { status: "searching", runner_id: null, offer_expires_at: null, updated_at: AT },
        events: [],
      });
  });

  const ENDS: [DispatchCommand, DispatchStatus][] = [
    [{ ...on, type: "accepted", runner_id: "r9" }, "accepted"],
    [{ ...on, type: "closed" }, "closed"],
    [{ ...on, type: "cancelled" }, "cancelled"],
  ];
  it.each(
    DISPATCH_STATUSES.flatMap((status) =>
      ENDS.map(([command, to]) => [status, command.type, to, command] as const),
    ),
  )("given a %s dispatch, when %s, then it lands: %s", (status, _type, to, command) => {
    const { changes } = given(stored(status)).when(command).thenAccepted();
    expect(changes.status).toBe(to);
  });
});

describe("runner availability decider", () => {
  const given = givenWhenThen(runner);
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

  it("given an offline runner, when it goes online, then runner.online", () => {
    given(stored("offline"))
      .when({ type: "go_online", position: pickup, at: AT })
      .thenAccepted({
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
  });

  it.each(["online", "busy"] as const)(
    "given a %s runner, when it goes online again, then it only moves",
    (availability) => {
      given(stored(availability))
        .when({ type: "go_online", position: pickup, at: AT })
        .thenAccepted({
          expect: {},
          changes: { last_lat: -6.2, last_lng: 106.8, updated_at: AT },
          events: [],
        });
    },
  );

  it.each(AVAILABILITIES)(
    "given a %s runner, when the system takes it offline, then that is allowed only from online",
    (availability) => {
      const { decision } = given(stored(availability)).when({
        type: "go_offline",
        by: "system",
        at: AT,
      });
      expect(decision.ok).toBe(availability === "online");
    },
  );

  it("given a runner on a booking, when it goes offline, then it is refused, naming the booking", () => {
    given(stored("busy"))
      .when({ type: "go_offline", by: "runner", at: AT })
      .thenRefused("conflict", "Finish or cancel your active booking before going offline", {
        active_booking_id: "b1",
      });
  });

  const offerB2 = { type: "offer" as const, booking_id: "b2", pickup, expires_at: AT, at: AT };

  it("given a free runner, when offered a booking, then it holds the offer, guarded on it staying free", () => {
    given(stored("online"))
      .when(offerB2)
      .thenAccepted({
        expect: { availability: "online", offer: null, active_booking_id: null },
        changes: {
          offer: { booking_id: "b2", pickup, offered_at: AT, expires_at: AT },
          updated_at: AT,
        },
        events: [],
      });
  });

  it.each([
    ["an offline", stored("offline")],
    ["a busy", stored("busy")],
    ["an offered", stored("online", { offer })],
  ])("given %s runner, when offered a booking, then it is not free and refused", (_name, taken) => {
    expect(isFree(taken)).toBe(false);
    given(taken).when(offerB2).thenRefused();
  });

  it("given a runner holding another offer, when it takes a booking, then it is busy on it, guarded on the offer and its availability", () => {
    given(stored("online", { offer }))
      .when({ type: "take_booking", booking_id: "b1", at: AT, by: "claim" })
      .thenAccepted({
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
  });

  it("given a runner on a booking, when freed from it, then it is online again", () => {
    given(stored("busy"))
      .when({ type: "free", booking_id: "b1", at: AT })
      .thenAccepted({
        expect: { active_booking_id: "b1" },
        changes: {
          availability: "online",
          active_booking_id: null,
          active_since: null,
          updated_at: AT,
        },
        events: [],
      });
  });

  it("given a runner on a booking, when freed from another, then it is refused", () => {
    given(stored("busy")).when({ type: "free", booking_id: "b9", at: AT }).thenRefused();
  });

  it("given a runner holding an offer, when another booking's offer is released, then it is refused", () => {
    given(stored("online", { offer }))
      .when({ type: "release_offer", booking_id: "b1", at: AT })
      .thenRefused();
  });

  it("given a runner holding an offer, when that offer is released, then it holds none, guarded on it", () => {
    given(stored("online", { offer }))
      .when({ type: "release_offer", booking_id: "b2", at: AT })
      .thenAccepted({
        expect: { "offer.booking_id": "b2" },
        changes: { offer: null, updated_at: AT },
        events: [],
      });
  });

  it.each([
    ["an offline", stored("offline"), "claim"],
    ["an offline", stored("offline"), "event"],
    ["an unknown", null, "claim"],
    ["an unknown", null, "event"],
  ] as const)(
    "given %s runner, when it takes a booking (%s), then 409: go online first",
    (_name, state, by) => {
      given(state)
        .when({ type: "take_booking", booking_id: "b1", at: AT, by })
        .thenRefused("conflict", "Go online before accepting a booking", {
          availability: "offline",
        });
    },
  );

  it.each(["claim", "event"] as const)(
    "given a runner busy on a booking, when it takes it again (%s), then nothing changes: it keeps its start",
    (by) => {
      given(stored("busy"))
        .when({ type: "take_booking", booking_id: "b1", at: AT, by })
        .thenAccepted({
          expect: { availability: "busy", active_booking_id: "b1" },
          changes: {},
          events: [],
        });
    },
  );

  it("given a runner still busy on a delivered booking, when the next accept claims it, then it moves on to it from now", () => {
    given(stored("busy"))
      .when({ type: "take_booking", booking_id: "b3", at: AT, by: "claim" })
      .thenAccepted({
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
    given(stored("busy", { active_booking_id: "b2", active_since: EARLIER }))
      .when({ type: "take_booking", booking_id: "b1", at: AT, by: "event" })
      .thenRefused("conflict", "The runner is on another booking", { active_booking_id: "b2" });
  });

  it("given an online runner on no booking, when a booking.accepted comes, then it is busy on it from then (a lost claim repaired)", () => {
    given(stored("online"))
      .when({ type: "take_booking", booking_id: "b1", at: AT, by: "event" })
      .thenAccepted({
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

  it("given no runner, when it registers, then it is registered offline", () => {
    given(null)
      .when({ type: "register", runner_id: "r1", at: AT })
      .thenAccepted({
        expect: {},
        changes: stored("offline", { created_at: AT, updated_at: AT }),
        events: [],
      });
  });

  it("given a registered runner, when it registers again, then it is refused", () => {
    given(stored("offline")).when({ type: "register", runner_id: "r1", at: AT }).thenRefused();
  });
});

describe("track decider", () => {
  const given = givenWhenThen(track);
  const stored = (status: TrackStatus): Track => ({
    _id: trackIdOf("b1"),
    booking_id: "b1",
    owner_id: "owner-1",
    runner_id: status === "pending" ? null : "r1",
    status,
    dropoff: pickup,
    pet_name: "Rex",
    state: null,
    eta_seconds: null,
    total_distance_km: null,
    started_at: null,
    completed_at: null,
    created_at: EARLIER,
    updated_at: EARLIER,
  });

  /** Every move: the statuses it leaves from, and where it goes. */
  const TABLE: [TrackCommand, TrackStatus[], TrackStatus | undefined][] = [
    [
      { type: "start", runner_id: "r1", booking_number: "KLT-20261201-ABCDEF", at: AT },
      ["pending"],
      "active",
    ],
    [{ type: "deliver", at: AT }, ["active"], "delivered"],
    [
      {
        type: "complete",
        runner_id: "r1",
        booking_number: "KLT-20261201-ABCDEF",
        total_distance_km: 4.2,
        at: AT,
      },
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
            status,
            command.type,
            from.includes(status) ? (to ?? status) : "refused",
            command,
          ] as const,
      ),
    ),
  )("given a %s track, when %s, then it is %s", (status, _type, outcome, command) => {
    const { decision } = given(stored(status)).when(command);
    expect(decision.ok ? (decision.changes.status ?? status) : "refused").toEqual(outcome);
  });

  it("given a pending track, when started, then tracking.started names the owner", () => {
    given(stored("pending"))
      .when({ type: "start", runner_id: "r1", booking_number: "KLT-20261201-ABCDEF", at: AT })
      .thenAccepted({
        expect: { status: "pending" },
        changes: { status: "active", runner_id: "r1", started_at: AT, updated_at: AT },
        events: [
          {
            type: "tracking.started",
            data: {
              track_id: "trk-b1",
              booking_id: "b1",
              booking_number: "KLT-20261201-ABCDEF",
              pet_name: "Rex",
              runner_id: "r1",
              owner_id: "owner-1",
              started_at: AT.toISOString(),
              occurred_at: AT.toISOString(),
            },
          },
        ],
      });
  });

  it("given a delivered track, when completed, then tracking.completed names the owner", () => {
    const { events } = given(stored("delivered"))
      .when({
        type: "complete",
        runner_id: "r1",
        booking_number: "KLT-20261201-ABCDEF",
        total_distance_km: 4.2,
        at: AT,
      })
      .thenAccepted();
    expect(events).toEqual([
      {
        type: "tracking.completed",
        data: {
          track_id: "trk-b1",
          booking_id: "b1",
          booking_number: "KLT-20261201-ABCDEF",
          pet_name: "Rex",
          runner_id: "r1",
          owner_id: "owner-1",
          total_distance_km: 4.2,
          completed_at: AT.toISOString(),
          occurred_at: AT.toISOString(),
        },
      },
    ]);
  });

  it("given no track, when the booking's is opened, then it is pending", () => {
    const { changes } = given(null)
      .when({
        type: "open",
        booking_id: "b1",
        owner_id: "owner-1",
        dropoff: pickup,
        pet_name: "Rex",
        at: AT,
      })
      .thenAccepted();
    expect(changes).toEqual({ ...stored("pending"), created_at: AT, updated_at: AT });
  });

  it("given a track opened without its request, when started, then tracking.started leaves the pet unnamed", () => {
    const unnamed = stored("pending");
    delete unnamed.pet_name;
    const { events } = given(unnamed)
      .when({ type: "start", runner_id: "r1", booking_number: "KLT-20261201-ABCDEF", at: AT })
      .thenAccepted();
    expect(events).toHaveLength(1);
    expect(events[0]?.data).not.toHaveProperty("pet_name");
  });

  it("given a track, when the booking's is opened again, then it is refused", () => {
    given(stored("pending"))
      .when({ type: "open", booking_id: "b1", owner_id: "owner-1", dropoff: null, at: AT })
      .thenRefused();
  });
});
