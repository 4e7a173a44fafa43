import { RUNNER_ACTIONS } from "../../contracts";
import { decide } from "../../domain/runner";
import { actionsOf, callerOf, notFound, orThrow, rejected } from "../../lib/action";
import type { RunnerDoc } from "../../models/runner.model";
import { commandRunner, ensureRunner, runnerEntity, runnersOf, type RunnerThis } from "./context";
import { dispatchNear, moveOn } from "./dispatch";

const action = actionsOf<RunnerThis>();

/** The runner starts taking jobs at a position: `runner.online`, then nearby open bookings. */
export const online = action(RUNNER_ACTIONS.online, async function (ctx) {
  const runner = callerOf(ctx);
  const at = new Date();
  const known = await ensureRunner(this, runner.sub);
  await this.geo.upsert(runner.sub, ctx.params, at);
  const command = { type: "go_online" as const, position: ctx.params, at };
  const doc = orThrow(await commandRunner(this, runner.sub, command, known));
  void dispatchNear(this, ctx.params).catch((error: unknown) =>
    this.logger.warn("dispatch after online failed", error),
  );
  return runnerEntity(this, doc);
});

/** The runner stops taking jobs: `runner.offline`; an open offer moves on. */
export const offline = action(RUNNER_ACTIONS.offline, async function (ctx) {
  const runnerId = callerOf(ctx).sub;
  const doc = await runnersOf(this).load(runnerId);
  if (!doc) throw notFound("Runner");
  return runnerEntity(this, await goOffline(this, doc, "runner", new Date()));
});

/**
 * online → offline with `runner.offline`, out of the geo index, its open offer moved on; a busy
 * runner stays busy (its trip goes on), and an offline one is left as it is. Refused only for a
 * runner asking while on a booking.
 */
export async function goOffline(
  service: RunnerThis,
  runner: RunnerDoc,
  by: "runner" | "system",
  at: Date,
): Promise<RunnerDoc> {
  const decision = decide(runner, { type: "go_offline", by, at });
  // Refused for the active booking it names; anything else (not online) is nothing to do.
  if (!decision.ok && decision.rejection.data?.active_booking_id) {
    throw rejected(decision.rejection);
  }
  await service.geo.remove(runner._id);
  if (runner.offer) await moveOn(service, runner.offer.booking_id, runner._id);
  if (!decision.ok) return runner;
  const saved = await runnersOf(service).save(runner._id, runner, decision);
  return saved.ok ? saved.state : runner;
}
