import type { EventType } from "../events/catalog";
import type { DomainEvent } from "../events/envelope";
import { userKey, type Role } from "./access";

/** Whom a message is for: a booking's owner or its runner. */
export type RecipientRole = Extract<Role, "owner" | "runner">;
const RECIPIENT_ROLES: readonly RecipientRole[] = ["owner", "runner"];

export interface OutgoingNotification {
  /** The recipient is the pair (role, sub): an owner and a runner may share a sub. */
  recipient_id: string;
  recipient_role: RecipientRole;
  title: string;
  body: string;
  booking_id: string | null;
  booking_number: string | null;
}

/**
 * What the notification service remembers of a booking (from `booking.requested` and
 * `booking.accepted`): several events name only one party, or no booking number.
 */
export interface BookingRef {
  owner_id: string | null;
  runner_id: string | null;
  booking_number: string | null;
  pet_name: string | null;
}

/** Made once: `toLocaleString` with options builds a formatter per call (about 1 ms each). */
const MAJOR_UNITS = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

/** Minor units, shown in major units: IDR 563,580.00 */
const money = (cents: number, currency: string) => `${currency} ${MAJOR_UNITS.format(cents / 100)}`;

type Data<T extends EventType> = DomainEvent<T>["data"];

/** A template: who hears about the event, and what each reads. */
type Template<T extends EventType> = (
  data: Data<T>,
  ref: BookingRef,
) => { to: Partial<Record<RecipientRole, string | null>>; title: string; body: string }[];

const label = (ref: BookingRef, bookingId: string) => ref.booking_number ?? bookingId;
const pet = (ref: BookingRef) => ref.pet_name ?? "your pet";

/** One template per event type the service consumes (tracking.updated is never one). */
export const TEMPLATES: { [T in EventType]?: Template<T> } = {
  "booking.requested": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number} received`,
      body: `We are finding a runner for ${d.pet_name}. Estimated price ${money(d.estimated_price_cents, d.currency)}.`,
    },
  ],
  "booking.accepted": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: a runner is on the way`,
      body: `A runner accepted your booking and is heading to pick up ${pet(ref)}.`,
    },
  ],
  "booking.pet_picked_up": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: picked up`,
      body: `${cap(pet(ref))} is with the runner.`,
    },
  ],
  "booking.delivery_in_progress": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: on the way`,
      body: `${cap(pet(ref))} is on the way to the drop-off. Follow the trip live.`,
    },
  ],
  "booking.delivered": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: delivered`,
      body: `${cap(pet(ref))} has arrived. Please confirm the delivery.`,
    },
  ],
  "booking.delivery_confirmed": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: delivery confirmed`,
      body: "Thank you. The payment is being released to your runner.",
    },
    {
      to: { runner: d.runner_id },
      title: `Booking ${d.booking_number}: delivery confirmed`,
      body: "The owner confirmed the delivery. Your payout is on its way.",
    },
  ],
  "booking.completed": (d) => [
    {
      to: { owner: d.owner_id, runner: d.runner_id },
      title: `Booking ${d.booking_number} completed`,
      body: `Final price ${money(d.final_price_cents, d.currency)}.`,
    },
  ],
  "booking.cancelled": (d, ref) => [
    {
      to: { owner: ref.owner_id, runner: ref.runner_id },
      title: `Booking ${d.booking_number} cancelled`,
      body: `Reason: ${d.reason}.`,
    },
  ],
  "booking.expired": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number} expired`,
      body: `It was not paid for in time, so no runner was sent for ${pet(ref)}. Nothing is charged; book again when you are ready.`,
    },
  ],
  "payment.escrow_held": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${label(ref, d.booking_id)}: payment held`,
      body: `${money(d.amount_cents, d.currency)} is held in escrow until you confirm the delivery.`,
    },
  ],
  "payment.escrow_released": (d, ref) => [
    {
      to: { runner: d.runner_id },
      title: `Booking ${label(ref, d.booking_id)}: payout released`,
      body: `${money(d.runner_payout_cents, d.currency)} is on its way to you.`,
    },
  ],
  "payment.escrow_refunded": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${label(ref, d.booking_id)}: refunded`,
      body: `${money(d.amount_cents, d.currency)} is returned to you (${d.refund_reason}).`,
    },
  ],
  "payment.failed": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${label(ref, d.booking_id)}: payment problem`,
      body: `The payment could not be completed: ${d.reason}.`,
    },
  ],
  "tracking.started": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${label(ref, d.booking_id)}: live tracking on`,
      body: `Watch ${pet(ref)}'s trip live in the app.`,
    },
  ],
  "tracking.completed": (d, ref) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${label(ref, d.booking_id)}: trip finished`,
      body: `${cap(pet(ref))} travelled ${d.total_distance_km.toFixed(1)} km.`,
    },
  ],
  "runner.assigned": (d, ref) => [
    {
      to: { runner: d.runner_id },
      title: `New job: booking ${label(ref, d.booking_id)}`,
      body: "A booking near you is waiting. Accept it before the offer expires.",
    },
  ],
};

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Who hears about an event, and what they read: one message per distinct recipient (a user
 * named by two messages hears once). Events without a template notify no one.
 */
export function notificationsFor(
  event: DomainEvent,
  ref: BookingRef = { owner_id: null, runner_id: null, booking_number: null, pet_name: null },
): OutgoingNotification[] {
  // One template's parameter type per event; here any event's, as the switch is by type.
  const template = (TEMPLATES as Partial<Record<EventType, Template<EventType>>>)[event.type];
  if (!template) return [];
  const data = event.data as { booking_id?: string; booking_number?: string };
  const bookingId = data.booking_id ?? null;
  const bookingNumber = data.booking_number ?? ref.booking_number;
  const seen = new Set<string>();
  const out: OutgoingNotification[] = [];
  for (const message of template(event.data, ref)) {
    for (const role of RECIPIENT_ROLES) {
      const sub = message.to[role];
      if (!sub || seen.has(userKey({ role, sub }))) continue;
      seen.add(userKey({ role, sub }));
      out.push({
        recipient_id: sub,
        recipient_role: role,
        title: message.title,
        body: message.body,
        booking_id: bookingId,
        booking_number: bookingNumber,
      });
    }
  }
  return out;
}
