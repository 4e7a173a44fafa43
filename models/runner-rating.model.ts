import { Schema, type Connection, type Model } from "mongoose";
import type { RatingTally } from "../domain/ratings";

/**
 * A runner's tally of the owners' ratings (`_id` = runner id): the count, the stars summed, and
 * the bookings counted, in one document, so that counting a rating and remembering it was
 * counted are one write: a replayed `booking.rated` finds its booking there and counts nothing.
 * The runner's document keeps a copy of the count and sum, which its readers (profile, lists,
 * dispatch) have at hand.
 */
export interface RunnerRatingDoc extends RatingTally {
  _id: string;
  booking_ids: string[];
}

const RunnerRatingSchema = new Schema<RunnerRatingDoc>(
  {
    _id: { type: String, required: true },
    count: { type: Number, required: true },
    sum: { type: Number, required: true },
    booking_ids: { type: [String], default: [] },
  },
  { collection: "runner_ratings", versionKey: false },
);

export function runnerRatingModel(connection: Connection): Model<RunnerRatingDoc> {
  return (
    (connection.models.RunnerRating as Model<RunnerRatingDoc> | undefined) ??
    connection.model<RunnerRatingDoc>("RunnerRating", RunnerRatingSchema)
  );
}
