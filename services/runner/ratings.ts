import type { DomainEvent } from "../../events/envelope";
import { ignoreDuplicateKey } from "../../lib/mongo";
import type { RunnerRatingDoc } from "../../models/runner-rating.model";
import type { RunnerThis } from "./models";

/**
 * An owner's rating of its runner, once published (`booking.rated`), counts in the runner's
 * average: once, however often the event comes (the tally remembers the bookings it counted).
 * Runners' ratings of owners are kept by the booking service alone.
 */
export async function countRating(
  service: RunnerThis,
  event: DomainEvent<"booking.rated">,
): Promise<void> {
  const { booking_id, rater_role, ratee_role, ratee_id, stars } = event.data;
  if (rater_role !== "owner" || ratee_role !== "runner") return;
  const tallies = service.models.runnerRatings;
  await tallies
    .create({ _id: ratee_id, count: 0, sum: 0, booking_ids: [] })
    .catch(ignoreDuplicateKey);
  const counted = await tallies
    .findOneAndUpdate(
      { _id: ratee_id, booking_ids: { $ne: booking_id } },
      { $inc: { count: 1, sum: stars }, $push: { booking_ids: booking_id } },
      // No projection: FerretDB's findAndModify takes none.
      { returnDocument: "after" },
    )
    .lean<RunnerRatingDoc>();
  // Counted before (a replay): the copy below is made all the same, in case a crash cut it short.
  const tally =
    counted ?? (await tallies.findById(ratee_id, { booking_ids: 0 }).lean<RunnerRatingDoc>());
  if (!tally) return;
  // A copy on the runner, never older than the one there: tallies only grow.
  await service.models.runners.updateOne(
    {
      _id: ratee_id,
      $or: [{ "rating.count": { $lt: tally.count } }, { "rating.count": { $exists: false } }],
    },
    { $set: { rating: { count: tally.count, sum: tally.sum } } },
  );
}
