/**
 * Every default the environment may override (lib/config.ts reads the variables), stated once,
 * each with its reason. Amounts are ISO 4217 minor units of the currency, as Stripe takes them.
 */

/** The pets Kilat carries; anything else books as `other`. */
export const PET_TYPES = ["dog", "cat", "bird", "rabbit", "other"] as const;
export type PetType = (typeof PET_TYPES)[number];

/**
 * Jakarta-ish prices. IDR has two decimals at Stripe, so Rp 15,000 is 1,500,000. A dog needs the
 * most care (and a bigger carrier), a bird or a rabbit the least.
 */
export const PRICING = {
  currency: "IDR",
  baseFareCents: 1_500_000,
  perKmCents: 400_000,
  surchargeCents: {
    dog: 1_000_000,
    cat: 500_000,
    bird: 500_000,
    rabbit: 500_000,
    other: 750_000,
  } satisfies Record<PetType, number>,
};

/** The platform keeps 20 % of the captured amount (basis points); the runner gets the rest. */
export const PLATFORM_FEE_BPS = 2000;

/**
 * The probe port of a process that does not host the gateway (PROBE_PORT): OpenTelemetry's
 * Prometheus exporter port, where scrapers and probes look first.
 */
export const PROBE_PORT = 9464;

/** A delivered booking left unconfirmed is confirmed after a day, well inside Stripe's 7-day hold. */
export const AUTO_CONFIRM_AFTER = "24h";

/** A booking not paid for within half an hour expires: no runner is kept in view of it. */
export const PAYMENT_TIMEOUT = "30m";

/**
 * A paid booking no runner accepts within this is cancelled and its hold released: an owner
 * left waiting longer than a long city crossing arranges the trip another way.
 */
export const ACCEPT_TIMEOUT = "45m";

export const DISPATCH = {
  /** A motorbike covers 6 km to a pickup in about a quarter of an hour in city traffic. */
  radiusKm: 6,
  /** Long enough to read an offer and tap, short enough that an owner is not kept waiting. */
  offerTimeout: "30s",
  /** A phone reports every few seconds while online: a minute of silence means it is gone. */
  runnerStaleAfter: "60s",
};

/**
 * Where bookings are taken (SERVICE_AREA, MAX_TRIP_KM), in the form SERVICE_AREA takes: a list
 * of circles `{name, lat, lng, radius_km}` or polygons `{name, polygon: [[lat, lng], …]}`.
 */
export const SERVICE_AREA = {
  /** Greater Jakarta: 60 km around the centre reaches Bogor, Depok, Tangerang and Bekasi. */
  areas: [{ name: "jakarta", lat: -6.2, lng: 106.8, radius_km: 60 }],
  /** A motorbike crosses greater Jakarta in about 50 km; a longer trip is a typo or another city. */
  maxTripKm: 50,
};

export const TRACKING = {
  /** A motorbike on a toll road stays well under 150 km/h; more is a GPS glitch. */
  maxSpeedKmh: 150,
  /** A phone's GPS reports about once a second; five a second leaves room for bursts. */
  locationRatePerSec: 5,
  /**
   * Fixes a runner may send per second as they arrive: a phone sends one a second live, and
   * uploads what it kept offline in batches (up to 500, which may come at once after a quiet
   * spell). More is a flood, whatever times the fixes claim.
   */
  locationArrivalsPerSec: 100,
  /**
   * A fix naming no booking the runner is on may be this old: a phone keeps what it recorded
   * through a tunnel or a dead zone, not last year's fixes.
   */
  fixMaxAge: "1h",
};

export const HTTP = {
  /** 20 requests a second per token is far above what an app sends. */
  ratePerTokenPerMinute: 1200,
  /** Ten times that per address: many users can share one NAT. */
  ratePerIpPerMinute: 12000,
  /**
   * REST requests one gateway answers at once before it sheds (503); new bookings stop at half
   * (lib/load-shedding.ts). By Little's law an admitted request waits about this many over the
   * throughput. Measured (`npm run bench -- knee --mode embedded --rates 20 --seconds 30`, twice
   * the load the embedded process sustains on two cores): 32 and 64 both completed 11.2
   * lifecycles/s, with the 2xx p99 at 530 and 605 ms; with no limit the p99 reached 4.5 s and 155
   * lifecycles timed out.
   */
  maxInFlight: 32,
};

/** A token lives at most a day: a leaked one is useless by tomorrow, and apps refresh daily. */
export const JWT_MAX_TTL = "24h";

export const SOCKETS = {
  /** A user's phone, tablet and a few browser tabs, on one gateway. */
  maxPerUser: 10,
  /** Booking rooms one socket may watch: an operator's screen of trips, not the whole city. */
  maxRooms: 50,
  /** A runner app sends a fix a second; twenty events a second (bursts of forty) is far above. */
  eventsPerSec: 20,
};

/** A relay retries what its fast path failed to publish this often (each sweep costs a query). */
export const OUTBOX_SWEEP_MS = 3000;

/**
 * Log lines per NODE_ENV when LOG_FORMAT is unset: JSON for a log collector in production, text
 * for a person reading `npm start`'s terminal.
 */
export const LOG_FORMAT = {
  production: "json",
  development: "pretty",
  test: "pretty",
} as const satisfies Record<string, "json" | "pretty">;

/** Sizes of the crate or carrier a pet travels in, smallest first; a runner carries up to one. */
export const CRATE_SIZES = ["small", "medium", "large", "xlarge"] as const;
export type CrateSize = (typeof CRATE_SIZES)[number];

/** How a runner travels; the offer shows it to nobody but decides nothing on its own. */
export const VEHICLE_KINDS = ["motorbike", "car", "van", "bicycle", "on_foot"] as const;
export type VehicleKind = (typeof VEHICLE_KINDS)[number];

export const PETS = {
  /** Three pets is a family's dogs; more is a kennel move, which is another business. */
  maxPerBooking: 3,
  /** Kg: the heaviest dog breeds stay under 100 kg; more is a typo. */
  maxWeightKg: 100,
  /**
   * Vaccinations a pet must have, valid at the pickup, per species (PET_REQUIRED_VACCINATIONS).
   * Indonesia requires rabies vaccination of dogs and cats that travel (rabies is endemic).
   */
  requiredVaccinations: {
    dog: ["rabies"],
    cat: ["rabies"],
    bird: [],
    rabbit: [],
    other: [],
  } satisfies Record<PetType, string[]>,
  /** Each pet beyond the first adds this (PRICE_EXTRA_PET_CENTS): Rp 5,000. */
  extraPetCents: 500_000,
  /**
   * Added per pet heavier than the band's kg (PRICE_WEIGHT_SURCHARGES, `kg=cents,…`): a dog over
   * 10 kg needs a bigger crate and a car, over 25 kg two hands.
   */
  weightSurcharges: [
    { overKg: 10, cents: 500_000 },
    { overKg: 25, cents: 1_000_000 },
  ],
  /** Species that need an air-conditioned vehicle (AC_REQUIRED_SPECIES): none by default. */
  acRequiredSpecies: [] as PetType[],
};

export const HANDOVER = {
  /** Digits of the recipient's PIN (4–6, HANDOVER_PIN_DIGITS): a one-time code people know. */
  pinDigits: 6,
  /** Wrong PINs before the handover is locked and operations are alerted (HANDOVER_PIN_TRIES). */
  pinTries: 5,
};

/**
 * What an owner may report about a delivery instead of confirming it (DISPUTE_REASONS): the
 * reasons operators sort disputes by; "other" for the rest, told in the report's text.
 */
export const DISPUTE_REASONS = ["injured", "wrong_pet", "late", "not_delivered", "other"];

/** When nobody meets the runner at the pickup or the drop-off. */
export const NO_SHOW = {
  /** A runner "at" a place is within this many metres of it (ARRIVAL_RADIUS_M): a block. */
  arrivalRadiusM: 150,
  /** How long the runner waits after reporting its arrival before it may declare a no-show (NO_SHOW_WAIT). */
  wait: "10m",
  /**
   * Captured for the runner from the hold at a no-show, never more than the hold
   * (NO_SHOW_FEE_CENTS): the base fare, what a trip to the door is worth.
   */
  feeCents: 1_500_000,
  /** At the drop-off: `return` the pet to the pickup, or `ops` to hold the booking for an admin (NO_SHOW_DROPOFF). */
  dropoff: "return" as "return" | "ops",
  /**
   * What a pet handed back after a drop-off no-show costs its owner (NO_SHOW_RETURN_CHARGE): the
   * `fee` (NO_SHOW_FEE_CENTS, the rest refunded), or the trip's `price` (the whole hold: the
   * runner drove there and back).
   */
  returnCharge: "fee" as "fee" | "price",
};

export const PHOTOS = {
  /** The largest upload taken (PHOTO_MAX_BYTES): a phone's 12 MP JPEG is 3–5 MB. */
  maxBytes: 5 * 1024 * 1024,
  /** Photos are stored at most this long on their longer edge: a proof, not a print. */
  maxEdgePx: 2048,
  /** Decoding more pixels than this is refused: a small file can claim a gigapixel (a bomb). */
  maxInputPixels: 50_000_000,
};

export const WELFARE = {
  /** A pet aboard a runner who has not moved for this long raises an alert (WELFARE_STOP_MINUTES). */
  stopMinutes: 10,
  /** "Not moved": within this many metres (WELFARE_STOP_RADIUS_M); phone GPS wanders 10–30 m. */
  stopRadiusM: 75,
  /** No fix at all for this long while a pet is aboard raises the alert too (WELFARE_SILENT_MINUTES). */
  silentMinutes: 5,
};

/** A share link lives until the trip completes, and at most this long (SHARE_LINK_MAX_TTL). */
export const SHARE_LINK_MAX_TTL = "48h";

/**
 * Owner and runner rate each other within this long of the booking's completion (RATING_WINDOW):
 * a week, while the trip is remembered; then every rating given is shown, the other rated or not.
 */
export const RATING_WINDOW = "7d";

export const DISPATCH_RATING = {
  /** Among runners about as near, the better rated is offered first (DISPATCH_PREFER_RATED). */
  preferRated: true,
  /** "About as near": within this many metres of the nearest (DISPATCH_RATING_TIE_M). */
  tieM: 250,
};

/**
 * Bookings made ahead (`pickup_at`) and the card holds they need. Stripe holds an authorisation
 * 7 days for most cards; Sharetribe holds within 6 days of the booking and charges off-session a
 * day before later ones.
 */
export const SCHEDULE = {
  /** A booking may name a pickup up to this many days ahead (BOOKING_MAX_LEAD_DAYS). */
  maxLeadDays: 30,
  /** A pickup this close ahead is held at once; later ones save the card (AUTH_WINDOW_HOURS). */
  authWindowHours: 144,
  /** A saved card is held this long before the pickup (HOLD_LEAD_HOURS). */
  holdLeadHours: 24,
  /** After a failed off-session hold the owner has this long to pay, at most until the pickup (HOLD_RETRY_HOURS). */
  holdRetryHours: 12,
  /** How long an authorisation lasts at the provider (AUTH_HOLD_DAYS). */
  authHoldDays: 7,
  /** A hold expiring within this is renewed (RENEW_MARGIN_HOURS). */
  renewMarginHours: 24,
  /** Dispatch of a scheduled booking starts this long before its pickup (DISPATCH_LEAD_MINUTES). */
  dispatchLeadMinutes: 30,
  /** A held scheduled booking no runner accepted is cancelled this long after its pickup (ACCEPT_GRACE_MINUTES). */
  acceptGraceMinutes: 30,
};

/**
 * The payment service looks for saved cards to hold and holds to renew this often
 * (SCHEDULE_SWEEP_MS): a minute late at most, against a hold placed a day before the pickup and
 * renewed a day before it lapses.
 */
export const SCHEDULE_SWEEP_MS = 60_000;
