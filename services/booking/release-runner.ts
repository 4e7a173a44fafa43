import type { BookingThis } from "./models";

/**
 * Gives back the claim of an accept that did not happen. Best effort: a runner left claimed
 * (its service unreachable now) is freed by its next accept, which takes over a claim the
 * booking's slot no longer holds.
 */
export async function releaseRunner(service: BookingThis, runnerId: string, bookingId: string) {
  await service.broker
    .call("runner.release", { runner_id: runnerId, booking_id: bookingId })
    .catch((error: unknown) =>
      service.logger.warn(`could not release runner ${runnerId} from ${bookingId}`, error),
    );
}
