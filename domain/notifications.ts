import type { DomainEvent } from "../events/envelope";

export interface OutgoingNotification {
  recipient_id: string;
  title: string;
  body: string;
  booking_id: string | null;
  booking_number: string | null;
}

/** Minor units, shown in major units: IDR 563,580.00 */
const money = (cents: number, currency: string) =>
  `${currency} ${(cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/**
 * Who hears about an event, and what they read. Only the event types the notification service
 * subscribes to so far have a template; the rest of the catalog follows with the services
 * that produce them.
 */
export function notificationsFor(event: DomainEvent): OutgoingNotification[] {
  switch (event.type) {
    case "booking.requested": {
      const data = event.data as DomainEvent<"booking.requested">["data"];
      return [
        {
          recipient_id: data.owner_id,
          title: `Booking ${data.booking_number} received`,
          body:
            `We are finding a runner for ${data.pet_name}. ` +
            `Estimated price ${money(data.estimated_price_cents, data.currency)}.`,
          booking_id: data.booking_id,
          booking_number: data.booking_number,
        },
      ];
    }
    default:
      return [];
  }
}
