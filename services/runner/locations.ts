import type { z } from "zod";
import { RUNNER_ACTIONS, LocationParams, type FixResult } from "../../contracts";
import { TOPICS } from "../../events/catalog";
import type { DomainEvent } from "../../events/envelope";
import { actionsOf, callerOf, clientError } from "../../lib/action";
import { runtimeOf } from "../../lib/runtime";
import { validationError } from "../../lib/zod-validator";
import { aheadOfClock } from "../../domain/tracking";
import type { RunnerDoc } from "../../models/runner.model";
import type { RunnerThis } from "./context";

const action = actionsOf<RunnerThis>();

type Fix = z.output<typeof LocationParams>;

/**
 * One GPS fix: moves the runner in the geo index and publishes `runner.location_update`.
 * The hot path: no database access, one geo-index round trip, one (batched) Kafka send.
 * Queued (202) once Kafka has it; a conflict when the runner is not online; rate limited beyond
 * LOCATION_RATE_LIMIT.
 */
export const location = action(RUNNER_ACTIONS.location, async function (ctx) {
  const event = await takeFix(this, callerOf(ctx).sub, ctx.params, Date.now());
  await runtimeOf(this.broker).bus.publish(TOPICS.runner, [event]);
  this.broker.metrics.increment("kilat.runner.location.accepted");
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
 * all count; a fix from the future is refused alone.
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
  const now = Date.now();
  const settled = await Promise.allSettled(
    fixes.map(({ runner_id, fix }) => {
      const parsed = LocationParams.safeParse(fix);
      return parsed.success
        ? takeFix(service, runner_id, parsed.data, now)
        : Promise.reject(validationError(parsed.error));
    }),
  );
  const events = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  if (events.length > 0) {
    await runtimeOf(service.broker).bus.publish(TOPICS.runner, events);
    service.broker.metrics.increment("kilat.runner.location.accepted", {}, events.length);
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

/**
 * One GPS fix judged: not from the future, within the runner's rate limit (by the time it was
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
  if (!service.limiter.allow(runnerId, recordedAt)) {
    service.broker.metrics.increment("kilat.runner.location.dropped", { reason: "rate" });
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
