import {
  decide as decideDispatch,
  type DispatchCommand,
  type DispatchStep,
} from "../../domain/dispatch";
import { decide, type RunnerCommand } from "../../domain/runner";
import type { AggregateStore, Outcome } from "../../lib/aggregate";
import type { DispatchDoc } from "../../models/dispatch.model";
import type { RunnerDoc } from "../../models/runner.model";
import type { RunnerThis } from "./models";

/** Lost races (two consumers on one runner or booking) are decided again on what is stored then. */
export const RETRIES = 3;

export const runnersOf = (service: RunnerThis): AggregateStore<RunnerDoc> =>
  service.aggregate(service.models.runners, "runner");

export const dispatchesOf = (service: RunnerThis): AggregateStore<DispatchDoc> =>
  service.aggregate(service.models.dispatches, "dispatch");

/** One command to a runner's document, decided on what is stored (and again on a lost race). */
export function commandRunner(
  service: RunnerThis,
  runnerId: string,
  command: RunnerCommand,
  known?: RunnerDoc | null,
): Promise<Outcome<RunnerDoc>> {
  return runnersOf(service).execute(runnerId, decide, () => command, { retries: RETRIES, known });
}

/** One command to a booking's dispatch, decided on what is stored (again on a lost race). */
export function commandDispatch(
  service: RunnerThis,
  bookingId: string,
  step: DispatchStep,
  known?: DispatchDoc | null,
): Promise<Outcome<DispatchDoc>> {
  return dispatchesOf(service).execute(
    bookingId,
    decideDispatch,
    (): DispatchCommand => ({ ...step, booking_id: bookingId, at: new Date() }),
    { retries: RETRIES, known },
  );
}

/** The runner's document, created (offline) on first use. */
export async function ensureRunner(service: RunnerThis, runnerId: string): Promise<RunnerDoc> {
  const runners = runnersOf(service);
  return (
    (await runners.load(runnerId)) ??
    runners.create(runnerId, decide, { type: "register", runner_id: runnerId, at: new Date() })
  );
}

/** The runner gives back its offer of the booking (if it still holds it). */
export async function releaseOffer(
  service: RunnerThis,
  runnerId: string,
  bookingId: string,
): Promise<void> {
  await commandRunner(service, runnerId, {
    type: "release_offer",
    booking_id: bookingId,
    at: new Date(),
  });
}
