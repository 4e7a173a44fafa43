import { RUNNER_ACTIONS } from "../../contracts";
import { actionsOf, callerOf, orThrow } from "../../lib/action";
import type { Outcome } from "../../lib/aggregate";
import type { RunnerDoc } from "../../models/runner.model";
import { commandDispatch, commandRunner, releaseOffer } from "./commands";
import type { RunnerThis } from "./models";
import { tryDispatch } from "./offer-round";

/*
 * How an offer ends besides its acceptance: declined, expired, its runner gone or taken.
 */

const action = actionsOf<RunnerThis>();

/** The offer to `runnerId` is over (declined, expired, runner gone): the next one, please. */
export async function moveOn(
  service: RunnerThis,
  bookingId: string,
  runnerId: string,
  {
    type = "move_on",
    offerKept = true,
  }: { type?: "move_on" | "decline"; offerKept?: boolean } = {},
) {
  const reopened = await commandDispatch(service, bookingId, { type, runner_id: runnerId });
  if (offerKept) await releaseOffer(service, runnerId, bookingId);
  if (reopened.ok) await tryDispatch(service, bookingId, reopened.state);
  return reopened;
}

/** The runner turns the offer down; it moves to the next nearest runner. */
export const decline = action(RUNNER_ACTIONS.decline, async function (ctx) {
  orThrow(await moveOn(this, ctx.params.id, callerOf(ctx).sub, { type: "decline" }));
  return { declined: true, booking_id: ctx.params.id };
});

/**
 * The runner goes busy on the booking; an offer it held for another one moves on now. `known`:
 * the runner as just read.
 */
export async function takeBooking(
  service: RunnerThis,
  runnerId: string,
  bookingId: string,
  at: Date,
  by: "claim" | "event",
  known?: RunnerDoc,
): Promise<Outcome<RunnerDoc>> {
  const taken = await commandRunner(
    service,
    runnerId,
    { type: "take_booking", booking_id: bookingId, at, by },
    known,
  );
  // Not at its timeout: the booking it was offered should not wait for a runner now busy. Taking
  // the booking dropped the offer in the same write: nothing for the runner to give back.
  const other = taken.ok ? taken.before?.offer?.booking_id : undefined;
  if (other && other !== bookingId) await moveOn(service, other, runnerId, { offerKept: false });
  return taken;
}
