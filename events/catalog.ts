import { z } from "zod";
import { CRATE_SIZES } from "../config/defaults";
import { cents, currency, id, isoTime, latitude, longitude, petType } from "./schemas";

/**
 * The event catalog, in code once. Everything else — the schemas consumers validate with,
 * topic creation, `npm run catalog`, docs/asyncapi.yaml and docs/events.md — reads it from here.
 * Where it departs from the seed catalog, an event's `changes` or a group's `addition` says so.
 */

export const PARTITIONS = 3;

export const TOPICS = {
  booking: "booking.events",
  payment: "payment.events",
  runner: "runner.events",
  tracking: "tracking.events",
} as const;
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];
export const ALL_TOPICS: Topic[] = Object.values(TOPICS);
export const dlqOf = (topic: string): string => `${topic}.dlq`;

/** A service as the catalog names it: the producer of an event, the owner of a consumer group. */
export type CatalogService =
  | "service-booking"
  | "service-payment"
  | "service-runner"
  | "service-tracking"
  | "service-notification";

const bookingRef = { booking_id: id, booking_number: id };
/** What carrying a booking's pets takes (dispatch offers it only to runners who can); absent: unknown. */
const petNeeds = {
  pet_count: z.number().int().positive().optional(),
  species: z.array(petType).optional(),
  crate_size: z.enum(CRATE_SIZES).optional(),
  needs_ac: z.boolean().optional(),
};
const petName = z.string().min(1).max(80);
/** A side of a booking that rates the other (booking.rated). */
const bookingParty = z.enum(["owner", "runner"]);
/**
 * The proof of a handover: the photo taken at it, and where the runner's track was then (absent
 * when the track had no fix yet). Optional: events of bookings made before proof was asked lack it.
 */
const proof = {
  photo_id: id.optional(),
  proof_lat: latitude.optional(),
  proof_lng: longitude.optional(),
};

/** A welfare alert (tracking.stopped, and tracking.resumed when it clears): the trip and why. */
const welfareAlert = {
  track_id: id,
  ...bookingRef,
  runner_id: id,
  owner_id: id,
  pet_name: petName.optional(),
  /** stationary: within WELFARE_STOP_RADIUS_M for WELFARE_STOP_MINUTES; silent: no fixes. */
  reason: z.enum(["stationary", "silent"]),
  since: isoTime,
};

/** How an admin resolves a dispute: the escrow to the runner, part of it back, or all of it back. */
export const DISPUTE_OUTCOMES = ["release", "partial_refund", "full_refund"] as const;
export type DisputeOutcome = (typeof DISPUTE_OUTCOMES)[number];

/** Where a runner arrives, and where nobody may come (booking.runner_arrived, booking.no_show). */
const noShowPlace = z.enum(["pickup", "dropoff"]);

const payloads = {
  // booking.events ------------------------------------------------------------------
  "booking.requested": z.object({
    ...bookingRef,
    owner_id: id,
    pet_type: petType,
    pet_name: petName,
    pickup_lat: latitude,
    pickup_lng: longitude,
    dropoff_lat: latitude,
    dropoff_lng: longitude,
    estimated_price_cents: cents,
    currency,
    ...petNeeds,
    /** When the pet is to be picked up; absent or null: as soon as a runner accepts. */
    pickup_at: isoTime.nullish(),
    occurred_at: isoTime,
  }),
  "booking.accepted": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    pet_name: petName,
    occurred_at: isoTime,
  }),
  "booking.pet_picked_up": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    pet_name: petName,
    picked_up_at: isoTime,
    ...proof,
    occurred_at: isoTime,
  }),
  "booking.delivery_in_progress": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    pet_name: petName,
    picked_up_at: isoTime,
    occurred_at: isoTime,
  }),
  "booking.delivered": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    pet_name: petName,
    delivered_at: isoTime,
    ...proof,
    /** The recipient's PIN was given and matched. */
    pin_verified: z.boolean().optional(),
    occurred_at: isoTime,
  }),
  "booking.handover_locked": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    /** Wrong PINs given in a row. */
    tries: z.number().int().positive(),
    occurred_at: isoTime,
  }),
  "booking.delivery_confirmed": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    delivered_at: isoTime,
    occurred_at: isoTime,
  }),
  "booking.completed": z.object({
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    final_price_cents: cents,
    currency,
    occurred_at: isoTime,
  }),
  "booking.cancelled": z.object({
    ...bookingRef,
    owner_id: id,
    /** Once a runner accepted. */
    runner_id: id.optional(),
    cancelled_by: id,
    reason: z.string().min(1).max(500),
    occurred_at: isoTime,
  }),
  "booking.disputed": z.object({
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    pet_name: petName,
    /** One of DISPUTE_REASONS (configured, so a string here). */
    reason: z.string().min(1).max(40),
    text: z.string().min(1).max(1000),
    /** The owner's photos of the problem (GET /api/bookings/:id/photos/:photo_id). */
    photo_ids: z.array(id).max(10),
    occurred_at: isoTime,
  }),
  "booking.dispute_resolved": z.object({
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    outcome: z.enum(DISPUTE_OUTCOMES),
    /** What goes back to the owner: 0 (release), the amount (partial), the whole hold (full). */
    refund_cents: cents,
    currency,
    resolved_by: id,
    note: z.string().min(1).max(500).optional(),
    occurred_at: isoTime,
  }),
  "booking.refunded": z.object({
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    refunded_cents: cents,
    currency,
    occurred_at: isoTime,
  }),
  "booking.expired": z.object({
    ...bookingRef,
    owner_id: id,
    pet_name: petName,
    payment_due_at: isoTime,
    occurred_at: isoTime,
  }),
  "booking.rated": z.object({
    ...bookingRef,
    rater_role: bookingParty,
    rater_id: id,
    ratee_role: bookingParty,
    ratee_id: id,
    stars: z.number().int().min(1).max(5),
    occurred_at: isoTime,
  }),
  "booking.runner_arrived": z.object({
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    pet_name: petName,
    /** The pickup, or the drop-off: its tracked position was within ARRIVAL_RADIUS_M of it. */
    where: noShowPlace,
    arrived_at: isoTime,
    occurred_at: isoTime,
  }),
  "booking.no_show": z.object({
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    pet_name: petName,
    where: noShowPlace,
    /** cancelled (at the pickup), returning (the pet goes back to the pickup), ops (an admin decides). */
    outcome: z.enum(["cancelled", "returning", "ops"]),
    /** Captured from the hold for the runner now (the pickup's NO_SHOW_FEE_CENTS; 0 otherwise). */
    fee_cents: cents,
    currency,
    arrived_at: isoTime,
    reason: z.string().min(1).max(500).optional(),
    photo_id: id.optional(),
    occurred_at: isoTime,
  }),
  "booking.returned": z.object({
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    pet_name: petName,
    returned_at: isoTime,
    /** Captured from the hold for the trip and its return (the rest, if any, goes back). */
    charge_cents: cents,
    currency,
    ...proof,
    occurred_at: isoTime,
  }),
  // payment.events ------------------------------------------------------------------
  "payment.escrow_created": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    amount_cents: cents,
    currency,
    occurred_at: isoTime,
  }),
  "payment.escrow_held": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    stripe_payment_id: id,
    amount_cents: cents,
    currency,
    occurred_at: isoTime,
  }),
  "payment.escrow_released": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    runner_payout_cents: cents,
    platform_fee_cents: cents,
    currency,
    occurred_at: isoTime,
  }),
  "payment.escrow_refunded": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    amount_cents: cents,
    currency,
    refund_reason: z.string().min(1).max(500),
    occurred_at: isoTime,
  }),
  "payment.failed": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    reason: z.string().min(1).max(500),
    /** A scheduled booking's off-session hold failed: paid by then, or it is cancelled. */
    pay_by: isoTime.optional(),
    occurred_at: isoTime,
  }),
  "payment.card_saved": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    amount_cents: cents,
    currency,
    pickup_at: isoTime,
    /** When the card is held, off-session (HOLD_LEAD_HOURS before the pickup). */
    hold_at: isoTime,
    occurred_at: isoTime,
  }),
  "payment.hold_renewal_failed": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    reason: z.string().min(1).max(500),
    /** When the hold there is lapses. */
    hold_expires_at: isoTime,
    occurred_at: isoTime,
  }),
  "payment.partially_refunded": z.object({
    payment_id: id,
    ...bookingRef,
    owner_id: id,
    runner_id: id,
    /** The hold, what was captured of it, and what went back to the owner: held = both. */
    amount_cents: cents,
    captured_cents: cents,
    refunded_cents: cents,
    currency,
    refund_reason: z.string().min(1).max(500),
    occurred_at: isoTime,
  }),
  // runner.events -------------------------------------------------------------------
  "runner.online": z.object({
    runner_id: id,
    latitude,
    longitude,
    occurred_at: isoTime,
  }),
  "runner.offline": z.object({ runner_id: id, occurred_at: isoTime }),
  "runner.location_update": z.object({
    runner_id: id,
    booking_id: id.optional(),
    latitude,
    longitude,
    speed_kmh: z.number().min(0).max(1000).optional(),
    heading_degrees: z.number().min(0).lt(360).optional(),
    timestamp: isoTime,
    occurred_at: isoTime,
  }),
  "runner.verification_decided": z.object({
    runner_id: id,
    decision: z.enum(["verified", "rejected"]),
    /** What the admin told the runner (why a rejection, what to send again). */
    note: z.string().max(500).optional(),
    occurred_at: isoTime,
  }),
  "runner.assigned": z.object({
    runner_id: id,
    ...bookingRef,
    /** Absent on offers of dispatches stored before it was kept. */
    owner_id: id.optional(),
    ...petNeeds,
    occurred_at: isoTime,
  }),
  // tracking.events -----------------------------------------------------------------
  "tracking.started": z.object({
    track_id: id,
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    /** Absent when the tracking service never saw the booking's request (it names the pet). */
    pet_name: petName.optional(),
    started_at: isoTime,
    occurred_at: isoTime,
  }),
  "tracking.stopped": z.object({
    ...welfareAlert,
    lat: latitude.optional(),
    lng: longitude.optional(),
    occurred_at: isoTime,
  }),
  "tracking.resumed": z.object({
    ...welfareAlert,
    occurred_at: isoTime,
  }),
  "tracking.updated": z.object({
    track_id: id,
    booking_id: id,
    runner_id: id,
    latitude,
    longitude,
    speed_kmh: z.number().min(0).max(1000),
    occurred_at: isoTime,
  }),
  "tracking.completed": z.object({
    track_id: id,
    ...bookingRef,
    runner_id: id,
    owner_id: id,
    /** Absent when the tracking service never saw the booking's request (it names the pet). */
    pet_name: petName.optional(),
    total_distance_km: z.number().nonnegative(),
    completed_at: isoTime,
    occurred_at: isoTime,
  }),
};

export type EventType = keyof typeof payloads;
export type EventPayload<T extends EventType> = z.infer<(typeof payloads)[T]>;

export interface EventDefinition {
  type: EventType;
  topic: Topic;
  producer: CatalogService;
  /** The payload field whose value becomes the CloudEvent `partitionkey` and the Kafka key. */
  partitionKey: "booking_id" | "runner_id";
  trigger: string;
  schema: z.ZodObject;
  /** Where we depart from the seed, and why. */
  changes?: string;
}

const event = (
  type: EventType,
  topic: Topic,
  producer: CatalogService,
  trigger: string,
  changes?: string,
): EventDefinition => ({
  type,
  topic,
  producer,
  partitionKey: topic === TOPICS.runner ? "runner_id" : "booking_id",
  trigger,
  schema: payloads[type],
  ...(changes ? { changes } : {}),
});

export const EVENTS: readonly EventDefinition[] = [
  event(
    "booking.requested",
    TOPICS.booking,
    "service-booking",
    "Owner creates a new booking",
    "What carrying the pets takes added (pet_count, species, crate_size, needs_ac), so that dispatch offers the booking only to runners who can. pickup_at added (optional): a booking made ahead, whose dispatch starts DISPATCH_LEAD_MINUTES before it.",
  ),
  event(
    "booking.accepted",
    TOPICS.booking,
    "service-booking",
    "Runner accepts the booking",
    "pet_name added, so that messages name the pet without a copy of the booking.",
  ),
  event(
    "booking.pet_picked_up",
    TOPICS.booking,
    "service-booking",
    "Runner picks up the pet (with a photo of it)",
    "pet_name added, so that messages name the pet without a copy of the booking. Proof added: the photo's id and where the track was (optional: bookings from before proof lack it).",
  ),
  event(
    "booking.delivery_in_progress",
    TOPICS.booking,
    "service-booking",
    "Runner departs with the pet (status in_transit)",
    "pet_name added, so that messages name the pet without a copy of the booking.",
  ),
  event(
    "booking.delivered",
    TOPICS.booking,
    "service-booking",
    "Runner marks the pet delivered; the owner is asked to confirm",
    "Addition: the seed has no event between in-transit and the owner's confirmation. pet_name added, so that messages name the pet without a copy of the booking. Proof added: the photo's id, where the track was, and that the recipient's PIN matched.",
  ),
  event(
    "booking.handover_locked",
    TOPICS.booking,
    "service-booking",
    "The runner gave a wrong recipient PIN HANDOVER_PIN_TRIES times: the handover is locked",
    "Addition: operations are alerted to a handover that may be going to the wrong person.",
  ),
  event(
    "booking.delivery_confirmed",
    TOPICS.booking,
    "service-booking",
    "Owner confirms delivery (or the auto-confirm delay passes)",
  ),
  event(
    "booking.completed",
    TOPICS.booking,
    "service-booking",
    "Booking fully completed (after escrow released)",
  ),
  event(
    "booking.cancelled",
    TOPICS.booking,
    "service-booking",
    "Booking is cancelled by owner or runner",
    "owner_id and (once one accepted) runner_id added, so that whoever reacts knows the parties.",
  ),
  event(
    "booking.disputed",
    TOPICS.booking,
    "service-booking",
    "The owner of a delivered booking reports a problem instead of confirming (before the auto-confirm)",
    "Addition: the auto-confirm stops, the escrow stays held, and operations are alerted.",
  ),
  event(
    "booking.dispute_resolved",
    TOPICS.booking,
    "service-booking",
    "An admin resolves a dispute: release to the runner, a partial refund, or a full refund",
    "Addition: the payment service captures (all, or the hold less the refund) or releases the hold.",
  ),
  event(
    "booking.refunded",
    TOPICS.booking,
    "service-booking",
    "A dispute resolved with a full refund: the hold was released, and the booking ends refunded",
    "Addition: the booking's end when its escrow went back to the owner after delivery.",
  ),
  event(
    "booking.expired",
    TOPICS.booking,
    "service-booking",
    "The escrow is not held by the payment deadline (PAYMENT_TIMEOUT after the request)",
    "Addition: an unpaid booking ends, its owner is told, and any hold that still arrives is released. pet_name added, so that messages name the pet without a copy of the booking.",
  ),
  event(
    "booking.rated",
    TOPICS.booking,
    "service-booking",
    "A party's rating of a completed booking becomes visible: both have rated, or the rating window (RATING_WINDOW) ended",
    "Addition: owner and runner rate each other after a trip, double-blind, and each rating is published once shown; the runner's average counts the owners' ratings, and the rated party hears its stars.",
  ),
  event(
    "booking.runner_arrived",
    TOPICS.booking,
    "service-booking",
    "The runner reports its arrival at the pickup or the drop-off, its tracked position within ARRIVAL_RADIUS_M",
    "Addition: the owner hears the runner is there, and the NO_SHOW_WAIT before a no-show starts.",
  ),
  event(
    "booking.no_show",
    TOPICS.booking,
    "service-booking",
    "NO_SHOW_WAIT after its arrival, the runner declares that nobody came: at the pickup the booking is cancelled with a fee; at the drop-off the pet goes back (returning) or operations decide (disputed)",
    "Addition: the payment service captures the pickup's fee and refunds the rest; dispatch frees the runner of a booking that ended; tracking ends the trip, or keeps it for the return leg.",
  ),
  event(
    "booking.returned",
    TOPICS.booking,
    "service-booking",
    "After a no-show at the drop-off, the runner hands the pet back at the pickup (a photo, its position checked)",
    "Addition: the payment service captures charge_cents (the whole hold: the trip was made and undone); the trip ends and the runner is free.",
  ),
  event(
    "payment.escrow_created",
    TOPICS.payment,
    "service-payment",
    "Payment record created in DB",
    "booking_number added, so that every payment event names the booking as booking events do.",
  ),
  event(
    "payment.escrow_held",
    TOPICS.payment,
    "service-payment",
    "PaymentIntent authorised, funds held",
    "Gap fixed: owner_id added so the owner is notified. booking_number added, so that messages name the booking without a copy of it.",
  ),
  event(
    "payment.escrow_released",
    TOPICS.payment,
    "service-payment",
    "Delivery confirmed, funds captured and released to runner",
    "owner_id added, so that the owner's integrations hear of the payout too. booking_number added, so that messages name the booking without a copy of it.",
  ),
  event(
    "payment.escrow_refunded",
    TOPICS.payment,
    "service-payment",
    "Booking cancelled, funds returned to owner",
    "booking_number added, so that messages name the booking without a copy of it.",
  ),
  event(
    "payment.failed",
    TOPICS.payment,
    "service-payment",
    "Any saga step fails",
    "Gap fixed: owner_id added so the owner is notified. booking_number added, so that messages name the booking without a copy of it. pay_by added (optional): a scheduled booking's off-session hold failed, and unless paid by then it is cancelled.",
  ),
  event(
    "payment.card_saved",
    TOPICS.payment,
    "service-payment",
    "A booking beyond the authorisation window (AUTH_WINDOW_HOURS) is paid for: the card is saved, to be held off-session at hold_at",
    "Addition: a scheduled booking is held HOLD_LEAD_HOURS before its pickup; until then its card is saved (a Stripe SetupIntent).",
  ),
  event(
    "payment.hold_renewal_failed",
    TOPICS.payment,
    "service-payment",
    "A hold that would lapse before its capture (AUTH_HOLD_DAYS) could not be renewed: operations decide",
    "Addition: an authorisation lasts about 7 days; a new hold replaces one about to lapse, and when that fails the owner and operations hear of it.",
  ),
  event(
    "payment.partially_refunded",
    TOPICS.payment,
    "service-payment",
    "A dispute resolved with a partial refund: the rest of the hold captured, the refund left uncaptured",
    "Addition: the owner hears what came back to them; followed by payment.escrow_released for the captured part.",
  ),
  event("runner.online", TOPICS.runner, "service-runner", "Runner goes online"),
  event("runner.offline", TOPICS.runner, "service-runner", "Runner goes offline"),
  event(
    "runner.location_update",
    TOPICS.runner,
    "service-runner",
    "Runner sends GPS update",
    "speed_kmh and heading_degrees are optional: not every device reports them.",
  ),
  event(
    "runner.verification_decided",
    TOPICS.runner,
    "service-runner",
    "An admin verifies (or rejects) a runner's documents",
    "Addition: only verified runners get offers, and the runner hears the decision.",
  ),
  event(
    "runner.assigned",
    TOPICS.runner,
    "service-runner",
    "Dispatch offers a booking to the nearest available runner",
    "Gap fixed: produced by dispatch (the seed had no producer). booking_number added, so that messages name the booking without a copy of it; owner_id added, so that the owner's integrations hear of the offer. What carrying the pets takes added (optional), so that the runner's app shows it with the offer.",
  ),
  event(
    "tracking.started",
    TOPICS.tracking,
    "service-tracking",
    "TripTrack created (when booking accepted)",
    "Gap fixed: owner_id added so the owner is notified. booking_number and pet_name added, so that messages name the booking and the pet without a copy of them (pet_name is absent when the tracking service never saw the booking's request).",
  ),
  event(
    "tracking.stopped",
    TOPICS.tracking,
    "service-tracking",
    "A pet is aboard and the runner has not moved for WELFARE_STOP_MINUTES, or sent no fix for WELFARE_SILENT_MINUTES",
    "Addition: a welfare alert (a car in the sun passes 40 °C within ten minutes).",
  ),
  event(
    "tracking.resumed",
    TOPICS.tracking,
    "service-tracking",
    "The runner of a stopped trip moves on (or is heard from) again, or the pet is delivered",
    "Addition: the welfare alert clears.",
  ),
  event("tracking.updated", TOPICS.tracking, "service-tracking", "New waypoint added"),
  event(
    "tracking.completed",
    TOPICS.tracking,
    "service-tracking",
    "Delivery confirmed (or a dispute resolved), trip completed",
    "Gap fixed: owner_id added so the owner is notified. booking_number and pet_name added, so that messages name the booking and the pet without a copy of them (pet_name is absent when the tracking service never saw the booking's request). Also published when an admin resolves a dispute, whatever the outcome: the trip happened.",
  ),
];

export interface ConsumerGroupDefinition {
  groupId: string;
  service: CatalogService;
  topic: Topic;
  /** The events this group handles; the rest of its topic is skipped (and committed). */
  events: EventType[];
  /** Events (or the whole group) we add to the seed's table, with the reason. */
  addition?: { events: EventType[]; why: string };
}

export const CONSUMER_GROUPS: readonly ConsumerGroupDefinition[] = [
  {
    groupId: "service-booking-payments",
    service: "service-booking",
    topic: TOPICS.payment,
    events: [
      "payment.escrow_released",
      "payment.escrow_held",
      "payment.failed",
      "payment.escrow_refunded",
      "payment.card_saved",
    ],
    addition: {
      events: [
        "payment.escrow_held",
        "payment.failed",
        "payment.escrow_refunded",
        "payment.card_saved",
      ],
      why: "the booking shows its payment status; a runner may accept only once escrow is held",
    },
  },
  {
    groupId: "service-payment-bookings",
    service: "service-payment",
    topic: TOPICS.booking,
    events: [
      "booking.delivery_confirmed",
      "booking.cancelled",
      "booking.expired",
      "booking.dispute_resolved",
      "booking.no_show",
      "booking.returned",
    ],
    addition: {
      events: [
        "booking.expired",
        "booking.dispute_resolved",
        "booking.no_show",
        "booking.returned",
      ],
      why: "no money stays held for a booking that expired unpaid; a resolved dispute is captured, partly refunded or refunded; a no-show's fee and a returned pet's trip are captured, the rest refunded",
    },
  },
  {
    groupId: "service-tracking-bookings",
    service: "service-tracking",
    topic: TOPICS.booking,
    events: [
      "booking.requested",
      "booking.accepted",
      "booking.pet_picked_up",
      "booking.delivered",
      "booking.delivery_confirmed",
      "booking.cancelled",
      "booking.dispute_resolved",
      "booking.no_show",
      "booking.returned",
    ],
    addition: {
      events: [
        "booking.requested",
        "booking.pet_picked_up",
        "booking.delivered",
        "booking.cancelled",
        "booking.dispute_resolved",
        "booking.no_show",
        "booking.returned",
      ],
      why: "the ETA needs the drop-off; the welfare watch runs from pickup to delivery; a delivered or cancelled trip takes no more fixes; a disputed trip completes when the dispute is resolved; a no-show ends the trip or keeps it for the return leg, which ends when the pet is returned",
    },
  },
  {
    groupId: "service-tracking-runners",
    service: "service-tracking",
    topic: TOPICS.runner,
    events: ["runner.location_update", "runner.online", "runner.offline"],
    addition: {
      events: ["runner.online", "runner.offline"],
      why: "gap fixed: the live runner dashboard",
    },
  },
  {
    groupId: "service-notification-bookings",
    service: "service-notification",
    topic: TOPICS.booking,
    events: [
      "booking.requested",
      "booking.accepted",
      "booking.pet_picked_up",
      "booking.delivery_in_progress",
      "booking.delivered",
      "booking.delivery_confirmed",
      "booking.completed",
      "booking.cancelled",
      "booking.expired",
      "booking.handover_locked",
      "booking.disputed",
      "booking.dispute_resolved",
      "booking.refunded",
      "booking.rated",
      "booking.runner_arrived",
      "booking.no_show",
      "booking.returned",
    ],
    addition: {
      events: [
        "booking.delivered",
        "booking.expired",
        "booking.handover_locked",
        "booking.disputed",
        "booking.dispute_resolved",
        "booking.refunded",
        "booking.rated",
        "booking.runner_arrived",
        "booking.no_show",
        "booking.returned",
      ],
      why: "the owner is asked to confirm delivery, told when an unpaid booking expired, and when a handover is locked; both parties hear of a dispute, its resolution and a refund; the rated party hears its stars; the owner hears the runner arrived, that nobody came, and that the pet is back",
    },
  },
  {
    groupId: "service-notification-payments",
    service: "service-notification",
    topic: TOPICS.payment,
    events: [
      "payment.escrow_held",
      "payment.escrow_released",
      "payment.escrow_refunded",
      "payment.failed",
      "payment.partially_refunded",
      "payment.card_saved",
      "payment.hold_renewal_failed",
    ],
    addition: {
      events: ["payment.partially_refunded", "payment.card_saved", "payment.hold_renewal_failed"],
      why: "the owner hears what a partial refund returned, when a saved card is to be held, and when a hold could not be renewed",
    },
  },
  {
    groupId: "service-notification-tracking",
    service: "service-notification",
    topic: TOPICS.tracking,
    events: ["tracking.started", "tracking.completed", "tracking.stopped", "tracking.resumed"],
    addition: {
      events: ["tracking.stopped", "tracking.resumed"],
      why: "the owner hears of a welfare alert and of its end",
    },
  },
  {
    groupId: "service-notification-runners",
    service: "service-notification",
    topic: TOPICS.runner,
    events: ["runner.assigned", "runner.verification_decided"],
    addition: {
      events: ["runner.assigned", "runner.verification_decided"],
      why: "the runner is told about an offer, and whether its documents were accepted",
    },
  },
  {
    groupId: "service-runner-payments",
    service: "service-runner",
    topic: TOPICS.payment,
    events: ["payment.escrow_held"],
    addition: { events: ["payment.escrow_held"], why: "dispatch starts once escrow is held" },
  },
  {
    groupId: "service-runner-bookings",
    service: "service-runner",
    topic: TOPICS.booking,
    events: [
      "booking.requested",
      "booking.accepted",
      "booking.delivered",
      "booking.cancelled",
      "booking.expired",
      "booking.rated",
      "booking.no_show",
      "booking.returned",
    ],
    addition: {
      events: [
        "booking.requested",
        "booking.accepted",
        "booking.delivered",
        "booking.cancelled",
        "booking.expired",
        "booking.rated",
        "booking.no_show",
        "booking.returned",
      ],
      why: "dispatch needs the pickup, marks runners busy and free again, and stops offering a booking that ended; each runner's average rating counts the owners' ratings; a no-show that ends the trip, and a returned pet, free the runner",
    },
  },
];

const byType = new Map(EVENTS.map((definition) => [definition.type, definition]));

export function isEventType(type: string): type is EventType {
  return byType.has(type as EventType);
}

export function eventDefinition(type: EventType): EventDefinition {
  const definition = byType.get(type);
  if (!definition) throw new Error(`Unknown event type ${type}`);
  return definition;
}

export function consumerGroup(groupId: string): ConsumerGroupDefinition {
  const group = CONSUMER_GROUPS.find((candidate) => candidate.groupId === groupId);
  if (!group) throw new Error(`Unknown consumer group ${groupId}`);
  return group;
}

/** The services that consume an event, derived from the consumer groups. */
export function consumersOf(type: EventType): CatalogService[] {
  return CONSUMER_GROUPS.filter((group) => group.events.includes(type)).map((g) => g.service);
}

/** Parses an event payload against its catalog schema; throws a ZodError when it does not match. */
export function parsePayload<T extends EventType>(type: T, data: unknown): EventPayload<T> {
  return payloads[type].parse(data) as EventPayload<T>;
}
