import { RUNNER_ACTIONS } from "../../contracts";
import { actionsOf, callerOf, orThrow } from "../../lib/action";
import type { RunnerDoc } from "../../models/runner.model";
import { commandRunner, ensureRunner, runnersOf } from "./commands";
import { ratingEntity, runnerEntity, toOffer } from "./entities";
import type { RunnerThis } from "./models";

const action = actionsOf<RunnerThis>();

/** The caller's runner profile (created on first use). */
export const me = action(RUNNER_ACTIONS.me, async function (ctx) {
  return runnerEntity(this, await ensureRunner(this, callerOf(ctx).sub));
});

/**
 * Name, vehicle, payouts, and what the runner can carry (vehicle kind, crate capacity, species,
 * air conditioning). Claiming more than a verified runner was verified for withdraws its
 * verification (domain/runner.ts).
 */
export const updateProfile = action(RUNNER_ACTIONS.updateProfile, async function (ctx) {
  const runner = callerOf(ctx);
  const known = await ensureRunner(this, runner.sub);
  const command = { type: "update_profile" as const, profile: ctx.params, at: new Date() };
  return runnerEntity(this, orThrow(await commandRunner(this, runner.sub, command, known)));
});

/** The caller's open offer (at most one). */
export const offers = action(RUNNER_ACTIONS.offers, async function (ctx) {
  const doc = await runnersOf(this).load(callerOf(ctx).sub);
  return { items: doc ? toOffer(doc) : [] };
});

/** For the payment service: where a runner's payout goes (null: the platform keeps it). */
export const payoutAccount = action(RUNNER_ACTIONS.payoutAccount, async function (ctx) {
  const doc = await this.models.runners
    .findById(ctx.params.runner_id, { stripe_account_id: 1 })
    .lean<Pick<RunnerDoc, "stripe_account_id">>();
  return { stripe_account_id: doc?.stripe_account_id ?? null };
});

/** For a share link's page: the first word of the runner's name (null: none given). */
export const firstName = action(RUNNER_ACTIONS.firstName, async function (ctx) {
  const doc = await this.models.runners
    .findById(ctx.params.runner_id, { name: 1 })
    .lean<Pick<RunnerDoc, "name">>();
  return doc?.name?.trim().split(/\s+/)[0] || null;
});

/** Admin: online runners near a point, nearest first, with their availability. */
export const nearby = action(RUNNER_ACTIONS.nearby, async function (ctx) {
  const { lat, lng, radius_km, limit } = ctx.params;
  const near = await this.geo.nearby({ lat, lng }, radius_km, { limit });
  const docs = await this.models.runners
    .find({ _id: { $in: near.map((runner) => runner.runnerId) } }, { outbox: 0 })
    .lean<RunnerDoc[]>();
  const byId = new Map(docs.map((doc) => [doc._id, doc]));
  return {
    items: near.map((runner) => ({
      runner_id: runner.runnerId,
      distance_km: Math.round(runner.distanceKm * 1000) / 1000,
      lat: runner.lat,
      lng: runner.lng,
      reported_at: runner.at.toISOString(),
      availability: byId.get(runner.runnerId)?.availability ?? "online",
      active_booking_id: byId.get(runner.runnerId)?.active_booking_id ?? null,
      rating: ratingEntity(byId.get(runner.runnerId) ?? {}),
    })),
  };
});

/** Admin dashboard: every runner online or busy, where it is, on which booking. */
export const listOnline = action(RUNNER_ACTIONS.listOnline, async function (ctx) {
  const docs = await this.models.runners
    .find({ availability: { $in: ["online", "busy"] } }, { outbox: 0 })
    .sort({ _id: 1 })
    .limit(ctx.params.limit)
    .lean<RunnerDoc[]>();
  return { items: await Promise.all(docs.map((doc) => runnerEntity(this, doc))) };
});
