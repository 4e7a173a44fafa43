import type { z } from "zod";
import { RUNNER_ACTIONS, LocationParams, type FixResult } from "../../contracts";
import { TOPICS } from "../../events/catalog";
import type { DomainEvent } from "../../events/envelope";
import { actionsOf, callerOf, clientError } from "../../lib/action";
import { runtimeOf } from "../../lib/runtime";
import { validationError } from "../../lib/zod-validator";
import { DISPATCH_TUNING } from "../../config/tuning";
import { aheadOfClock, staleFix, type StaleFix } from "../../domain/tracking";
import type { RunnerDoc } from "../../models/runner.model";
import type { RunnerThis } from "./models";

const action = actionsOf<RunnerThis>();

type Fix = z.output<typeof LocationParams>;

/**
 * One GPS fix: moves the runner in the geo index and publishes `runner.location_update`.
 * The hot path: no database access (but for fixes naming a booking, one read per runner and
 * instance every `tripTrustMs`), one geo-index round trip, one (batched) Kafka send. Queued
 * (202) once Kafka has it; a conflict when the runner is not online; 422 when too old; rate
 * limited beyond LOCATION_RATE_LIMIT and LOCATION_ARRIVALS_PER_SEC.
 */
export const location = action(RUNNER_ACTIONS.location, async function (ctx) {
  const [judged] = await judge(this, [{ runner_id: callerOf(ctx).sub, fix: ctx.params }]);
  if (judged.status === "rejected") throw judged.reason;
  const event = judged.value;
  await runtimeOf(this.broker).bus.publish(TOPICS.runner, [event]);
  this.broker.metrics.increment("kilat.runner.location.accepted.total");
  ctx.meta.$outcome = "queued";
  return { accepted: true, event_id: event.id };
});

/**
 * The socket path of `location`: the fixes a gateway received in one tick (or a runner's
 * buffered batch), judged one by one exactly as `location` judges one, then one Kafka send for
 * all accepted. Answers per fix; the gateway authenticated each runner.
 */
export const locations = action(RUNNER_ACTIONS.locations, async function (ctx) {
  return { results: await judgeFixes(this, ctx.params.fixes) };
});

/**
 * A runner's buffered fixes (recorded while offline), oldest first, judged one by one: the
 * rate limit counts them by the time each was recorded, so minutes of fixes uploaded at once
 * all count; a fix from the future, or too old, is refused alone.
 */
export const uploadLocations = action(RUNNER_ACTIONS.uploadLocations, async function (ctx) {
  const runnerId = callerOf(ctx).sub;
  return {
    results: await judgeFixes(
      this,
      ctx.params.fixes.map((fix) => ({ runner_id: runnerId, fix })),
    ),
  };
});

/** Each fix judged in order (validation, time, rate, online); the accepted ones sent together. */
async function judgeFixes(
  service: RunnerThis,
  fixes: { runner_id: string; fix?: unknown }[],
): Promise<FixResult[]> {
  const settled = await judge(
    service,
    fixes.map(({ runner_id, fix }) => {
      const parsed = LocationParams.safeParse(fix);
      return parsed.success
        ? { runner_id, fix: parsed.data }
        : { runner_id, error: validationError(parsed.error) };
    }),
  );
  const events = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  if (events.length > 0) {
    await runtimeOf(service.broker).bus.publish(TOPICS.runner, events);
    service.broker.metrics.increment("kilat.runner.location.accepted.total", {}, events.length);
  }
  return settled.map((result) =>
    result.status === "fulfilled"
      ? { ok: true, event_id: result.value.id }
      : fixFailure(result.reason),
  );
}

function fixFailure(error: unknown): FixResult {
  const { name, message, code, type, data } = (error ?? {}) as Partial<
    Extract<FixResult, { ok: false }>["error"]
  >;
  return {
    ok: false,
    error: { name: name ?? "Error", message: message ?? String(error), code, type, data },
  };
}

/** A fix as it came, parsed, or why it could not be. */
type Arrival = { runner_id: string; fix: Fix } | { runner_id: string; error: Error };

/**
 * Fixes judged in their order: each arrival counts against its runner's arrival limit (a bad
 * fix arrived too), then what the fixes naming a booking need is read (one query for all, rarely
 * any), then each is judged by `takeFix`.
 */
async function judge(
  service: RunnerThis,
  arrivals: Arrival[],
): Promise<PromiseSettledResult<DomainEvent>[]> {
  const now = Date.now();
  const admitted = arrivals.map((arrival): Arrival => {
    if (service.arrivals.allow(arrival.runner_id, now)) return arrival;
    service.broker.metrics.increment("kilat.runner.location.dropped.total", { reason: "arrivals" });
    return {
      runner_id: arrival.runner_id,
      error: clientError(
        "RATE_LIMITED",
        "Too many location updates arriving at once; send the rest later",
      ),
    };
  });
  await learnTrips(service, admitted, now);
  return Promise.allSettled(
    admitted.map((arrival) =>
      "error" in arrival
        ? Promise.reject(arrival.error)
        : takeFix(service, arrival.runner_id, arrival.fix, now),
    ),
  );
}

/**
 * Reads the active booking of each runner whose fix names a booking not known here (cached:
 * a runner's next fixes cost nothing). A booking other than the one last read is read again at
 * most every `tripRecheckMs`: the runner may have taken it on another instance since. Any read
 * is trusted for `tripTrustMs` only: the trip may have ended on another instance.
 */
async function learnTrips(service: RunnerThis, arrivals: Arrival[], now: number) {
  const unknown = new Set<string>();
  for (const arrival of arrivals) {
    const bookingId = "fix" in arrival ? arrival.fix.booking_id : undefined;
    if (!bookingId || unknown.has(arrival.runner_id)) continue;
    const known = service.trips.get(arrival.runner_id);
    const age = known ? now - known.checkedAt : Infinity;
    const recheck =
      known?.booking_id === bookingId ? DISPATCH_TUNING.tripTrustMs : DISPATCH_TUNING.tripRecheckMs;
    if (age >= recheck) unknown.add(arrival.runner_id);
  }
  if (unknown.size === 0) return;
  const docs = await service.models.runners
    .find({ _id: { $in: [...unknown] } }, { active_booking_id: 1, active_since: 1 })
    .lean<Pick<RunnerDoc, "_id" | "active_booking_id" | "active_since">[]>();
  const byId = new Map(docs.map((doc) => [doc._id, doc]));
  for (const runnerId of unknown) {
    const doc = byId.get(runnerId);
    service.trips.set(runnerId, {
      booking_id: doc?.active_booking_id ?? null,
      since: doc?.active_since?.getTime() ?? null,
      checkedAt: now,
    });
  }
}

/** When the booking a fix names was accepted, if it is its runner's active one; else null. */
function acceptedAt(service: RunnerThis, runnerId: string, fix: Fix): number | null {
  if (!fix.booking_id) return null;
  const trip = service.trips.get(runnerId);
  return trip?.booking_id === fix.booking_id ? trip.since : null;
}

/**
 * One GPS fix judged: not from the future, not too old (recorded before the booking it names
 * was accepted, or past FIX_MAX_AGE), within the runner's rate limit (by the time it was
 * recorded), and the runner online (moved in the geo index in the same round trip); the
 * `runner.location_update` to publish, or the refusal. The limiter is consulted before anything
 * awaits, so the fixes of a batch are counted in their order.
 */
async function takeFix(
  service: RunnerThis,
  runnerId: string,
  fix: Fix,
  now: number,
): Promise<DomainEvent> {
  const recordedAt = Date.parse(fix.timestamp);
  if (aheadOfClock(recordedAt, now)) {
    throw clientError("VALIDATION_ERROR", "Invalid request: timestamp: recorded in the future", [
      {
        field: "timestamp",
        message: "more than the allowed clock skew ahead of the server",
        type: "future",
      },
    ]);
  }
  const { fixMaxAgeMs } = runtimeOf(service.broker).config.tracking;
  const stale = staleFix(recordedAt, now, acceptedAt(service, runnerId, fix), fixMaxAgeMs);
  if (stale) {
    service.broker.metrics.increment("kilat.runner.location.dropped.total", { reason: "stale" });
    throw clientError("VALIDATION_ERROR", `Invalid request: timestamp: ${STALE[stale]}`, [
      { field: "timestamp", message: STALE[stale], type: "stale" },
    ]);
  }
  if (!service.limiter.allow(runnerId, recordedAt)) {
    service.broker.metrics.increment("kilat.runner.location.dropped.total", { reason: "rate" });
    throw clientError("RATE_LIMITED", "Too many location updates; the excess is dropped");
  }
  const at = new Date(now);
  const online =
    (await service.geo.touch(runnerId, fix, at)) || (await rejoinIndex(service, runnerId, fix, at));
  if (!online) {
    throw clientError("CONFLICT", "Go online before sending locations", {
      availability: "offline",
    });
  }
  return service.domainEvent("runner.location_update", {
    runner_id: runnerId,
    ...(fix.booking_id ? { booking_id: fix.booking_id } : {}),
    latitude: fix.lat,
    longitude: fix.lng,
    ...(fix.speed_kmh !== undefined ? { speed_kmh: fix.speed_kmh } : {}),
    ...(fix.heading_degrees !== undefined ? { heading_degrees: fix.heading_degrees } : {}),
    timestamp: fix.timestamp,
    occurred_at: at.toISOString(),
  });
}

const STALE: Record<StaleFix, string> = {
  before_acceptance: "recorded before the booking it names was accepted",
  too_old: "recorded longer ago than FIX_MAX_AGE, naming no booking the runner is on",
};

/**
 * A runner the index dropped (silent past RUNNER_STALE_AFTER: a tunnel, a dead phone) but
 * still on a trip reports again: it goes back in, and its fixes count. Off the hot path:
 * only when `touch` found no fresh runner.
 */
async function rejoinIndex(
  service: RunnerThis,
  runnerId: string,
  position: { lat: number; lng: number },
  at: Date,
): Promise<boolean> {
  const doc = await service.models.runners
    .findById(runnerId, { availability: 1 })
    .lean<Pick<RunnerDoc, "availability">>();
  if (!doc || doc.availability === "offline") return false;
  await service.geo.upsert(runnerId, position, at);
  return true;
}
