import type { EventType } from "../events/catalog";
import type { DomainEvent } from "../events/envelope";
import { partiesOf, userKey, type Role } from "./access";

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

/** Made once: `toLocaleString` with options builds a formatter per call (about 1 ms each). */
const MAJOR_UNITS = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

/** Minor units, shown in major units: IDR 563,580.00 */
const money = (cents: number, currency: string) => `${currency} ${MAJOR_UNITS.format(cents / 100)}`;

type Data<T extends EventType> = DomainEvent<T>["data"];

/**
 * A template: who hears about the event (parties the event itself names), and what each reads,
 * from the event alone.
 */
type Template<T extends EventType> = (
  data: Data<T>,
) => { to: Partial<Record<RecipientRole, string | undefined>>; title: string; body: string }[];

/** A time as the events carry it, to the minute and in UTC: the same for every reader. */
const when = (iso: string) => `${iso.slice(0, 16).replace("T", " ")} UTC`;

/** The pet by name where the event names it (a trip whose request was never seen does not). */
const pet = (name?: string) => name ?? "your pet";

/** One template per event type the service consumes (tracking.updated is never one). */
export const TEMPLATES: { [T in EventType]?: Template<T> } = {
  "booking.requested": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number} received`,
      body: `We are finding a runner for ${d.pet_name}. Estimated price ${money(d.estimated_price_cents, d.currency)}.`,
    },
  ],
  "booking.accepted": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: a runner is on the way`,
      body: `A runner accepted your booking and is heading to pick up ${d.pet_name}.`,
    },
  ],
  "booking.pet_picked_up": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: picked up`,
      body: `${cap(d.pet_name)} is with the runner.`,
    },
  ],
  "booking.delivery_in_progress": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: on the way`,
      body: `${cap(d.pet_name)} is on the way to the drop-off. Follow the trip live.`,
    },
  ],
  "booking.delivered": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: delivered`,
      body: `${cap(d.pet_name)} has arrived. Please confirm the delivery.`,
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
  "booking.cancelled": (d) => [
    {
      to: { owner: d.owner_id, runner: d.runner_id },
      title: `Booking ${d.booking_number} cancelled`,
      body: `Reason: ${d.reason}.`,
    },
  ],
  "booking.disputed": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: problem reported`,
      body: "We received your report. The payment stays on hold while our operations team looks into it.",
    },
    {
      to: { runner: d.runner_id },
      title: `Booking ${d.booking_number}: the owner reported a problem`,
      body: `The owner reported a problem with the delivery of ${d.pet_name}. Your payout is on hold while operations look into it.`,
    },
  ],
  "booking.dispute_resolved": (d) => {
    const outcome = {
      release: {
        owner: "We looked into it: the payment is released to the runner.",
        runner: "We looked into it: your payout is released.",
      },
      partial_refund: {
        owner: `We looked into it: ${money(d.refund_cents, d.currency)} is returned to you, the rest is paid to the runner.`,
        runner: `We looked into it: ${money(d.refund_cents, d.currency)} is returned to the owner, and you are paid for the rest.`,
      },
      full_refund: {
        owner: "We looked into it: the whole payment is returned to you.",
        runner:
          "We looked into it: the owner is refunded in full, so there is no payout for this booking.",
      },
    }[d.outcome];
    const note = d.note ? ` Note from operations: ${d.note}` : "";
    return [
      {
        to: { owner: d.owner_id },
        title: `Booking ${d.booking_number}: problem resolved`,
        body: outcome.owner + note,
      },
      {
        to: { runner: d.runner_id },
        title: `Booking ${d.booking_number}: problem resolved`,
        body: outcome.runner + note,
      },
    ];
  },
  // The owner hears of the money from payment.escrow_refunded.
  "booking.refunded": (d) => [
    {
      to: { runner: d.runner_id },
      title: `Booking ${d.booking_number} closed`,
      body: `The booking is closed: ${money(d.refunded_cents, d.currency)} went back to the owner.`,
    },
  ],
  "booking.expired": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number} expired`,
      body: `It was not paid for in time, so no runner was sent for ${d.pet_name}. Nothing is charged; book again when you are ready.`,
    },
  ],
  "booking.rated": (d) => [
    {
      to: { [d.ratee_role]: d.ratee_id },
      title: `Booking ${d.booking_number}: you were rated ${d.stars}★`,
      body: `The ${d.rater_role} rated you ${d.stars} out of 5 stars. See the rating in the app.`,
    },
  ],
  "booking.runner_arrived": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: your runner is at the ${d.where === "pickup" ? "pickup" : "drop-off"}`,
      body:
        d.where === "pickup"
          ? `Your runner is at the pickup, ready to collect ${d.pet_name}. Please meet them there.`
          : `Your runner is at the drop-off with ${d.pet_name}. Please meet them there with the PIN.`,
    },
  ],
  "booking.no_show": (d) => {
    const fee = money(d.fee_cents, d.currency);
    const owner = {
      cancelled: `Nobody met the runner at the pickup, so the booking is cancelled. A no-show fee of ${fee} is charged; the rest of the payment is returned to you.`,
      returning: `Nobody met the runner at the drop-off, so ${d.pet_name} is being brought back to the pickup. Follow the trip live.`,
      ops: `Nobody met the runner at the drop-off. Our operations team is contacting you about ${d.pet_name}.`,
    }[d.outcome];
    const runner = {
      cancelled: `The booking is cancelled: you are paid the no-show fee of ${fee}.`,
      returning: `Take ${d.pet_name} back to the pickup and hand them over with a photo.`,
      ops: `Operations will contact you about ${d.pet_name}. Keep the pet safe meanwhile.`,
    }[d.outcome];
    const where = d.where === "pickup" ? "pickup" : "drop-off";
    return [
      {
        to: { owner: d.owner_id },
        title: `Booking ${d.booking_number}: nobody at the ${where}`,
        body: owner,
      },
      {
        to: { runner: d.runner_id },
        title: `Booking ${d.booking_number}: no-show recorded`,
        body: runner,
      },
    ];
  },
  "booking.returned": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: ${d.pet_name} is back at the pickup`,
      body: `${cap(d.pet_name)} was handed back at the pickup. ${money(d.charge_cents, d.currency)} is charged for the trip and its return.`,
    },
  ],
  "payment.escrow_held": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: payment held`,
      body: `${money(d.amount_cents, d.currency)} is held in escrow until you confirm the delivery.`,
    },
  ],
  "payment.escrow_released": (d) => [
    {
      to: { runner: d.runner_id },
      title: `Booking ${d.booking_number}: payout released`,
      body: `${money(d.runner_payout_cents, d.currency)} is on its way to you.`,
    },
  ],
  "payment.escrow_refunded": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: refunded`,
      body: `${money(d.amount_cents, d.currency)} is returned to you (${d.refund_reason}).`,
    },
  ],
  "payment.failed": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: payment problem`,
      body: d.pay_by
        ? `Your saved card could not be charged for the scheduled trip (${d.reason}). Pay by ${when(d.pay_by)} or the booking is cancelled.`
        : `The payment could not be completed: ${d.reason}.`,
    },
  ],
  "payment.card_saved": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: card saved`,
      body: `${money(d.amount_cents, d.currency)} will be held on your card at ${when(d.hold_at)}, before the pickup at ${when(d.pickup_at)}.`,
    },
  ],
  "payment.hold_renewal_failed": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: payment hold ending`,
      body: `The hold on your card could not be renewed (${d.reason}); it ends at ${when(d.hold_expires_at)}. Our operations team will contact you.`,
    },
  ],
  "payment.partially_refunded": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: partly refunded`,
      body: `${money(d.refunded_cents, d.currency)} of the ${money(d.amount_cents, d.currency)} held is returned to you; ${money(d.captured_cents, d.currency)} is charged.`,
    },
  ],
  "tracking.started": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: live tracking on`,
      body: `Watch ${pet(d.pet_name)}'s trip live in the app.`,
    },
  ],
  "tracking.completed": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: trip finished`,
      body: `${cap(pet(d.pet_name))} travelled ${d.total_distance_km.toFixed(1)} km.`,
    },
  ],
  "booking.handover_locked": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: handover on hold`,
      body: `The runner entered a wrong PIN ${d.tries} times, so the handover is locked. Our operations team is looking into it and will contact you.`,
    },
    {
      to: { runner: d.runner_id },
      title: `Booking ${d.booking_number}: handover on hold`,
      body: "Too many wrong PINs. Keep the pet with you: operations will contact you.",
    },
  ],
  "tracking.stopped": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: welfare check`,
      body:
        d.reason === "stationary"
          ? `The runner with ${pet(d.pet_name)} has not moved for a while. Our operations team is checking on them.`
          : `We have not heard from the runner with ${pet(d.pet_name)} for a while. Our operations team is checking on them.`,
    },
  ],
  "tracking.resumed": (d) => [
    {
      to: { owner: d.owner_id },
      title: `Booking ${d.booking_number}: on the move again`,
      body: `The runner with ${pet(d.pet_name)} is moving again.`,
    },
  ],
  "runner.verification_decided": (d) => [
    {
      to: { runner: d.runner_id },
      title: d.decision === "verified" ? "You are verified" : "Verification not accepted",
      body:
        d.decision === "verified"
          ? "Your documents were accepted: go online to get offers."
          : `Your documents were not accepted${d.note ? `: ${d.note}` : ""}. Send them again from the app.`,
    },
  ],
  "runner.assigned": (d) => [
    {
      to: { runner: d.runner_id },
      title: `New job: booking ${d.booking_number}`,
      body: "A booking near you is waiting. Accept it before the offer expires.",
    },
  ],
};

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Everyone an event is about, as user keys: the owner and the runner it names (a cancellation
 * names its runner only once one accepted; a runner's own events name the runner alone).
 */
export function partiesOfEvent(event: DomainEvent): string[] {
  const { data } = event;
  return partiesOf({
    owner_id: "owner_id" in data ? (data.owner_id ?? null) : null,
    runner_id: "runner_id" in data ? (data.runner_id ?? null) : null,
  });
}

/** The template of the event's type, if it has one, applied to its data. */
function messagesOf<T extends EventType>(event: DomainEvent<T>) {
  const template: Template<T> | undefined = TEMPLATES[event.type];
  return template ? template(event.data) : [];
}

/**
 * Who hears about an event, and what they read: one message per distinct recipient (a user
 * named by two messages hears once). The recipients are the parties the event names, and the
 * text is built from the event alone. Events without a template notify no one.
 */
export function notificationsFor(event: DomainEvent): OutgoingNotification[] {
  const { data } = event;
  const bookingId = "booking_id" in data ? (data.booking_id ?? null) : null;
  const bookingNumber = "booking_number" in data ? data.booking_number : null;
  const seen = new Set<string>();
  const out: OutgoingNotification[] = [];
  for (const message of messagesOf(event)) {
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
