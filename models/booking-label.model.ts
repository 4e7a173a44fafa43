import { Schema, type Connection, type Model } from "mongoose";
import type { BookingLabels } from "../domain/notifications";

/**
 * How the notification service names a booking and its pet in messages whose event does not
 * (`_id` = booking id), from its `booking.requested`; see BookingLabels.
 */
export interface BookingLabelDoc extends BookingLabels {
  _id: string;
}

const BookingLabelSchema = new Schema<BookingLabelDoc>(
  {
    _id: { type: String, required: true },
    booking_number: { type: String, default: null },
    pet_name: { type: String, default: null },
  },
  { collection: "booking_labels", versionKey: false },
);

export function bookingLabelModel(connection: Connection): Model<BookingLabelDoc> {
  return (
    (connection.models.BookingLabel as Model<BookingLabelDoc> | undefined) ??
    connection.model<BookingLabelDoc>("BookingLabel", BookingLabelSchema)
  );
}
