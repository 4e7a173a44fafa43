import { RUNNER_ACTIONS } from "../../contracts";
import { mayAccept } from "../../domain/eligibility";
import { verificationOf } from "../../domain/runner";
import { actionsOf, callerOf, notFound, orThrow, rejected } from "../../lib/action";
import type { RunnerDoc } from "../../models/runner.model";
import { commandRunner, ensureRunner, runnersOf } from "./commands";
import { runnerEntity } from "./entities";
import type { RunnerThis } from "./models";
import { dispatchNear } from "./offer-round";
import { moveOn, takeBooking } from "./offers";

const action = actionsOf<RunnerThis>();

/** The runner starts taking jobs at a position: `runner.online`, then nearby open bookings. */
export const online = action(RUNNER_ACTIONS.online, async function (ctx) {
  const runner = callerOf(ctx);
  const at = new Date();
  const known = await ensureRunner(this, runner.sub);
  await this.geo.upsert(runner.sub, ctx.params, at);
  const command = { type: "go_online" as const, position: ctx.params, at };
  const doc = orThrow(await commandRunner(this, runner.sub, command, known));
  // After the answer, on the background pool: the request does not wait for it, nor for its
  // connections. An unverified runner is offered nothing: nothing to try for it.
  if (verificationOf(doc).status === "verified") {
    void dispatchNear(this.$background, ctx.params).catch((error: unknown) =>
      this.logger.warn("dispatch after online failed", error),
    );
  }
  return runnerEntity(this, doc);
});

/** The runner stops taking jobs: `runner.offline`; an open offer moves on. */
export const offline = action(RUNNER_ACTIONS.offline, async function (ctx) {
  return runnerEntity(this, await goOffline(this, callerOf(ctx).sub, "runner", new Date()));
});

/**
 * For the booking service's accept, before its own guarded write: the runner goes busy on the
 * booking, refused unless it is verified (403), able to carry the booking's pets when `needs`
 * says what they are (409), and online (409). One write guarded on the availability it read, so
 * of this and a concurrent go-offline one wins: never an offline runner on an accepted booking.
 */
export const claim = action(RUNNER_ACTIONS.claim, async function (ctx) {
  const { runner_id, booking_id, accepted_at, needs } = ctx.params;
  const known = await runnersOf(this).load(runner_id);
  const refusal = mayAccept(known, needs);
  if (refusal) throw rejected(refusal);
  const at = new Date(accepted_at);
  orThrow(await takeBooking(this, runner_id, booking_id, at, "claim", known ?? undefined));
  this.trips.delete(runner_id);
  return { runner_id, booking_id };
});

/** The accept lost its race after claiming: the runner is free again, if still on that booking. */
export const release = action(RUNNER_ACTIONS.release, async function (ctx) {
  const { runner_id, booking_id } = ctx.params;
  const freed = await commandRunner(this, runner_id, {
    type: "free",
    booking_id,
    at: new Date(),
  });
  this.trips.delete(runner_id);
  return { released: freed.ok };
});

/**
 * online → offline with `runner.offline`, out of the geo index, its open offer moved on; a busy
 * runner stays busy (its trip goes on), and an offline one is left as it is. Refused only for a
 * runner asking while on a booking. `known`: the runner as just read; else it is decided on what
 * this instance last wrote of it (the write is guarded), or read.
 */
export async function goOffline(
  service: RunnerThis,
  runnerId: string,
  by: "runner" | "system",
  at: Date,
  known?: RunnerDoc,
): Promise<RunnerDoc> {
  // Decided again on what is stored when it loses a race: an accept that claimed the runner
  // meanwhile makes this a refusal (409), never a 200 for a runner that stayed busy.
  const outcome = await commandRunner(service, runnerId, { type: "go_offline", by, at }, known);
  // Refused for the active booking it names, or no such runner; anything else (not online) is
  // nothing to do.
  if (
    !outcome.ok &&
    (outcome.rejection.kind === "not_found" || outcome.rejection.data?.active_booking_id)
  ) {
    throw rejected(outcome.rejection);
  }
  const now = outcome.ok ? outcome.state : await runnersOf(service).load(runnerId);
  if (!now) throw notFound("Runner");
  if (now.availability === "busy") return now;
  await service.geo.remove(runnerId);
  // The offer as the write found it: one made after the runner was last read moves on too.
  if (now.offer) await moveOn(service, now.offer.booking_id, runnerId);
  return now;
}
