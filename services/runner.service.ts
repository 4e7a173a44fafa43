import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Errors } from "moleculer";
import { z } from "zod";
import { nextCandidate } from "../domain/dispatch";
import { distanceKm } from "../domain/geo";
import { TOPICS } from "../events/catalog";
import type { DomainEvent } from "../events/envelope";
import { isoTime, latitude, longitude } from "../events/schemas";
import { actionsOf, callerOf, conflict, notFound } from "../lib/action";
import { createGeoIndex, type GeoIndex } from "../lib/geo-index";
import { ignoreDuplicateKey } from "../lib/mongo";
import { guardedUpdate } from "../lib/outbox";
import { RateLimiter } from "../lib/rate-limit";
import { runtimeOf } from "../lib/runtime";
import { validationError } from "../lib/zod-validator";
import { DomainEvents, type DomainEventsMethods } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import { dispatchModel, type DispatchDoc } from "../models/dispatch.model";
import { runnerModel, type RunnerDoc } from "../models/runner.model";

const models = { runners: runnerModel, dispatches: dispatchModel };

export const PositionParams = z.object({ lat: latitude, lng: longitude }).strict();

export const LocationParams = z
  .object({
    lat: latitude,
    lng: longitude,
    speed_kmh: z.number().min(0).max(1000).optional(),
    heading_degrees: z.number().min(0).lt(360).optional(),
    timestamp: isoTime,
    booking_id: z.string().min(1).max(64).optional(),
  })
  .strict();

type Fix = z.output<typeof LocationParams>;

/** Fixes a gateway collected from runners' sockets in one tick; each is judged on its own. */
const LocationBatchParams = z
  .object({
    fixes: z
      // `fix` is checked per fix below: one bad fix must not fail the others of its batch.
      .array(
        z.object({ runner_id: z.string().min(1).max(128), fix: z.unknown().optional() }).strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

/**
 * One fix's answer in a batch: its event, or the error a single call would have thrown, as
 * plain fields (the gateway turns them into its usual error body).
 */
export type FixResult =
  | { ok: true; event_id: string }
  | {
      ok: false;
      error: {
        name: string;
        message: string;
        code?: number | string;
        type?: string;
        data?: unknown;
      };
    };

function fixFailure(error: unknown): FixResult {
  const { name, message, code, type, data } = (error ?? {}) as Partial<
    Extract<FixResult, { ok: false }>["error"]
  >;
  return {
    ok: false,
    error: { name: name ?? "Error", message: message ?? String(error), code, type, data },
  };
}

export const ProfileParams = z
  .object({
    name: z.string().trim().min(1).max(80).optional(),
    vehicle: z.string().trim().min(1).max(80).optional(),
    stripe_account_id: z
      .string()
      .regex(/^acct_[A-Za-z0-9]{1,64}$/, "expected a Stripe connected account id (acct_…)")
      .optional(),
  })
  .strict();

export const NearbyParams = z
  .object({
    lat: z.coerce.number().min(-90).max(90),
    lng: z.coerce.number().min(-180).max(180),
    radius_km: z.coerce.number().positive().max(50).default(6),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

const BookingRef = z.object({ id: z.string().min(1).max(64) });
const NoParams = z.object({}).strict();

/** A runner as the API shows it. */
export interface RunnerEntity {
  runner_id: string;
  name: string | null;
  vehicle: string | null;
  stripe_account_id: string | null;
  availability: RunnerDoc["availability"];
  active_booking_id: string | null;
  position: { lat: number; lng: number; reported_at: string } | null;
}

export interface OfferEntity {
  booking_id: string;
  pickup: { lat: number; lng: number };
  offered_at: string;
  expires_at: string;
}

interface RunnerVars {
  geo: GeoIndex;
  closeGeo: () => Promise<void>;
  limiter: RateLimiter;
  sweepTimer: NodeJS.Timeout | undefined;
  sweeping: Promise<void> | undefined;
  lastSearchRetry: number;
}

interface RunnerMethods {
  afterEventsStopped(): Promise<void>;
  takeFix(runnerId: string, fix: Fix, now: number): Promise<DomainEvent>;
  profileOf(runnerId: string): Promise<RunnerDoc>;
  runnerEntity(doc: RunnerDoc): Promise<RunnerEntity>;
  ensureRunner(runnerId: string): Promise<void>;
  rejoinIndex(runnerId: string, position: { lat: number; lng: number }, at: Date): Promise<boolean>;
  upsertDispatch(bookingId: string, set: Partial<DispatchDoc>): Promise<void>;
  startIfReady(bookingId: string): Promise<void>;
  tryDispatch(bookingId: string): Promise<string | null>;
  moveOn(bookingId: string, runnerId: string): Promise<void>;
  releaseOffer(runnerId: string, bookingId: string): Promise<void>;
  dispatchNear(position: { lat: number; lng: number }): Promise<void>;
  sweep(): Promise<void>;
  goOffline(runnerId: string, at: Date): Promise<boolean>;
  onBookingRequested(event: DomainEvent): Promise<void>;
  onEscrowHeld(event: DomainEvent): Promise<void>;
  onBookingAccepted(event: DomainEvent): Promise<void>;
  onBookingDelivered(event: DomainEvent): Promise<void>;
  onBookingCancelled(event: DomainEvent): Promise<void>;
}

type RunnerThis = Service &
  MongoThis<typeof models> &
  DomainEventsMethods &
  RunnerMethods &
  RunnerVars;
const action = actionsOf<RunnerThis>();

const toOffer = (doc: RunnerDoc): OfferEntity[] =>
  doc.offer
    ? [
        {
          booking_id: doc.offer.booking_id,
          pickup: { lat: doc.offer.pickup.lat, lng: doc.offer.pickup.lng },
          offered_at: doc.offer.offered_at.toISOString(),
          expires_at: doc.offer.expires_at.toISOString(),
        },
      ]
    : [];

/** Searching bookings looked at per sweep or per runner coming online. */
const SEARCH_BATCH = 50;
/** How often a searching booking is tried again without a runner coming online near it. */
const SEARCH_RETRY_MS = 10_000;

/**
 * Runners: profile, availability, the GPS stream and dispatch.
 *
 * Positions live in the geo index (Redis GEO when REDIS_URL is set): they change every few
 * seconds, and the index answers "who is near" without touching the database. Availability
 * (online, busy, holding an offer) changes a few times per booking and lives in the runner
 * document, where one guarded write claims a runner for an offer. Dispatch state lives per
 * booking; the offer (`runner.assigned`) goes out of its outbox with the write that makes it.
 */
const RunnerService: ServiceSchema<
  ServiceSettingSchema,
  DomainEventsMethods & RunnerMethods,
  MongoThis<typeof models> & RunnerVars
> = {
  name: "runner",
  mixins: [
    DomainEvents({
      source: "runner",
      outbox: ["runners", "dispatches"],
      consume: {
        "service-runner-payments": { "payment.escrow_held": "onEscrowHeld" },
        "service-runner-bookings": {
          "booking.requested": "onBookingRequested",
          "booking.accepted": "onBookingAccepted",
          "booking.delivered": "onBookingDelivered",
          "booking.cancelled": "onBookingCancelled",
        },
      },
    }),
    MongoMixin({ db: "runner", models }),
  ],

  actions: {
    /** The caller's runner profile (created on first use). */
    me: action({
      roles: ["runner"],
      params: NoParams,
      async handler(ctx) {
        const runner = callerOf(ctx);
        await this.ensureRunner(runner.sub);
        const doc = await this.profileOf(runner.sub);
        return this.runnerEntity(doc);
      },
    }),

    /** Name, vehicle and the Stripe connected account payouts go to. */
    updateProfile: action({
      roles: ["runner"],
      params: ProfileParams,
      async handler(ctx) {
        const runner = callerOf(ctx);
        await this.ensureRunner(runner.sub);
        const doc = await this.models.runners
          .findOneAndUpdate(
            { _id: runner.sub },
            { $set: { ...ctx.params, updated_at: new Date() } },
            { new: true, projection: { outbox: 0 } },
          )
          .lean<RunnerDoc>();
        if (!doc) throw notFound("Runner");
        return this.runnerEntity(doc);
      },
    }),

    /** The runner starts taking jobs at a position: `runner.online`, then nearby open bookings. */
    online: action({
      roles: ["runner"],
      params: PositionParams,
      async handler(ctx) {
        const runner = callerOf(ctx);
        const at = new Date();
        await this.ensureRunner(runner.sub);
        await this.geo.upsert(runner.sub, ctx.params, at);
        const online = this.domainEvent("runner.online", {
          runner_id: runner.sub,
          latitude: ctx.params.lat,
          longitude: ctx.params.lng,
          occurred_at: at.toISOString(),
        });
        const position = { last_lat: ctx.params.lat, last_lng: ctx.params.lng, updated_at: at };
        // Only the offline → online move is an event; a repeat just refreshes the position.
        const moved = await guardedUpdate(
          this.models.runners,
          { _id: runner.sub, availability: "offline" },
          { ...position, availability: "online" },
          [online],
        );
        if (moved) this.outboxRelay(this.models.runners).flushSoon(runner.sub);
        else await this.models.runners.updateOne({ _id: runner.sub }, { $set: position });
        void this.dispatchNear(ctx.params).catch((error: unknown) =>
          this.logger.warn("dispatch after online failed", error),
        );
        const doc = await this.profileOf(runner.sub);
        return this.runnerEntity(doc);
      },
    }),

    /** The runner stops taking jobs: `runner.offline`; an open offer moves on. */
    offline: action({
      roles: ["runner"],
      params: NoParams,
      async handler(ctx) {
        const runner = callerOf(ctx);
        const doc = await this.profileOf(runner.sub);
        if (doc.active_booking_id) {
          throw conflict("Finish or cancel your active booking before going offline", {
            active_booking_id: doc.active_booking_id,
          });
        }
        await this.goOffline(runner.sub, new Date());
        const after = await this.models.runners
          .findById(runner.sub, { outbox: 0 })
          .lean<RunnerDoc>();
        return this.runnerEntity(after ?? doc);
      },
    }),

    /**
     * One GPS fix: moves the runner in the geo index and publishes `runner.location_update`.
     * The hot path: no database access, one geo-index round trip, one (batched) Kafka send.
     * 202 once Kafka has it; 409 when the runner is not online; 429 beyond the rate limit.
     */
    location: action({
      roles: ["runner"],
      params: LocationParams,
      async handler(ctx) {
        const event = await this.takeFix(callerOf(ctx).sub, ctx.params, Date.now());
        await runtimeOf(this.broker).bus.publish(TOPICS.runner, [event]);
        this.broker.metrics.increment("kilat.runner.location.accepted");
        ctx.meta.$statusCode = 202;
        return { accepted: true, event_id: event.id };
      },
    }),

    /**
     * The socket path of `location`: the fixes a gateway received in one tick, judged one by
     * one exactly as `location` judges one (validation, rate limit, online), then one Kafka
     * send for all accepted. Answers per fix; the gateway authenticated each runner.
     */
    locations: {
      ...action({
        params: LocationBatchParams,
        async handler(ctx) {
          const now = Date.now();
          const settled = await Promise.allSettled(
            ctx.params.fixes.map(({ runner_id, fix }) => {
              const parsed = LocationParams.safeParse(fix);
              return parsed.success
                ? this.takeFix(runner_id, parsed.data, now)
                : Promise.reject(validationError(parsed.error));
            }),
          );
          const events = settled.flatMap((result) =>
            result.status === "fulfilled" ? [result.value] : [],
          );
          if (events.length > 0) {
            await runtimeOf(this.broker).bus.publish(TOPICS.runner, events);
            this.broker.metrics.increment("kilat.runner.location.accepted", {}, events.length);
          }
          return {
            results: settled.map((result): FixResult =>
              result.status === "fulfilled"
                ? { ok: true, event_id: result.value.id }
                : fixFailure(result.reason),
            ),
          };
        },
      }),
      visibility: "public", // other services may call it; the gateway may not
    },

    /** The caller's open offer (at most one). */
    offers: action({
      roles: ["runner"],
      params: NoParams,
      async handler(ctx) {
        const runner = callerOf(ctx);
        const doc = await this.models.runners.findById(runner.sub, { outbox: 0 }).lean<RunnerDoc>();
        return { items: doc ? toOffer(doc) : [] };
      },
    }),

    /** The runner turns the offer down; it moves to the next nearest runner. */
    decline: action({
      roles: ["runner"],
      params: BookingRef,
      async handler(ctx) {
        const runner = callerOf(ctx);
        const dispatch = await this.models.dispatches
          .findOne({ _id: ctx.params.id, status: "offered", runner_id: runner.sub }, { _id: 1 })
          .lean();
        if (!dispatch) throw conflict("You hold no open offer for this booking");
        await this.moveOn(ctx.params.id, runner.sub);
        return { declined: true, booking_id: ctx.params.id };
      },
    }),

    /** Admin: online runners near a point, nearest first, with their availability. */
    nearby: action({
      roles: ["admin"],
      params: NearbyParams,
      async handler(ctx) {
        const { lat, lng, radius_km, limit } = ctx.params;
        const near = await this.geo.nearby({ lat, lng }, radius_km, { limit });
        const docs = await this.models.runners
          .find({ _id: { $in: near.map((runner) => runner.runnerId) } }, { outbox: 0 })
          .lean<RunnerDoc[]>();
        const byId = new Map(docs.map((doc) => [doc._id, doc]));
        return {
          items: near.map((runner) => ({
            runner_id: runner.runnerId,
            distance_km: Math.round(runner.distanceKm * 1000) / 1000,
            lat: runner.lat,
            lng: runner.lng,
            reported_at: runner.at.toISOString(),
            availability: byId.get(runner.runnerId)?.availability ?? "online",
            active_booking_id: byId.get(runner.runnerId)?.active_booking_id ?? null,
          })),
        };
      },
    }),

    /** Admin dashboard: every runner online or busy, where it is, on which booking. */
    listOnline: action({
      roles: ["admin"],
      params: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict(),
      async handler(ctx) {
        const docs = await this.models.runners
          .find({ availability: { $in: ["online", "busy"] } }, { outbox: 0 })
          .sort({ _id: 1 })
          .limit(ctx.params.limit)
          .lean<RunnerDoc[]>();
        return { items: await Promise.all(docs.map((doc) => this.runnerEntity(doc))) };
      },
    }),

    /** For the payment service: where a runner's payout goes (null: the platform keeps it). */
    payoutAccount: {
      visibility: "public", // other services may call it; the gateway may not
      params: { runner_id: "string" },
      async handler(this: RunnerThis, ctx: { params: { runner_id: string } }) {
        const doc = await this.models.runners
          .findById(ctx.params.runner_id, { stripe_account_id: 1 })
          .lean<Pick<RunnerDoc, "stripe_account_id">>();
        return { stripe_account_id: doc?.stripe_account_id ?? null };
      },
    },
  },

  created() {
    const { config } = runtimeOf(this.broker);
    this.lastSearchRetry = 0;
    this.limiter = new RateLimiter({
      ratePerSec: config.tracking.locationRatePerSec,
      burst: Math.max(1, Math.ceil(config.tracking.locationRatePerSec)),
      maxKeys: 100_000,
    });
    const { index, close } = createGeoIndex({
      redisUrl: config.redisUrl,
      key: `${config.mongoDbPrefix}:runners`,
      staleAfterMs: config.dispatch.runnerStaleAfterMs,
    });
    this.geo = index;
    this.closeGeo = close;
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.runner.location.accepted",
      description: "GPS fixes accepted and published",
    });
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.runner.location.dropped",
      labelNames: ["reason"],
      description: "GPS fixes dropped before publishing (rate limit)",
    });
  },

  started() {
    const { offerTimeoutMs, runnerStaleAfterMs } = runtimeOf(this.broker).config.dispatch;
    const every = Math.max(100, Math.min(1000, offerTimeoutMs / 4, runnerStaleAfterMs / 4));
    const tick = () => {
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.logger.warn("dispatch sweep failed", error))
        .finally(() => {
          if (this.sweepTimer) this.sweepTimer = setTimeout(tick, every).unref();
        });
    };
    this.sweepTimer = setTimeout(tick, every).unref();
  },

  async stopped() {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping;
  },

  methods: {
    /** The runner's document without its outbox; 404 when there is none. */
    async profileOf(runnerId: string) {
      const doc = await this.models.runners.findById(runnerId, { outbox: 0 }).lean<RunnerDoc>();
      if (!doc) throw notFound("Runner");
      return doc;
    },

    /**
     * One GPS fix judged: within the runner's rate limit, and the runner online (moved in the
     * geo index in the same round trip); the `runner.location_update` to publish, or a 429/409.
     */
    async takeFix(runnerId: string, fix: Fix, now: number) {
      if (!this.limiter.allow(runnerId, now)) {
        this.broker.metrics.increment("kilat.runner.location.dropped", { reason: "rate" });
        throw new Errors.MoleculerClientError(
          "Too many location updates; the excess is dropped",
          429,
          "RATE_LIMITED",
        );
      }
      const online =
        (await this.geo.touch(runnerId, fix, new Date(now))) ||
        (await this.rejoinIndex(runnerId, fix, new Date(now)));
      if (!online) {
        throw conflict("Go online before sending locations", { availability: "offline" });
      }
      return this.domainEvent("runner.location_update", {
        runner_id: runnerId,
        ...(fix.booking_id ? { booking_id: fix.booking_id } : {}),
        latitude: fix.lat,
        longitude: fix.lng,
        ...(fix.speed_kmh !== undefined ? { speed_kmh: fix.speed_kmh } : {}),
        ...(fix.heading_degrees !== undefined ? { heading_degrees: fix.heading_degrees } : {}),
        timestamp: fix.timestamp,
        occurred_at: new Date(now).toISOString(),
      });
    },

    /** Called by DomainEvents once the consumers have stopped: they use the index. */
    async afterEventsStopped() {
      await this.closeGeo();
    },

    async runnerEntity(doc: RunnerDoc): Promise<RunnerEntity> {
      const live = doc.availability === "offline" ? null : await this.geo.get(doc._id);
      return {
        runner_id: doc._id,
        name: doc.name,
        vehicle: doc.vehicle,
        stripe_account_id: doc.stripe_account_id,
        availability: doc.availability,
        active_booking_id: doc.active_booking_id,
        position: live
          ? { lat: live.lat, lng: live.lng, reported_at: live.at.toISOString() }
          : null,
      };
    },

    /**
     * A runner the index dropped (silent past RUNNER_STALE_AFTER: a tunnel, a dead phone) but
     * still on a trip reports again: it goes back in, and its fixes count. Off the hot path:
     * only when `touch` found no fresh runner.
     */
    async rejoinIndex(runnerId: string, position: { lat: number; lng: number }, at: Date) {
      const doc = await this.models.runners
        .findById(runnerId, { availability: 1 })
        .lean<Pick<RunnerDoc, "availability">>();
      if (!doc || doc.availability === "offline") return false;
      await this.geo.upsert(runnerId, position, at);
      return true;
    },

    async ensureRunner(runnerId: string) {
      if (await this.models.runners.exists({ _id: runnerId })) return;
      const now = new Date();
      await this.models.runners
        .create({
          _id: runnerId,
          name: null,
          vehicle: null,
          stripe_account_id: null,
          availability: "offline",
          last_lat: null,
          last_lng: null,
          active_booking_id: null,
          offer: null,
          created_at: now,
          updated_at: now,
          outbox: [],
        })
        .catch(ignoreDuplicateKey);
    },

    /** Booking and escrow events arrive on two topics in either order: both land here. */
    async upsertDispatch(bookingId: string, set: Partial<DispatchDoc>) {
      const now = new Date();
      const update = { $set: { ...set, updated_at: now } };
      const result = await this.models.dispatches.updateOne({ _id: bookingId }, update);
      if (result.matchedCount > 0) return;
      await this.models.dispatches
        .create({
          _id: bookingId,
          pickup: null,
          escrow_held: false,
          status: "waiting",
          runner_id: null,
          offer_expires_at: null,
          tried: [],
          created_at: now,
          updated_at: now,
          outbox: [],
          ...set,
        })
        .catch(async (error: unknown) => {
          ignoreDuplicateKey(error);
          await this.models.dispatches.updateOne({ _id: bookingId }, update);
        });
    },

    async startIfReady(bookingId: string) {
      const ready = await this.models.dispatches.updateOne(
        { _id: bookingId, status: "waiting", escrow_held: true, pickup: { $ne: null } },
        { $set: { status: "searching", updated_at: new Date() } },
      );
      if (ready.modifiedCount > 0) await this.tryDispatch(bookingId);
    },

    /**
     * Offers a searching booking to the nearest free runner in range that has not had it yet:
     * claims the runner (one guarded write), then records the offer with `runner.assigned` in
     * the booking's outbox. Returns the runner offered, or null (the booking stays searching).
     */
    async tryDispatch(bookingId: string) {
      const { radiusKm, offerTimeoutMs } = runtimeOf(this.broker).config.dispatch;
      const dispatch = await this.models.dispatches
        .findById(bookingId, { outbox: 0 })
        .lean<DispatchDoc>();
      if (!dispatch || dispatch.status !== "searching" || !dispatch.pickup) return null;
      const pickup = { lat: dispatch.pickup.lat, lng: dispatch.pickup.lng };
      const tried = new Set(dispatch.tried);
      const busy = new Set<string>();
      // The index holds busy runners too: when the nearest page is all busy or tried, look
      // further (a bigger page) before concluding that no one in range is free.
      let near: Awaited<ReturnType<GeoIndex["nearby"]>> = [];
      for (let limit = 25; limit <= 1600; limit *= 4) {
        near = await this.geo.nearby(pickup, radiusKm, { limit });
        if (near.length === 0) break;
        const free = await this.models.runners
          .find(
            {
              _id: { $in: near.map((runner) => runner.runnerId) },
              availability: "online",
              offer: null,
              active_booking_id: null,
            },
            { _id: 1 },
          )
          .lean<{ _id: string }[]>();
        const freeIds = new Set(free.map((doc) => doc._id));
        near.filter((r) => !freeIds.has(r.runnerId)).forEach((r) => busy.add(r.runnerId));
        if (nextCandidate(near, { radiusKm, tried, busy }) || near.length < limit) break;
      }
      for (;;) {
        const candidate = nextCandidate(near, { radiusKm, tried, busy });
        if (!candidate) {
          // To the back of the queue: sweeps take the longest-waiting searching bookings first.
          await this.models.dispatches.updateOne(
            { _id: bookingId, status: "searching" },
            { $set: { updated_at: new Date() } },
          );
          return null;
        }
        const at = new Date();
        const expires = new Date(at.getTime() + offerTimeoutMs);
        const claimed = await this.models.runners.updateOne(
          { _id: candidate.runnerId, availability: "online", offer: null, active_booking_id: null },
          {
            $set: {
              offer: { booking_id: bookingId, pickup, offered_at: at, expires_at: expires },
              updated_at: at,
            },
          },
        );
        if (claimed.modifiedCount === 0) {
          busy.add(candidate.runnerId); // taken meanwhile
          continue;
        }
        const assigned = this.domainEvent("runner.assigned", {
          runner_id: candidate.runnerId,
          booking_id: bookingId,
          occurred_at: at.toISOString(),
        });
        const offered = await guardedUpdate(
          this.models.dispatches,
          { _id: bookingId, status: "searching" },
          {
            status: "offered",
            runner_id: candidate.runnerId,
            offer_expires_at: expires,
            tried: [...dispatch.tried, candidate.runnerId],
            updated_at: at,
          },
          [assigned],
        );
        if (!offered) {
          // Another dispatcher (or a cancellation) got there first: give the runner back.
          await this.releaseOffer(candidate.runnerId, bookingId);
          return null;
        }
        this.outboxRelay(this.models.dispatches).flushSoon(bookingId);
        return candidate.runnerId;
      }
    },

    /** The offer to `runnerId` is over (declined, expired, runner gone): the next one, please. */
    async moveOn(bookingId: string, runnerId: string) {
      const reopened = await this.models.dispatches.updateOne(
        { _id: bookingId, status: "offered", runner_id: runnerId },
        {
          $set: {
            status: "searching",
            runner_id: null,
            offer_expires_at: null,
            updated_at: new Date(),
          },
        },
      );
      await this.releaseOffer(runnerId, bookingId);
      if (reopened.modifiedCount > 0) await this.tryDispatch(bookingId);
    },

    async releaseOffer(runnerId: string, bookingId: string) {
      await this.models.runners.updateOne(
        { _id: runnerId, "offer.booking_id": bookingId },
        { $set: { offer: null, updated_at: new Date() } },
      );
    },

    /** A runner came online here: open bookings within its reach get another try. */
    async dispatchNear(position: { lat: number; lng: number }) {
      const { radiusKm } = runtimeOf(this.broker).config.dispatch;
      const open = await this.models.dispatches
        .find({ status: "searching" }, { _id: 1, pickup: 1 })
        .sort({ updated_at: 1 })
        .limit(SEARCH_BATCH)
        .lean<Pick<DispatchDoc, "_id" | "pickup">[]>();
      const inReach = open
        .filter((doc) => doc.pickup && distanceKm(position, doc.pickup) <= radiusKm)
        .sort((a, b) => distanceKm(position, a.pickup!) - distanceKm(position, b.pickup!));
      for (const doc of inReach) {
        if ((await this.tryDispatch(doc._id)) !== null) continue;
      }
    },

    /**
     * Periodic, on every instance (all writes are guarded): expired offers move on, searching
     * bookings get another try, runners silent past RUNNER_STALE_AFTER go offline.
     */
    async sweep() {
      const now = new Date();
      const expired = await this.models.dispatches
        .find({ status: "offered", offer_expires_at: { $lte: now } }, { _id: 1, runner_id: 1 })
        .limit(SEARCH_BATCH)
        .lean<Pick<DispatchDoc, "_id" | "runner_id">[]>();
      for (const doc of expired) {
        if (doc.runner_id) await this.moveOn(doc._id, doc.runner_id);
      }
      // An offer whose dispatch record never got written (a crash in between) is let go.
      const orphaned = await this.models.runners
        .find({ "offer.expires_at": { $lte: now } }, { _id: 1, offer: 1 })
        .limit(SEARCH_BATCH)
        .lean<Pick<RunnerDoc, "_id" | "offer">[]>();
      for (const doc of orphaned) {
        if (doc.offer) await this.moveOn(doc.offer.booking_id, doc._id);
      }
      // Waiting bookings get another try now and then (runners move into range); a runner
      // coming online nearby tries them at once (dispatchNear).
      if (now.getTime() - this.lastSearchRetry >= SEARCH_RETRY_MS) {
        this.lastSearchRetry = now.getTime();
        const searching = await this.models.dispatches
          .find(
            {
              status: "searching",
              updated_at: { $lte: new Date(now.getTime() - SEARCH_RETRY_MS) },
            },
            { _id: 1 },
          )
          .sort({ updated_at: 1 })
          .limit(SEARCH_BATCH)
          .lean<{ _id: string }[]>();
        for (const doc of searching) await this.tryDispatch(doc._id);
      }
      for (const runnerId of await this.geo.pruneStale(now)) {
        const doc = await this.models.runners.findById(runnerId, { offer: 1 }).lean<RunnerDoc>();
        if (doc?.offer) await this.moveOn(doc.offer.booking_id, runnerId);
        await this.goOffline(runnerId, now);
      }
    },

    /** online → offline with `runner.offline`; a busy runner stays busy (its trip goes on). */
    async goOffline(runnerId: string, at: Date) {
      await this.geo.remove(runnerId);
      const offline = this.domainEvent("runner.offline", {
        runner_id: runnerId,
        occurred_at: at.toISOString(),
      });
      const doc = await this.models.runners.findById(runnerId, { offer: 1 }).lean<RunnerDoc>();
      if (doc?.offer) await this.moveOn(doc.offer.booking_id, runnerId);
      const moved = await guardedUpdate(
        this.models.runners,
        { _id: runnerId, availability: "online" },
        { availability: "offline", updated_at: at },
        [offline],
      );
      if (moved) this.outboxRelay(this.models.runners).flushSoon(runnerId);
      return moved !== null;
    },

    async onBookingRequested(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.requested">["data"];
      await this.upsertDispatch(data.booking_id, {
        pickup: { lat: data.pickup_lat, lng: data.pickup_lng },
      });
      await this.startIfReady(data.booking_id);
    },

    async onEscrowHeld(event: DomainEvent) {
      const data = event.data as DomainEvent<"payment.escrow_held">["data"];
      await this.upsertDispatch(data.booking_id, { escrow_held: true });
      await this.startIfReady(data.booking_id);
    },

    /** The booking is taken (by the offered runner or another): dispatch ends, runner is busy. */
    async onBookingAccepted(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.accepted">["data"];
      const dispatch = await this.models.dispatches
        .findById(data.booking_id, { runner_id: 1, status: 1 })
        .lean<Pick<DispatchDoc, "runner_id" | "status">>();
      await this.upsertDispatch(data.booking_id, {
        status: "accepted",
        runner_id: data.runner_id,
        offer_expires_at: null,
      });
      if (
        dispatch?.status === "offered" &&
        dispatch.runner_id &&
        dispatch.runner_id !== data.runner_id
      ) {
        await this.releaseOffer(dispatch.runner_id, data.booking_id);
      }
      // The offer it held at the moment it turned busy (read and cleared in one write).
      const runner = (await this.models.runners.collection.findOneAndUpdate(
        { _id: data.runner_id } as never,
        {
          $set: {
            availability: "busy",
            active_booking_id: data.booking_id,
            offer: null,
            updated_at: new Date(),
          },
        },
        { returnDocument: "before" },
      )) as unknown as Pick<RunnerDoc, "offer"> | null;
      // It held an offer for another booking: that one moves on now, not at its timeout.
      const other = runner?.offer?.booking_id;
      if (other && other !== data.booking_id) await this.moveOn(other, data.runner_id);
    },

    /** The pet is handed over: the runner is free for the next job. */
    async onBookingDelivered(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.delivered">["data"];
      await this.upsertDispatch(data.booking_id, { status: "closed" });
      await this.models.runners.updateOne(
        { _id: data.runner_id, active_booking_id: data.booking_id },
        { $set: { availability: "online", active_booking_id: null, updated_at: new Date() } },
      );
    },

    async onBookingCancelled(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.cancelled">["data"];
      const dispatch = await this.models.dispatches
        .findById(data.booking_id, { runner_id: 1 })
        .lean<Pick<DispatchDoc, "runner_id">>();
      await this.upsertDispatch(data.booking_id, { status: "cancelled", offer_expires_at: null });
      const runnerId = dispatch?.runner_id;
      if (!runnerId) return;
      await this.releaseOffer(runnerId, data.booking_id);
      await this.models.runners.updateOne(
        { _id: runnerId, active_booking_id: data.booking_id },
        { $set: { availability: "online", active_booking_id: null, updated_at: new Date() } },
      );
    },
  },
};

export default RunnerService;
