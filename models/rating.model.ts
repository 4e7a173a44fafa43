import { Schema, type Connection, type Model } from "mongoose";
import { RATER_ROLES, type Rating } from "../domain/ratings";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

/**
 * A rating as stored (domain/ratings.ts), with its outbox: its reveal and its `booking.rated`
 * are one write. `_id` = `<booking_id>:<rater_role>`, so a second rating by the same side is a
 * duplicate key, whatever the race.
 */
export type RatingDoc = Rating & WithOutbox;

const RatingSchema = new Schema<RatingDoc>(
  {
    _id: { type: String, required: true },
    booking_id: { type: String, required: true },
    booking_number: { type: String, required: true },
    rater_role: { type: String, required: true, enum: RATER_ROLES },
    rater_id: { type: String, required: true },
    ratee_role: { type: String, required: true, enum: RATER_ROLES },
    ratee_id: { type: String, required: true },
    stars: { type: Number, required: true },
    text: { type: String, default: null },
    created_at: { type: Date, required: true },
    window_ends_at: { type: Date, required: true },
    revealed_at: { type: Date, default: null },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "ratings", versionKey: false },
);
// The reveal sweep's query: hidden ratings whose window has ended, the longest ended first.
RatingSchema.index({ revealed_at: 1, window_ends_at: 1 });

export function ratingModel(connection: Connection): Model<RatingDoc> {
  return (
    (connection.models.Rating as Model<RatingDoc> | undefined) ??
    connection.model<RatingDoc>("Rating", RatingSchema)
  );
}
