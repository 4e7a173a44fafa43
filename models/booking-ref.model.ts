import { Schema, type Connection, type Model } from "mongoose";

/** What the notification service knows of a booking (`_id` = booking id); see BookingRef. */
export interface BookingRefDoc {
  _id: string;
  owner_id: string | null;
  runner_id: string | null;
  booking_number: string | null;
  pet_name: string | null;
}

const BookingRefSchema = new Schema<BookingRefDoc>(
  {
    _id: { type: String, required: true },
    owner_id: { type: String, default: null },
    runner_id: { type: String, default: null },
    booking_number: { type: String, default: null },
    pet_name: { type: String, default: null },
  },
  { collection: "booking_refs", versionKey: false },
);

export function bookingRefModel(connection: Connection): Model<BookingRefDoc> {
  return (
    (connection.models.BookingRef as Model<BookingRefDoc> | undefined) ??
    connection.model<BookingRefDoc>("BookingRef", BookingRefSchema)
  );
}
