import { decide as track, trackIdOf, type Track, type TrackStatus } from "../../domain/track";
import { emptyTrack } from "../../domain/tracking";
import {
  CLEARED_ALERTS_KEPT,
  boardWelfare,
  endWelfare,
  welfareOnFix,
  welfareOnTick,
  welfareSweepEveryMs,
  type Welfare,
  type WelfareAlert,
  type WelfarePolicy,
  type WelfareStep,
} from "../../domain/welfare";
import { parsePayload } from "../../events/catalog";
import { givenWhenThen } from "../support/decider";

const MIN = 60_000;
const POLICY: WelfarePolicy = { stopMs: 10 * MIN, stopRadiusM: 75, silentMs: 5 * MIN };
const PICKUP = new Date("2026-12-01T10:00:00.000Z");
const HERE = { lat: -6.2, lng: 106.8 };
/** Degrees of latitude per metre. */
const M = 1 / 111_195;
const north = (metres: number) => ({ lat: HERE.lat + metres * M, lng: HERE.lng });
const east = (metres: number) => ({
  lat: HERE.lat,
  lng: HERE.lng + (metres * M) / Math.cos((HERE.lat * Math.PI) / 180),
});
const after = (ms: number, from = PICKUP) => new Date(from.getTime() + ms);

/**
 * Runs fixes through the watch, each received when it was recorded (`skewMs`: the phone's clock
 * that much ahead of the server's), with a tick between each two; the steps with a change.
 */
function drive(
  welfare: Welfare,
  fixes: { at: number; where: { lat: number; lng: number } }[],
  { skewMs = 0, tickEveryMs = 0 } = {},
) {
  const changes: { at: number; step: WelfareStep }[] = [];
  let watch = welfare;
  let clock = 0;
  const note = (at: number, step: WelfareStep) => {
    if (step.change) changes.push({ at, step });
    watch = step.welfare;
  };
  for (const { at, where } of fixes) {
    while (tickEveryMs > 0 && clock + tickEveryMs < at) {
      clock += tickEveryMs;
      note(clock, welfareOnTick(watch, after(clock), POLICY));
    }
    clock = at;
    const fix = { ...where, recorded_at: after(at + skewMs) };
    note(at, welfareOnFix(watch, fix, after(at), POLICY));
  }
  return { welfare: watch, changes };
}

/** A fix every `everyMs` from `fromMs` to `toMs` (inclusive), at `where(i)`. */
const fixesEvery = (
  everyMs: number,
  fromMs: number,
  toMs: number,
  where: (i: number) => { lat: number; lng: number } = () => HERE,
) =>
  Array.from({ length: Math.floor((toMs - fromMs) / everyMs) + 1 }, (_, i) => ({
    at: fromMs + i * everyMs,
    where: where(i),
  }));

const aboard = () => boardWelfare(PICKUP);

describe("welfare watch", () => {
  it("given a runner that keeps moving, when its fixes come, then no alert is raised", () => {
    // 100 m a minute for an hour, ticks every 10 s between.
    const fixes = fixesEvery(MIN, 0, 60 * MIN, (i) => north(i * 100));
    const { changes, welfare } = drive(aboard(), fixes, { tickEveryMs: 10_000 });
    expect(changes).toEqual([]);
    expect(welfare.alert).toBeNull();
  });

  it("given a runner still at one place, when it has been there exactly the limit, then no alert; just over, a stationary one", () => {
    const still = drive(aboard(), fixesEvery(MIN, 0, 10 * MIN));
    expect(still.changes).toEqual([]);
    const over = welfareOnFix(
      still.welfare,
      { ...HERE, recorded_at: after(10 * MIN + 1) },
      after(10 * MIN + 1),
      POLICY,
    );
    const alert: WelfareAlert = {
      reason: "stationary",
      since: PICKUP,
      raised_at: after(10 * MIN + 1),
      position: HERE,
    };
    expect(over.change).toEqual({ type: "tracking.stopped", alert });
    expect(over.welfare.alert).toEqual(alert);
  });

  it("given GPS jitter within the radius, when it goes on past the limit, then the runner is stationary", () => {
    // Up to 60 m each way around the first fix: never more than 75 m from it.
    const jitter = [north(60), east(-60), north(-45), east(45), north(20)];
    const fixes = fixesEvery(30_000, 0, 11 * MIN, (i) => (i === 0 ? HERE : jitter[i % 5]));
    const { changes } = drive(aboard(), fixes);
    expect(changes.map(({ at, step }) => [at, step.change?.type, step.change?.alert])).toEqual([
      [
        10.5 * MIN,
        "tracking.stopped",
        { reason: "stationary", since: PICKUP, raised_at: after(10.5 * MIN), position: HERE },
      ],
    ]);
  });

  it("given a stationary alert, when a fix within the radius comes, then it stays; when one beyond, it clears", () => {
    const stopped = drive(aboard(), fixesEvery(MIN, 0, 11 * MIN)).welfare;
    const open = stopped.alert;
    expect(open?.reason).toBe("stationary");

    const jitter = welfareOnFix(
      stopped,
      { ...north(70), recorded_at: after(12 * MIN) },
      after(12 * MIN),
      POLICY,
    );
    expect(jitter.change).toBeNull();
    expect(jitter.welfare.alert).toEqual(open);

    const away = north(80);
    const moved = welfareOnFix(
      jitter.welfare,
      { ...away, recorded_at: after(13 * MIN) },
      after(13 * MIN),
      POLICY,
    );
    const cleared = { ...open, cleared_at: after(13 * MIN), cleared_by: "moved" };
    expect(moved.change).toEqual({ type: "tracking.resumed", alert: cleared });
    expect(moved.welfare).toEqual({
      ...jitter.welfare,
      heard_at: after(13 * MIN),
      still: { ...away, since: after(13 * MIN), until: after(13 * MIN) },
      alert: null,
      cleared: [cleared],
      cleared_at: after(13 * MIN),
    });
  });

  it("given no fix since the pickup, when the silence passes the limit, then a silent alert names the pickup", () => {
    expect(welfareOnTick(aboard(), after(5 * MIN), POLICY).change).toBeNull();
    const step = welfareOnTick(aboard(), after(5 * MIN + 1), POLICY);
    expect(step.change).toEqual({
      type: "tracking.stopped",
      alert: { reason: "silent", since: PICKUP, raised_at: after(5 * MIN + 1), position: null },
    });
  });

  it("given fixes that stop, when the silence passes the limit, then a silent alert names the last fix's time and place", () => {
    const moving = drive(
      aboard(),
      fixesEvery(MIN, 0, 3 * MIN, (i) => north(i * 200)),
    ).welfare;
    expect(welfareOnTick(moving, after(8 * MIN), POLICY).change).toBeNull();
    const step = welfareOnTick(moving, after(8 * MIN + 1), POLICY);
    expect(step.change?.alert).toEqual({
      reason: "silent",
      since: after(3 * MIN),
      raised_at: after(8 * MIN + 1),
      position: north(600),
    });
    // One alert at a time: more silence raises nothing more.
    expect(welfareOnTick(step.welfare, after(30 * MIN), POLICY).change).toBeNull();
  });

  it("given a silent alert, when any fix comes (even where the runner was), then it clears as heard", () => {
    const silent = welfareOnTick(
      drive(aboard(), [{ at: 0, where: HERE }]).welfare,
      after(6 * MIN),
      POLICY,
    ).welfare;
    const heard = welfareOnFix(
      silent,
      { ...HERE, recorded_at: after(6.5 * MIN) },
      after(6.5 * MIN),
      POLICY,
    );
    expect(heard.change).toEqual({
      type: "tracking.resumed",
      alert: { ...silent.alert, cleared_at: after(6.5 * MIN), cleared_by: "heard" },
    });
    expect(heard.welfare.alert).toBeNull();
    expect(heard.welfare.heard_at).toEqual(after(6.5 * MIN));
  });

  it("given a phone that sends nothing while it stands still, when the stand-still passes the limit, then a stationary alert (silence set longer)", () => {
    const quiet = { ...POLICY, silentMs: 30 * MIN };
    const watch = drive(aboard(), fixesEvery(MIN, 0, 4 * MIN)).welfare;
    expect(welfareOnTick(watch, after(10 * MIN), quiet).change).toBeNull();
    expect(welfareOnTick(watch, after(10 * MIN + 1), quiet).change?.alert).toEqual({
      reason: "stationary",
      since: PICKUP,
      raised_at: after(10 * MIN + 1),
      position: HERE,
    });
  });

  it("given a phone whose clock is an hour ahead, when it stands still, then the stand-still is timed alike", () => {
    const { changes } = drive(aboard(), fixesEvery(MIN, 0, 11 * MIN), { skewMs: 60 * MIN });
    // Its first fix (an hour "after" the pickup) starts the stand-still; ten minutes on, the alert.
    expect(changes.map(({ at, step }) => [at, step.change?.type])).toEqual([
      [11 * MIN, "tracking.stopped"],
    ]);
  });

  it("given fixes the phone kept from a wait before the pickup, when they come after it, then the stand-still is timed from the pickup", () => {
    const waited = fixesEvery(MIN, 0, 20 * MIN).map(({ where }, i) => ({
      ...where,
      recorded_at: after((i - 20) * MIN),
    }));
    let watch = aboard();
    for (const fix of waited) watch = welfareOnFix(watch, fix, after(MIN), POLICY).welfare;
    expect(watch.still).toEqual({ ...HERE, since: after(-20 * MIN), until: PICKUP });
    const live = (at: number) =>
      welfareOnFix(watch, { ...HERE, recorded_at: after(at) }, after(at), POLICY);
    expect(live(10 * MIN).change).toBeNull();
    expect(live(10 * MIN + 1).change?.alert).toEqual({
      reason: "stationary",
      since: after(-20 * MIN),
      raised_at: after(10 * MIN + 1),
      position: HERE,
    });
  });

  it("given an open alert, when the pet is delivered, then it clears and the watch ends", () => {
    const silent = welfareOnTick(aboard(), after(6 * MIN), POLICY);
    const delivered = endWelfare(silent.welfare, after(7 * MIN), "delivered");
    expect(delivered.change).toEqual({
      type: "tracking.resumed",
      alert: { ...silent.welfare.alert, cleared_at: after(7 * MIN), cleared_by: "delivered" },
    });
    expect([delivered.welfare.aboard, delivered.welfare.alert]).toEqual([false, null]);
    // Nothing after: no fix, no silence, no second end.
    const later = { ...HERE, recorded_at: after(40 * MIN) };
    expect(welfareOnFix(delivered.welfare, later, after(40 * MIN), POLICY)).toEqual({
      welfare: delivered.welfare,
      change: null,
    });
    expect(welfareOnTick(delivered.welfare, after(90 * MIN), POLICY).change).toBeNull();
    expect(endWelfare(delivered.welfare, after(91 * MIN), "cancelled").change).toBeNull();
  });

  it("given no alert, when the pet is delivered, then the watch ends quietly", () => {
    const step = endWelfare(aboard(), after(MIN), "delivered");
    expect(step).toEqual({ welfare: { ...aboard(), aboard: false }, change: null });
  });

  it("given many alerts on one trip, when they clear, then the latest few are kept", () => {
    let watch = aboard();
    for (let i = 0; i < CLEARED_ALERTS_KEPT + 3; i++) {
      const at = (i + 1) * 10 * MIN;
      watch = welfareOnTick(watch, after(at - 1), POLICY).welfare;
      watch = welfareOnFix(watch, { ...HERE, recorded_at: after(at) }, after(at), POLICY).welfare;
    }
    expect(watch.cleared).toHaveLength(CLEARED_ALERTS_KEPT);
    expect(watch.cleared_at).toEqual(after((CLEARED_ALERTS_KEPT + 3) * 10 * MIN));
  });

  it("sweeps at a fifth of the shorter limit, between 200 ms and 30 s", () => {
    expect(welfareSweepEveryMs(POLICY)).toBe(30_000);
    expect(welfareSweepEveryMs({ ...POLICY, silentMs: 60_000 })).toBe(12_000);
    expect(welfareSweepEveryMs({ ...POLICY, stopMs: 100 })).toBe(200);
  });
});

describe("track decider: the welfare watch", () => {
  const given = givenWhenThen(track);
  const AT = after(20 * MIN);
  const stored = (status: TrackStatus, welfare?: Welfare): Track => ({
    _id: trackIdOf("b1"),
    booking_id: "b1",
    owner_id: "owner-1",
    runner_id: "r1",
    status,
    dropoff: HERE,
    pet_name: "Rex",
    booking_number: "KLT-20261201-ABCDEF",
    state: null,
    eta_seconds: null,
    total_distance_km: null,
    started_at: PICKUP,
    completed_at: null,
    ...(welfare ? { welfare } : {}),
    created_at: PICKUP,
    updated_at: PICKUP,
  });
  const trip = {
    track_id: "trk-b1",
    booking_id: "b1",
    booking_number: "KLT-20261201-ABCDEF",
    pet_name: "Rex",
    runner_id: "r1",
    owner_id: "owner-1",
    occurred_at: AT.toISOString(),
  };
  const watching = { ...aboard(), rev: 1 };
  const silent = welfareOnTick(watching, after(6 * MIN), POLICY);
  const progress = { heard_at: after(19 * MIN), still: null };
  const pickup = {
    type: "pickup",
    runner_id: "r1",
    booking_number: "KLT-20261201-ABCDEF",
    at: PICKUP,
  } as const;

  it("given an active track, when the pet is picked up, then the watch starts, guarded on none", () => {
    const unstarted = stored("active");
    delete unstarted.booking_number;
    given(unstarted)
      .when(pickup)
      .thenAccepted({
        expect: { status: "active", "welfare.rev": null },
        changes: {
          runner_id: "r1",
          booking_number: "KLT-20261201-ABCDEF",
          welfare: watching,
          updated_at: PICKUP,
        },
      });
  });

  it("given a watched trip, when the pickup comes again, then nothing changes", () => {
    given(stored("active", watching)).when(pickup).thenAccepted({ expect: {}, changes: {} });
  });

  it.each(["pending", "delivered", "completed", "cancelled"] as const)(
    "given a %s track, when a pickup comes, then it is refused",
    (status) => {
      given(stored(status)).when(pickup).thenRefused();
    },
  );

  it("given a watched trip, when an alert opens, then tracking.stopped is stored with it", () => {
    const change = silent.change;
    if (change?.type !== "tracking.stopped") throw new Error("no alert");
    const { changes, events } = given(stored("active", watching))
      .when({ type: "welfare", change, progress, at: AT })
      .thenAccepted();
    expect(changes.welfare).toEqual({ ...watching, ...progress, alert: change.alert, rev: 2 });
    expect(events).toEqual([
      {
        type: "tracking.stopped",
        data: {
          ...trip,
          reason: "silent",
          since: PICKUP.toISOString(),
        },
      },
    ]);
    expect(parsePayload("tracking.stopped", events[0]?.data)).toEqual(events[0]?.data);
  });

  it("given a stationary alert at a place, when it opens, then the event says where", () => {
    const still = drive(watching, fixesEvery(MIN, 0, 11 * MIN));
    const change = still.changes[0]?.step.change;
    if (!change) throw new Error("no alert");
    const { events } = given(stored("active", watching))
      .when({ type: "welfare", change, progress, at: AT })
      .thenAccepted();
    expect(events[0]?.data).toEqual({
      ...trip,
      reason: "stationary",
      since: PICKUP.toISOString(),
      ...HERE,
    });
  });

  it("given an open alert, when another opens (a repeat, another instance), then nothing changes", () => {
    const change = silent.change;
    if (!change) throw new Error("no alert");
    given(stored("active", { ...silent.welfare, rev: 2 }))
      .when({ type: "welfare", change, progress, at: AT })
      .thenAccepted({ expect: {}, changes: {} });
  });

  it("given an open alert, when it clears, then tracking.resumed; a clear of another alert changes nothing", () => {
    const open = { ...silent.welfare, rev: 2 };
    const heard = welfareOnFix(open, { ...HERE, recorded_at: AT }, AT, POLICY);
    const change = heard.change;
    if (change?.type !== "tracking.resumed") throw new Error("not cleared");
    const { expect: guard, events } = given(stored("active", open))
      .when({ type: "welfare", change, progress, at: AT })
      .thenAccepted();
    expect(guard).toEqual({ status: "active", "welfare.rev": 2 });
    expect(events).toEqual([
      {
        type: "tracking.resumed",
        data: { ...trip, reason: "silent", since: PICKUP.toISOString() },
      },
    ]);
    expect(parsePayload("tracking.resumed", events[0]?.data)).toEqual(events[0]?.data);
    given(stored("active", watching))
      .when({ type: "welfare", change, progress, at: AT })
      .thenAccepted({ expect: {}, changes: {} });
  });

  it("given a trip with no pet aboard, when an alert opens, then it is refused", () => {
    const change = silent.change;
    if (!change) throw new Error("no alert");
    given(stored("active"))
      .when({ type: "welfare", change, progress, at: AT })
      .thenRefused("conflict", "No pet is aboard");
    given(stored("delivered", { ...watching, aboard: false }))
      .when({ type: "welfare", change, progress, at: AT })
      .thenRefused();
  });

  it("given an open alert, when the pet is delivered, then the watch ends with tracking.resumed", () => {
    const { changes, events } = given(stored("active", { ...silent.welfare, rev: 2 }))
      .when({ type: "deliver", at: AT })
      .thenAccepted();
    expect(changes.status).toBe("delivered");
    expect([changes.welfare?.aboard, changes.welfare?.alert, changes.welfare?.rev]).toEqual([
      false,
      null,
      3,
    ]);
    expect(events.map((event) => event.type)).toEqual(["tracking.resumed"]);
  });

  it("given an open alert, when the booking is cancelled, then it clears too", () => {
    const { events } = given(stored("active", { ...silent.welfare, rev: 2 }))
      .when({ type: "cancel", at: AT })
      .thenAccepted();
    expect(events.map((event) => event.type)).toEqual(["tracking.resumed"]);
  });

  it("given a trip never picked up, when delivered, then no event, guarded on no watch", () => {
    given(stored("active"))
      .when({ type: "deliver", at: AT })
      .thenAccepted({
        expect: { status: "active", "welfare.rev": null },
        changes: { status: "delivered", updated_at: AT },
      });
  });

  it("given a watched trip, when a checkpoint knows its rev, then the watch's progress is saved; an older rev, only the fixes", () => {
    const still = { ...HERE, since: after(MIN), until: after(18 * MIN) };
    const checkpoint = (rev: number) =>
      ({
        type: "checkpoint",
        state: emptyTrack(),
        eta_seconds: 60,
        welfare: { heard_at: after(18 * MIN), still, rev },
        at: AT,
      }) as const;
    given(stored("active", watching))
      .when(checkpoint(1))
      .thenAccepted({
        expect: { status: "active", "welfare.rev": 1 },
        changes: {
          state: emptyTrack(),
          eta_seconds: 60,
          welfare: { ...watching, heard_at: after(18 * MIN), still },
          updated_at: AT,
        },
      });
    given(stored("active", { ...silent.welfare, rev: 2 }))
      .when(checkpoint(1))
      .thenAccepted({
        expect: { status: "active" },
        changes: { state: emptyTrack(), eta_seconds: 60, updated_at: AT },
      });
  });
});
