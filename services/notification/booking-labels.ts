import type { BookingLabels } from "../../domain/notifications";
import type { DomainEvent } from "../../events/envelope";
import type { BookingLabelDoc } from "../../models/booking-label.model";
import type { NotificationThis } from "./context";

const UNKNOWN: BookingLabels = { booking_number: null, pet_name: null };

/**
 * How the event's messages name its booking and pet. The request names both and stores them;
 * the booking's later events, and its payment, trip and offer events, which name neither, read
 * them back. Stored labels never change, so they are kept in memory once read; labels not
 * stored yet (a payment event ahead of its booking's request on another topic) are read again
 * next time, and the text names the booking by id meanwhile.
 */
export async function labelsOf(
  service: NotificationThis,
  event: DomainEvent,
): Promise<BookingLabels> {
  if (event.type === "booking.requested") {
    const { booking_id, booking_number, pet_name } = event.data;
    const labels = { booking_number, pet_name };
    await service.models.labels.updateOne({ _id: booking_id }, { $set: labels }, { upsert: true });
    service.labelCache.set(booking_id, labels);
    return labels;
  }
  const bookingId = "booking_id" in event.data ? event.data.booking_id : undefined;
  if (!bookingId) return UNKNOWN;
  const cached = service.labelCache.get(bookingId);
  if (cached) return cached;
  const stored = await service.models.labels.findById(bookingId).lean<BookingLabelDoc>();
  if (!stored) return UNKNOWN;
  const labels = { booking_number: stored.booking_number, pet_name: stored.pet_name };
  service.labelCache.set(bookingId, labels);
  return labels;
}
