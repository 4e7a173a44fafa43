import { z } from "zod";
import {
  ACCEPT_TIMEOUT,
  AUTO_CONFIRM_AFTER,
  DISPATCH,
  DISPUTE_REASONS,
  NO_SHOW,
  DISPATCH_RATING,
  HANDOVER,
  HTTP,
  JWT_MAX_TTL,
  LOG_FORMAT,
  OUTBOX_SWEEP_MS,
  PET_TYPES,
  PAYMENT_TIMEOUT,
  PETS,
  PHOTOS,
  PLATFORM_FEE_BPS,
  PRICING,
  RATING_WINDOW,
  SCHEDULE,
  SCHEDULE_SWEEP_MS,
  SERVICE_AREA,
  SHARE_LINK_MAX_TTL,
  SOCKETS,
  TRACKING,
  WELFARE,
  type PetType,
} from "../config/defaults";
import type { ServiceArea, ServiceAreaPolicy } from "../domain/service-area";
import { schedulePolicy, type SchedulePolicy } from "../domain/schedule";
import { trustedProxies } from "./client-address";
import { SECRET_RULE, secretWeakness, shownValue } from "./secrets";
import { latitude, longitude } from "../events/schemas";

/** Every service this codebase can host; `SERVICES` picks a subset per process. */
export const SERVICE_NAMES = [
  "api",
  "booking",
  "payment",
  "runner",
  "tracking",
  "notification",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Development-only secrets: production refuses to start with them. */
export const DEFAULT_JWT_SECRET = "kilat-dev-secret-do-not-use-in-production";
export const DEFAULT_WEBHOOK_SECRET = "whsec_kilat_dev_only";

const optionalUrl = (protocols: string[], example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { message: `expected a ${protocols.join(" or ")} URL such as ${example}` },
    )
    .optional();

const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$/;

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  NODE_ID: z.string().trim().min(1).optional(),
  NAMESPACE: z.string().trim().default("kilat"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"], { message: "expected json or pretty" }).optional(),
  PORT: z.coerce
    .number({ message: "expected a TCP port number" })
    .int()
    .min(0, "expected a TCP port number (0-65535)")
    .max(65535, "expected a TCP port number (0-65535)")
    .default(3000),
  /**
   * Where a process without the gateway serves /health, /ready and /metrics (0: a free port,
   * logged). Unset: PROBE_PORT of config/defaults.ts, or a free port when another process has it.
   */
  PROBE_PORT: z.coerce
    .number({ message: "expected a TCP port number" })
    .int()
    .min(0, "expected a TCP port number (0-65535)")
    .max(65535, "expected a TCP port number (0-65535)")
    .optional(),
  SERVICES: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (!value || value === "*" || value === "all") return [...SERVICE_NAMES];
      const names = value.split(",").map((name) => name.trim());
      const unknown = names.filter((name) => !(SERVICE_NAMES as readonly string[]).includes(name));
      if (unknown.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `unknown service ${unknown.join(", ")}; known: ${SERVICE_NAMES.join(", ")}`,
        });
        return z.NEVER;
      }
      return names as ServiceName[];
    }),
  TRANSPORTER: optionalUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  MONGO_URL: optionalUrl(["mongodb:", "mongodb+srv:"], "mongodb://127.0.0.1:27017"),
  /** Where the embedded database keeps its data (without MONGO_URL); default <repo>/.kilat. */
  KILAT_DATA_DIR: z.string().trim().min(1).optional(),
  /** The embedded database's engine; `auto` tries mongod, then FerretDB. */
  KILAT_EMBEDDED_DB: z.enum(["auto", "mongod", "ferretdb"]).default("auto"),
  KAFKA_BROKERS: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (!value) return undefined;
      const brokers = value.split(",").map((broker) => broker.trim());
      if (!brokers.every((broker) => hostPort.test(broker))) {
        ctx.addIssue({ code: "custom", message: "expected host:port[,host:port…]" });
        return z.NEVER;
      }
      return brokers;
    }),
  /** Prefix for topic and consumer-group names: several environments can share one cluster. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]*$/, "expected letters, digits, '.', '_' or '-'")
    .default(""),
  /** Each service's database is `<prefix>-<service>`. */
  MONGO_DB_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]+$/, "expected letters, digits, '_' or '-'")
    .default("kilat"),
  /**
   * Connections of each service's second pool, the one its background work uses (consumers,
   * sweeps, outbox relays), so that a request never waits for a connection behind it.
   */
  MONGO_BACKGROUND_POOL: z.coerce.number().int().min(1).max(100).default(4),
  REDIS_URL: optionalUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .regex(/^(sk|rk)_(test|live)_/, "expected a Stripe secret key (sk_test_… or sk_live_…)")
    .optional(),
  STRIPE_API_BASE: optionalUrl(["http:", "https:"], "http://127.0.0.1:12111"),
  STRIPE_WEBHOOK_SECRET: z.string().trim().min(1).default(DEFAULT_WEBHOOK_SECRET),
  JWT_SECRET: z.string().min(16, "expected at least 16 characters").default(DEFAULT_JWT_SECRET),
  /** The longest token lifetime (exp - iat) accepted; longer ones, and tokens without exp, are 401. */
  JWT_MAX_TTL: z
    .string()
    .trim()
    .regex(/^\d+(s|m|h|d)$/, "expected a duration such as 24h, 30m")
    .default(JWT_MAX_TTL)
    .transform(durationMs)
    .refine((ms) => ms >= 60_000 && ms <= 30 * 86_400_000, "expected between 1m and 30d"),
  /** When set, tokens must carry this `iss` (and `npm run token` writes it). */
  JWT_ISSUER: z.string().trim().min(1).max(200).optional(),
  /** When set, tokens must carry this `aud` (and `npm run token` writes it). */
  JWT_AUDIENCE: z.string().trim().min(1).max(200).optional(),
  /** A bearer token for Prometheus to read /metrics with (admin tokens always may). */
  METRICS_TOKEN: z.string().trim().min(16, "expected at least 16 characters").optional(),
  /** Proxies whose X-Forwarded-For is believed: addresses or CIDR ranges, comma-separated. */
  TRUSTED_PROXIES: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const entries = value ? value.split(",").map((entry) => entry.trim()) : [];
      try {
        trustedProxies(entries);
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: `expected addresses or CIDR ranges such as 10.0.0.0/8,::1 (${(error as Error).message})`,
        });
        return z.NEVER;
      }
      return entries;
    }),
  /** Sockets one user (role and subject) may hold open on one gateway. */
  SOCKET_MAX_PER_USER: z.coerce.number().int().min(1).max(1000).default(SOCKETS.maxPerUser),
  /** Booking rooms one socket may watch at once. */
  SOCKET_MAX_ROOMS: z.coerce.number().int().min(1).max(10_000).default(SOCKETS.maxRooms),
  /** Events per second one socket may send (bursts of twice that); the excess is refused (429). */
  SOCKET_EVENTS_PER_SEC: z.coerce.number().positive().max(100_000).default(SOCKETS.eventsPerSec),
  /** A delivered booking the owner leaves unconfirmed is confirmed after this long. */
  AUTO_CONFIRM_AFTER: z
    .string()
    .trim()
    .regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as 24h, 30m, 5s")
    .default(AUTO_CONFIRM_AFTER)
    .transform(durationMs)
    .refine(
      (ms) => ms <= 6 * 24 * 3600 * 1000,
      "must stay inside Stripe's 7-day authorisation window (≤ 6d)",
    ),
  /** A booking whose escrow is not held this long after it was made expires (its hold released). */
  PAYMENT_TIMEOUT: duration(PAYMENT_TIMEOUT),
  /** A held booking no runner accepts this long after its hold is cancelled and refunded. */
  ACCEPT_TIMEOUT: duration(ACCEPT_TIMEOUT),
  PLATFORM_FEE_BPS: z.coerce.number().int().min(0).max(10000).default(PLATFORM_FEE_BPS),
  CURRENCY: z
    .string()
    .trim()
    .regex(/^[A-Z]{3}$/, "expected an ISO 4217 code such as IDR")
    .default(PRICING.currency),
  /** Minor units of CURRENCY, as Stripe counts them (IDR: hundredths). */
  PRICE_BASE_FARE_CENTS: z.coerce.number().int().nonnegative().default(PRICING.baseFareCents),
  PRICE_PER_KM_CENTS: z.coerce.number().int().nonnegative().default(PRICING.perKmCents),
  /** Per pet type, e.g. `dog=1000000,cat=500000`; types left out keep their default. */
  PRICE_SURCHARGES_CENTS: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const surcharges: Partial<Record<PetType, number>> = {};
      for (const pair of value ? value.split(",") : []) {
        const match = /^\s*(\w+)\s*=\s*(\d+)\s*$/.exec(pair);
        if (!match || !(PET_TYPES as readonly string[]).includes(match[1])) {
          ctx.addIssue({
            code: "custom",
            message: `expected pet=amount pairs such as dog=1000000 (got "${pair}")`,
          });
          return z.NEVER;
        }
        surcharges[match[1] as PetType] = Number(match[2]);
      }
      return surcharges;
    }),
  /** Per species, the vaccinations a pet must hold at the pickup: `dog=rabies;cat=rabies+fvrcp`. */
  PET_REQUIRED_VACCINATIONS: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const required: Record<PetType, string[]> = { ...PETS.requiredVaccinations };
      for (const pair of value ? value.split(";") : []) {
        const match = /^\s*(\w+)\s*=\s*([a-z0-9_+\s-]*)$/.exec(pair);
        if (!match || !(PET_TYPES as readonly string[]).includes(match[1])) {
          ctx.addIssue({
            code: "custom",
            message: `expected species=kind+kind pairs such as dog=rabies;cat=rabies (got "${pair}")`,
          });
          return z.NEVER;
        }
        required[match[1] as PetType] = match[2]
          .split("+")
          .map((kind) => kind.trim())
          .filter((kind) => kind !== "");
      }
      return required;
    }),
  /**
   * May an owner book by pet type and name alone, without pet profiles (and so without the
   * vaccination check)? Off in production; on elsewhere, so a first booking is one request.
   */
  QUICK_BOOKING: z.enum(["true", "false"]).optional(),
  MAX_PETS_PER_BOOKING: z.coerce.number().int().min(1).max(10).default(PETS.maxPerBooking),
  PRICE_EXTRA_PET_CENTS: z.coerce.number().int().nonnegative().default(PETS.extraPetCents),
  /** `kg=cents,…`: each pet heavier than kg adds cents (every band it passes). */
  PRICE_WEIGHT_SURCHARGES: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return PETS.weightSurcharges;
      const bands: { overKg: number; cents: number }[] = [];
      for (const pair of value.split(",").filter((part) => part.trim() !== "")) {
        const match = /^\s*(\d+(?:\.\d+)?)\s*=\s*(\d+)\s*$/.exec(pair);
        if (!match) {
          ctx.addIssue({
            code: "custom",
            message: `expected kg=amount pairs such as 10=500000,25=1000000 (got "${pair}")`,
          });
          return z.NEVER;
        }
        bands.push({ overKg: Number(match[1]), cents: Number(match[2]) });
      }
      return bands.sort((a, b) => a.overKg - b.overKg);
    }),
  /** Species that only travel in an air-conditioned vehicle, comma-separated. */
  AC_REQUIRED_SPECIES: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const species = value ? value.split(",").map((name) => name.trim()) : PETS.acRequiredSpecies;
      const unknown = species.filter((name) => !(PET_TYPES as readonly string[]).includes(name));
      if (unknown.length > 0) {
        ctx.addIssue({ code: "custom", message: `unknown species ${unknown.join(", ")}` });
        return z.NEVER;
      }
      return species as PetType[];
    }),
  HANDOVER_PIN_DIGITS: z.coerce.number().int().min(4).max(6).default(HANDOVER.pinDigits),
  HANDOVER_PIN_TRIES: z.coerce.number().int().min(1).max(20).default(HANDOVER.pinTries),
  /** What an owner may report about a delivery, comma-separated: `injured,wrong_pet,other`. */
  DISPUTE_REASONS: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return DISPUTE_REASONS;
      const reasons = value.split(",").map((reason) => reason.trim());
      const bad = reasons.filter((reason) => !/^[a-z][a-z0-9_]{0,39}$/.test(reason));
      if (bad.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `expected lowercase words such as injured,late,other (not ${bad.map((r) => `"${r}"`).join(", ")})`,
        });
        return z.NEVER;
      }
      return [...new Set(reasons)];
    }),
  /** No-shows: how near a runner must be to arrive, how long it waits, the fee, the drop-off's way. */
  ARRIVAL_RADIUS_M: z.coerce.number().int().min(10).max(5000).default(NO_SHOW.arrivalRadiusM),
  NO_SHOW_WAIT: duration(NO_SHOW.wait),
  NO_SHOW_FEE_CENTS: z.coerce.number().int().min(0).default(NO_SHOW.feeCents),
  NO_SHOW_DROPOFF: z.enum(["return", "ops"]).default(NO_SHOW.dropoff),
  NO_SHOW_RETURN_CHARGE: z.enum(["fee", "price"]).default(NO_SHOW.returnCharge),
  /** Where photos live: MongoDB (the default, GridFS's layout) or an S3-compatible store. */
  PHOTO_STORE: z.enum(["mongo", "s3"]).default("mongo"),
  PHOTO_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(50 * 1024 * 1024)
    .default(PHOTOS.maxBytes),
  S3_ENDPOINT: optionalUrl(["http:", "https:"], "https://s3.eu-central-1.amazonaws.com"),
  S3_REGION: z.string().trim().min(1).default("us-east-1"),
  S3_BUCKET: z.string().trim().min(3).max(63).optional(),
  S3_ACCESS_KEY_ID: z.string().trim().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().trim().min(1).optional(),
  /** A pet aboard a runner who stays put this long raises a welfare alert. */
  WELFARE_STOP_MINUTES: z.coerce.number().positive().max(240).default(WELFARE.stopMinutes),
  WELFARE_STOP_RADIUS_M: z.coerce.number().positive().max(5000).default(WELFARE.stopRadiusM),
  WELFARE_SILENT_MINUTES: z.coerce.number().positive().max(240).default(WELFARE.silentMinutes),
  /** The longest a share link lives (it ends at the trip's completion anyway). */
  SHARE_LINK_MAX_TTL: duration(SHARE_LINK_MAX_TTL),
  /** A runner silent for this long drops out of the dispatch index. */
  RUNNER_STALE_AFTER: duration(DISPATCH.runnerStaleAfter),
  /** Dispatch offers a booking only to runners this close to the pickup. */
  DISPATCH_RADIUS_KM: z.coerce.number().positive().max(100).default(DISPATCH.radiusKm),
  /** An offer not accepted within this moves on to the next nearest runner. */
  OFFER_TIMEOUT: duration(DISPATCH.offerTimeout),
  /** Among runners within DISPATCH_RATING_TIE_M of the nearest, the best rated is offered first. */
  DISPATCH_PREFER_RATED: z
    .enum(["true", "false"], { message: "expected true or false" })
    .default(DISPATCH_RATING.preferRated ? "true" : "false"),
  DISPATCH_RATING_TIE_M: z.coerce.number().min(0).max(5000).default(DISPATCH_RATING.tieM),
  /** Owner and runner rate each other within this long of the booking's completion. */
  RATING_WINDOW: duration(RATING_WINDOW),
  /** Scheduled bookings (domain/schedule.ts): how far ahead, and when their card is held. */
  BOOKING_MAX_LEAD_DAYS: z.coerce.number().int().min(0).max(365).default(SCHEDULE.maxLeadDays),
  AUTH_WINDOW_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 7)
    .default(SCHEDULE.authWindowHours),
  HOLD_LEAD_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 6)
    .default(SCHEDULE.holdLeadHours),
  HOLD_RETRY_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 6)
    .default(SCHEDULE.holdRetryHours),
  AUTH_HOLD_DAYS: z.coerce.number().positive().max(31).default(SCHEDULE.authHoldDays),
  RENEW_MARGIN_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 6)
    .default(SCHEDULE.renewMarginHours),
  DISPATCH_LEAD_MINUTES: z.coerce
    .number()
    .min(0)
    .max(24 * 60)
    .default(SCHEDULE.dispatchLeadMinutes),
  ACCEPT_GRACE_MINUTES: z.coerce
    .number()
    .min(0)
    .max(24 * 60)
    .default(SCHEDULE.acceptGraceMinutes),
  /** How often the payment service looks for saved cards to hold and holds to renew. */
  SCHEDULE_SWEEP_MS: z.coerce.number().int().positive().default(SCHEDULE_SWEEP_MS),
  /** Fixes implying more than this are dropped as impossible. */
  MAX_SPEED_KMH: z.coerce.number().positive().max(1000).default(TRACKING.maxSpeedKmh),
  /** Location updates per runner per second; the excess is dropped and counted. */
  LOCATION_RATE_LIMIT: z.coerce.number().positive().max(1000).default(TRACKING.locationRatePerSec),
  /** Fixes per runner per second as they arrive (a batch counts its size); the excess: 429. */
  LOCATION_ARRIVALS_PER_SEC: z.coerce
    .number()
    .positive()
    .max(100_000)
    .default(TRACKING.locationArrivalsPerSec),
  /** A fix naming no booking the runner is on, recorded longer ago than this, is refused. */
  FIX_MAX_AGE: duration(TRACKING.fixMaxAge),
  /** Where bookings are taken: a JSON list of areas (config/defaults.ts has the form). */
  SERVICE_AREA: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (!value) return SERVICE_AREA.areas.map(toServiceArea);
      const parsed = ServiceAreasSchema.safeParse(parseJson(value));
      if (!parsed.success) {
        const problems = parsed.error.issues.map(
          (issue) => `${issue.path.join(".") || "(value)"}: ${issue.message}`,
        );
        ctx.addIssue({
          code: "custom",
          message: `expected a JSON list of {name, lat, lng, radius_km} circles or {name, polygon: [[lat, lng], …]} polygons (${problems.join("; ")})`,
        });
        return z.NEVER;
      }
      return (Array.isArray(parsed.data) ? parsed.data : [parsed.data]).map(toServiceArea);
    }),
  /** The longest trip (great-circle km from pickup to dropoff) a booking may ask for. */
  MAX_TRIP_KM: z.coerce.number().positive().max(20_000).default(SERVICE_AREA.maxTripKm),
  /** A map tile server for the pages, `https://…/{z}/{x}/{y}.png`; none: the pages draw alone. */
  MAP_TILE_URL: z
    .string()
    .trim()
    .regex(/^https:\/\/[^\s]*\{z\}[^\s]*\{x\}[^\s]*\{y\}/, "expected https://…/{z}/{x}/{y}.png")
    .optional(),
  /** Who the tiles are from, shown in the map's corner as plain text (tile servers require it). */
  MAP_TILE_ATTRIBUTION: z.string().trim().min(1).max(300).optional(),
  /** Browser origins allowed to call the API (comma-separated); none by default. */
  CORS_ORIGINS: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const origins = value ? value.split(",").map((origin) => origin.trim()) : [];
      for (const origin of origins) {
        if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
          ctx.addIssue({
            code: "custom",
            message: `expected origins like https://app.example.com (got "${origin}")`,
          });
          return z.NEVER;
        }
      }
      return origins;
    }),
  /**
   * May webhooks point at loopback or private addresses? Off in production (a webhook must not
   * reach inside the network); on elsewhere, so a local receiver works.
   */
  WEBHOOK_ALLOW_INTERNAL: z.enum(["true", "false"]).optional(),
  /** Requests per minute per bearer token, and per client address (Redis-shared with REDIS_URL). */
  RATE_LIMIT_PER_TOKEN: z.coerce.number().int().positive().default(HTTP.ratePerTokenPerMinute),
  RATE_LIMIT_PER_IP: z.coerce.number().int().positive().default(HTTP.ratePerIpPerMinute),
  /** REST requests one gateway answers at once; beyond, it answers 503 at once (0: no limit). */
  API_MAX_IN_FLIGHT: z.coerce.number().int().min(0).max(100_000).default(HTTP.maxInFlight),
  /**
   * How long relays wait before sweeping outboxes that the fast path did not flush (a crash,
   * a Kafka outage). Each sweep scans its collection, so not too often.
   */
  OUTBOX_SWEEP_MS: z.coerce.number().int().positive().default(OUTBOX_SWEEP_MS),
});

const AreaName = z.string().trim().min(1).max(64);
const CircleArea = z
  .object({
    name: AreaName,
    lat: latitude,
    lng: longitude,
    // Half the Earth's circumference: beyond it a circle covers everything anyway.
    radius_km: z.number().positive().max(20_038),
  })
  .strict();
const PolygonArea = z
  .object({
    name: AreaName,
    polygon: z
      .array(z.tuple([latitude, longitude]))
      .min(3)
      .max(10_000),
  })
  .strict();
const ServiceAreasSchema = z.union([
  z.array(z.union([CircleArea, PolygonArea])).min(1),
  CircleArea,
  PolygonArea,
]);

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function toServiceArea(
  area: z.infer<typeof CircleArea> | z.infer<typeof PolygonArea>,
): ServiceArea {
  return "polygon" in area
    ? {
        shape: "polygon",
        name: area.name,
        points: area.polygon.map(([lat, lng]) => ({ lat, lng })),
      }
    : {
        shape: "circle",
        name: area.name,
        center: { lat: area.lat, lng: area.lng },
        radiusKm: area.radius_km,
      };
}

function duration(fallback: string) {
  return z
    .string()
    .trim()
    .regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as 24h, 30m, 5s")
    .default(fallback)
    .transform(durationMs)
    .refine((ms) => ms > 0, "must be longer than 0");
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

function durationMs(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  return match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : NaN;
}

export interface Config {
  env: "development" | "test" | "production";
  nodeID: string | undefined;
  namespace: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  /** JSON lines (pino) or Moleculer's readable console lines; see lib/logger.ts. */
  logFormat: "json" | "pretty";
  port: number;
  /** Set when PROBE_PORT is; else the default, given up for a free port when taken. */
  probePort: number | undefined;
  services: ServiceName[];
  transporter: string | undefined;
  mongoUrl: string | undefined;
  dataDir: string | undefined;
  embeddedDb: "auto" | "mongod" | "ferretdb";
  kafkaBrokers: string[] | undefined;
  kafkaTopicPrefix: string;
  mongoDbPrefix: string;
  /** Connections of each service's background pool (MONGO_BACKGROUND_POOL). */
  mongoBackgroundPool: number;
  redisUrl: string | undefined;
  stripe: { secretKey: string | undefined; apiBase: string | undefined; webhookSecret: string };
  jwtSecret: string;
  outboxSweepMs: number;
  autoConfirmAfterMs: number;
  paymentTimeoutMs: number;
  acceptTimeoutMs: number;
  platformFeeBps: number;
  dispatch: { radiusKm: number; offerTimeoutMs: number; runnerStaleAfterMs: number };
  http: {
    corsOrigins: string[];
    ratePerTokenPerMinute: number;
    ratePerIpPerMinute: number;
    /** REST requests answered at once before the gateway sheds; 0: never sheds. */
    maxInFlight: number;
    /** Addresses and CIDR ranges of the proxies whose X-Forwarded-For is believed. */
    trustedProxies: string[];
  };
  jwt: { maxTtlMs: number; issuer: string | undefined; audience: string | undefined };
  metricsToken: string | undefined;
  sockets: { maxPerUser: number; maxRooms: number; eventsPerSec: number };
  webhookAllowInternal: boolean;
  mapTileUrl: string | undefined;
  mapTileAttribution: string | undefined;
  tracking: {
    maxSpeedKmh: number;
    locationRatePerSec: number;
    locationArrivalsPerSec: number;
    fixMaxAgeMs: number;
  };
  serviceArea: ServiceAreaPolicy;
  pets: {
    requiredVaccinations: Record<PetType, string[]>;
    maxPerBooking: number;
    acRequiredSpecies: PetType[];
    /** Bookings by pet type and name alone, without profiles, are taken. */
    quickBooking: boolean;
  };
  handover: { pinDigits: number; pinTries: number };
  /** The reasons an owner may give for a dispute (DISPUTE_REASONS). */
  disputeReasons: string[];
  /** No-shows (ARRIVAL_RADIUS_M, NO_SHOW_WAIT, NO_SHOW_FEE_CENTS, NO_SHOW_DROPOFF, NO_SHOW_RETURN_CHARGE). */
  noShow: {
    arrivalRadiusM: number;
    waitMs: number;
    feeCents: number;
    dropoff: "return" | "ops";
    returnCharge: "fee" | "price";
  };
  photos: {
    store: "mongo" | "s3";
    maxBytes: number;
    s3:
      | {
          endpoint: string;
          region: string;
          bucket: string;
          accessKeyId: string;
          secretAccessKey: string;
        }
      | undefined;
  };
  welfare: { stopMs: number; stopRadiusM: number; silentMs: number };
  shareLinkMaxTtlMs: number;
  /** How long after completion a booking may be rated (RATING_WINDOW). */
  ratingWindowMs: number;
  /** Bookings made ahead and their holds (BOOKING_MAX_LEAD_DAYS, AUTH_WINDOW_HOURS, …). */
  schedule: SchedulePolicy;
  /** How often the scheduled holds and the renewals are swept for (SCHEDULE_SWEEP_MS). */
  scheduleSweepMs: number;
  /** Dispatch offers the best rated of the runners within `tieKm` of the nearest first (or not). */
  dispatchRating: { preferRated: boolean; tieKm: number };
  pricing: {
    currency: string;
    baseFareCents: number;
    perKmCents: number;
    surchargeCents: Partial<Record<PetType, number>>;
    extraPetCents: number;
    weightSurcharges: { overKg: number; cents: number }[];
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Reads and validates the environment; unset components mean the embedded defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blankAsUnset = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""),
  );
  const parsed = EnvSchema.safeParse(blankAsUnset);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join(".");
        return `${name}: ${issue.message} ${shownValue(name, env[name])}`;
      }),
    );
  }
  const e = parsed.data;
  const config: Config = {
    env: e.NODE_ENV,
    nodeID: e.NODE_ID,
    namespace: e.NAMESPACE,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? LOG_FORMAT[e.NODE_ENV],
    port: e.PORT,
    probePort: e.PROBE_PORT,
    services: e.SERVICES,
    transporter: e.TRANSPORTER,
    mongoUrl: e.MONGO_URL,
    dataDir: e.KILAT_DATA_DIR,
    embeddedDb: e.KILAT_EMBEDDED_DB,
    kafkaBrokers: e.KAFKA_BROKERS,
    kafkaTopicPrefix: e.KAFKA_TOPIC_PREFIX,
    mongoDbPrefix: e.MONGO_DB_PREFIX,
    mongoBackgroundPool: e.MONGO_BACKGROUND_POOL,
    redisUrl: e.REDIS_URL,
    stripe: {
      secretKey: e.STRIPE_SECRET_KEY,
      apiBase: e.STRIPE_API_BASE,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET,
    },
    jwtSecret: e.JWT_SECRET,
    jwt: { maxTtlMs: e.JWT_MAX_TTL, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE },
    metricsToken: e.METRICS_TOKEN,
    sockets: {
      maxPerUser: e.SOCKET_MAX_PER_USER,
      maxRooms: e.SOCKET_MAX_ROOMS,
      eventsPerSec: e.SOCKET_EVENTS_PER_SEC,
    },
    outboxSweepMs: e.OUTBOX_SWEEP_MS,
    autoConfirmAfterMs: e.AUTO_CONFIRM_AFTER,
    paymentTimeoutMs: e.PAYMENT_TIMEOUT,
    acceptTimeoutMs: e.ACCEPT_TIMEOUT,
    platformFeeBps: e.PLATFORM_FEE_BPS,
    dispatch: {
      radiusKm: e.DISPATCH_RADIUS_KM,
      offerTimeoutMs: e.OFFER_TIMEOUT,
      runnerStaleAfterMs: e.RUNNER_STALE_AFTER,
    },
    tracking: {
      maxSpeedKmh: e.MAX_SPEED_KMH,
      locationRatePerSec: e.LOCATION_RATE_LIMIT,
      locationArrivalsPerSec: e.LOCATION_ARRIVALS_PER_SEC,
      fixMaxAgeMs: e.FIX_MAX_AGE,
    },
    serviceArea: { areas: e.SERVICE_AREA, maxTripKm: e.MAX_TRIP_KM },
    mapTileUrl: e.MAP_TILE_URL,
    mapTileAttribution: e.MAP_TILE_ATTRIBUTION,
    webhookAllowInternal: e.WEBHOOK_ALLOW_INTERNAL
      ? e.WEBHOOK_ALLOW_INTERNAL === "true"
      : e.NODE_ENV !== "production",
    http: {
      corsOrigins: e.CORS_ORIGINS,
      ratePerTokenPerMinute: e.RATE_LIMIT_PER_TOKEN,
      ratePerIpPerMinute: e.RATE_LIMIT_PER_IP,
      maxInFlight: e.API_MAX_IN_FLIGHT,
      trustedProxies: e.TRUSTED_PROXIES,
    },
    pricing: {
      currency: e.CURRENCY,
      baseFareCents: e.PRICE_BASE_FARE_CENTS,
      perKmCents: e.PRICE_PER_KM_CENTS,
      surchargeCents: e.PRICE_SURCHARGES_CENTS,
      extraPetCents: e.PRICE_EXTRA_PET_CENTS,
      weightSurcharges: e.PRICE_WEIGHT_SURCHARGES,
    },
    pets: {
      requiredVaccinations: e.PET_REQUIRED_VACCINATIONS,
      maxPerBooking: e.MAX_PETS_PER_BOOKING,
      acRequiredSpecies: e.AC_REQUIRED_SPECIES,
      quickBooking: e.QUICK_BOOKING ? e.QUICK_BOOKING === "true" : e.NODE_ENV !== "production",
    },
    handover: { pinDigits: e.HANDOVER_PIN_DIGITS, pinTries: e.HANDOVER_PIN_TRIES },
    disputeReasons: e.DISPUTE_REASONS,
    noShow: {
      arrivalRadiusM: e.ARRIVAL_RADIUS_M,
      waitMs: e.NO_SHOW_WAIT,
      feeCents: e.NO_SHOW_FEE_CENTS,
      dropoff: e.NO_SHOW_DROPOFF,
      returnCharge: e.NO_SHOW_RETURN_CHARGE,
    },
    photos: {
      store: e.PHOTO_STORE,
      maxBytes: e.PHOTO_MAX_BYTES,
      s3:
        e.S3_ENDPOINT && e.S3_BUCKET && e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
          ? {
              endpoint: e.S3_ENDPOINT,
              region: e.S3_REGION,
              bucket: e.S3_BUCKET,
              accessKeyId: e.S3_ACCESS_KEY_ID,
              secretAccessKey: e.S3_SECRET_ACCESS_KEY,
            }
          : undefined,
    },
    welfare: {
      stopMs: e.WELFARE_STOP_MINUTES * 60_000,
      stopRadiusM: e.WELFARE_STOP_RADIUS_M,
      silentMs: e.WELFARE_SILENT_MINUTES * 60_000,
    },
    shareLinkMaxTtlMs: e.SHARE_LINK_MAX_TTL,
    ratingWindowMs: e.RATING_WINDOW,
    schedule: schedulePolicy({
      maxLeadDays: e.BOOKING_MAX_LEAD_DAYS,
      authWindowHours: e.AUTH_WINDOW_HOURS,
      holdLeadHours: e.HOLD_LEAD_HOURS,
      holdRetryHours: e.HOLD_RETRY_HOURS,
      authHoldDays: e.AUTH_HOLD_DAYS,
      renewMarginHours: e.RENEW_MARGIN_HOURS,
      dispatchLeadMinutes: e.DISPATCH_LEAD_MINUTES,
      acceptGraceMinutes: e.ACCEPT_GRACE_MINUTES,
    }),
    scheduleSweepMs: e.SCHEDULE_SWEEP_MS,
    dispatchRating: {
      preferRated: e.DISPATCH_PREFER_RATED === "true",
      tieKm: e.DISPATCH_RATING_TIE_M / 1000,
    },
  };
  if (config.photos.store === "s3" && !config.photos.s3) {
    throw new ConfigError([
      "PHOTO_STORE: s3 needs S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
    ]);
  }
  const allServices = SERVICE_NAMES.every((name) => config.services.includes(name));
  if (!allServices && !config.transporter) {
    throw new ConfigError([
      "SERVICES: a subset of the services needs TRANSPORTER (redis://…) to reach the others",
    ]);
  }
  if (!allServices && !config.kafkaBrokers) {
    throw new ConfigError([
      "SERVICES: a subset of the services needs KAFKA_BROKERS: the in-process event bus cannot reach other processes",
    ]);
  }
  if (config.env === "production") {
    const defaults = [
      config.jwtSecret === DEFAULT_JWT_SECRET && "JWT_SECRET: the development default is set",
      config.stripe.webhookSecret === DEFAULT_WEBHOOK_SECRET &&
        "STRIPE_WEBHOOK_SECRET: the development default is set",
    ].filter((problem): problem is string => typeof problem === "string");
    if (defaults.length > 0) {
      throw new ConfigError(defaults.map((p) => `${p}; NODE_ENV=production needs a real secret`));
    }
    // A signature is as strong as its secret: a short or repetitive one can be guessed offline.
    const weak = (
      [
        ["JWT_SECRET", config.jwtSecret],
        ["STRIPE_WEBHOOK_SECRET", config.stripe.webhookSecret],
        ["METRICS_TOKEN", config.metricsToken],
      ] as const
    ).flatMap(([name, secret]) => {
      const weakness = secret === undefined ? undefined : secretWeakness(secret);
      return weakness ? [`${name}: ${weakness}; NODE_ENV=production needs ${SECRET_RULE}`] : [];
    });
    if (weak.length > 0) throw new ConfigError(weak);
  }
  return config;
}
