import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { z } from "zod";
import {
  DEFAULT_TRACKING_POLICY,
  applyFix,
  emptyTrack,
  type FixRejection,
  type TrackState,
  type TrackingPolicy,
} from "../domain/tracking";
import { TOPICS } from "../events/catalog";
import { createEvent, nameUuid, type DomainEvent } from "../events/envelope";
import { actionsOf, callerOf, notFound } from "../lib/action";
import type { DeliveredEvent, WriteBehind } from "../lib/event-bus";
import { GroupCommit } from "../lib/group-commit";
import { ignoreDuplicateKey } from "../lib/mongo";
import { guardedUpdate } from "../lib/outbox";
import { runtimeOf } from "../lib/runtime";
import { DomainEvents, type DomainEventsMethods } from "../mixins/domain-events.mixin";
import { MongoMixin, type MongoThis } from "../mixins/mongo.mixin";
import {
  trackModel,
  waypointId,
  waypointModel,
  type TrackDoc,
  type WaypointDoc,
} from "../models/track.model";

const models = { tracks: trackModel, waypoints: waypointModel };

export const TrackParams = z
  .object({
    id: z.string().min(1).max(64),
    limit: z.coerce.number().int().min(1).max(2000).default(500),
  })
  .strict();

/** What the live channel pushes for every accepted fix (`track:update`). */
export interface LiveFix {
  booking_id: string;
  lat: number;
  lng: number;
  speed_kmh: number;
  heading_degrees: number | null;
  recorded_at: string;
  total_distance_km: number;
  eta_seconds: number | null;
}

/** What the gateway gets through Moleculer events, to push to socket rooms. */
export interface LiveRunnerChange {
  kind: "online" | "offline" | "location";
  runner_id: string;
  lat?: number;
  lng?: number;
  at: string;
}

interface Progress {
  state: TrackState;
  eta: number | null;
}

/** An active track as the fix path keeps it in memory. */
interface CachedTrack {
  id: string;
  bookingId: string;
  runnerId: string;
  dropoff: { lat: number; lng: number } | null;
  /** After the last judged fix: the next fix is judged against it. */
  live: Progress;
  /** After the last stored fix: what a checkpoint saves. */
  stored: Progress;
  loadedAt: number;
  /** Stored fixes since its last checkpoint. */
  dirty: boolean;
}

/** One batch's writes: its waypoints, its `tracking.updated` events, where it leaves its tracks. */
interface FixWrites {
  waypoints: WaypointDoc[];
  updates: DomainEvent[];
  progress: Map<CachedTrack, Progress>;
}

interface TrackingVars {
  policy: TrackingPolicy;
  /** booking id → active track; runner id → its latest active booking. */
  active: Map<string, CachedTrack>;
  byRunner: Map<string, string>;
  /** runner id → when its position last went to the admin room. */
  lastAdminPush: Map<string, number>;
  checkpointTimer: NodeJS.Timeout | undefined;
  checkpointing: Promise<void> | undefined;
  fixWriter: GroupCommit<FixWrites>;
}

interface TrackingMethods {
  trackOf(runnerId: string, bookingId: string | undefined): Promise<CachedTrack | null>;
  forget(bookingId: string, runnerId?: string | null): void;
  revalidate(track: CachedTrack): Promise<void>;
  forgetEverywhere(bookingId: string, runnerId?: string): void;
  checkpoint(): Promise<void>;
  afterEventsStopped(): Promise<void>;
  /** Live pushes and cache hints are best effort: a failure is logged, never thrown. */
  notify(emitted: Promise<unknown>): void;
  storeFixes(batches: FixWrites[]): Promise<void>;
  onRunnerBatch(batch: DeliveredEvent[]): Promise<WriteBehind | undefined>;
  onRunnerEvent(event: DomainEvent): Promise<void>;
  createTrack(
    bookingId: string,
    ownerId: string,
    dropoff: { lat: number; lng: number } | null,
  ): Promise<void>;
  onBookingRequested(event: DomainEvent): Promise<void>;
  onBookingAccepted(event: DomainEvent): Promise<void>;
  onBookingDelivered(event: DomainEvent): Promise<void>;
  onDeliveryConfirmed(event: DomainEvent): Promise<void>;
  onBookingCancelled(event: DomainEvent): Promise<void>;
}

type TrackingThis = Service &
  MongoThis<typeof models> &
  DomainEventsMethods &
  TrackingMethods &
  TrackingVars;
const action = actionsOf<TrackingThis>();

const trackIdOf = (bookingId: string) => `trk-${bookingId}`;

/** A cached track is re-read after this long, in case another instance closed it. */
const CACHE_TTL_MS = 30_000;
/** How often moved tracks have their state saved (see `checkpoint`). */
const CHECKPOINT_EVERY_MS = 10_000;
/**
 * A write of fixes waits this long for more: fewer, larger database transactions and produce
 * requests. The live push does not wait; the offsets' commit waits this much longer.
 */
const STORE_LINGER_MS = 50;
/** Beyond this many batches (of up to 500 fixes) waiting to be stored, the consumer waits. */
const MAX_UNSTORED_BATCHES = 20;
/** The longest a fix consumer waits on the write behind it (backpressure, one-by-one fallback). */
const STORE_WAIT_MS = 5_000;
/** The admin room hears each runner's position at most this often. */
const ADMIN_PUSH_EVERY_MS = 5_000;
const round3 = (km: number) => Math.round(km * 1000) / 1000;

/** True once `promise` resolved within `ms`; false if it rejected or took longer. */
async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stored = await Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return stored;
}

/**
 * Trips: a track per accepted booking, built from the runners' GPS stream.
 *
 * The fix path takes `runner.events` a fetched batch at a time: each fix is judged by the pure
 * filter (domain/tracking.ts) against the track's last state, and accepted fixes are pushed to
 * the booking's live room at once. The batch's waypoints (each carrying the track's running
 * state) and `tracking.updated` events are then written behind: the consumer goes on to the next
 * batch while they are stored, batches queued meanwhile go together (one insertMany, one
 * produce), and the offsets are committed only once they are stored. A replayed fix is not newer
 * than the track's last one, and its waypoint id is taken, so it adds nothing. (Waypoints stored
 * before ids put the time first are not matched by id: a fix stored under both, which only a
 * crash across that upgrade causes, is listed once but counted twice in `waypoint_count`.)
 */
const TrackingService: ServiceSchema<
  ServiceSettingSchema,
  DomainEventsMethods & TrackingMethods,
  MongoThis<typeof models> & TrackingVars
> = {
  name: "tracking",
  mixins: [
    DomainEvents({
      source: "tracking",
      outbox: ["tracks"],
      // Every handler is a write guarded on the track's status or keyed by id (the track is
      // `trk-<booking>`, a waypoint `<time>:<track>`): a repeat changes nothing.
      deduplicate: false,
      consume: {
        "service-tracking-bookings": {
          "booking.requested": "onBookingRequested",
          "booking.accepted": "onBookingAccepted",
          "booking.delivered": "onBookingDelivered",
          "booking.delivery_confirmed": "onDeliveryConfirmed",
          "booking.cancelled": "onBookingCancelled",
        },
        "service-tracking-runners": {
          "runner.location_update": "onRunnerEvent",
          "runner.online": "onRunnerEvent",
          "runner.offline": "onRunnerEvent",
        },
      },
      batch: { "service-tracking-runners": "onRunnerBatch" },
    }),
    MongoMixin({ db: "tracking", models }),
  ],

  actions: {
    /** A booking's trip for its owner, its runner or an admin: totals, ETA, latest waypoints. */
    get: action({
      roles: ["owner", "runner", "admin"],
      params: TrackParams,
      async handler(ctx) {
        const caller = callerOf(ctx);
        const track = await this.models.tracks
          .findOne({ booking_id: ctx.params.id }, { outbox: 0 })
          .lean<TrackDoc>();
        const participant =
          track &&
          (caller.role === "admin" ||
            caller.sub === track.owner_id ||
            caller.sub === track.runner_id);
        if (!track || !participant) throw notFound("Track");
        const [latest, count] = await Promise.all([
          this.models.waypoints
            .find({ track_id: track._id })
            .sort({ recorded_at: -1 })
            .limit(ctx.params.limit)
            .lean<WaypointDoc[]>(),
          this.models.waypoints.countDocuments({ track_id: track._id }),
        ]);
        // A fix stored under the `<track>:<time>` ids of before and judged again after a crash
        // across the upgrade has two rows: the list shows it once.
        const points = latest.filter(
          (point, i) =>
            i === 0 || point.recorded_at.getTime() !== latest[i - 1].recorded_at.getTime(),
        );
        const last = points[0];
        return {
          track_id: track._id,
          booking_id: track.booking_id,
          status: track.status,
          total_distance_km: round3(track.total_distance_km ?? last?.total_distance_km ?? 0),
          eta_seconds: track.status === "completed" ? 0 : (last?.eta_seconds ?? null),
          started_at: track.started_at?.toISOString() ?? null,
          completed_at: track.completed_at?.toISOString() ?? null,
          waypoint_count: count,
          waypoints: points.reverse().map((point) => ({
            lat: point.lat,
            lng: point.lng,
            speed_kmh: point.speed_kmh,
            heading_degrees: point.heading_degrees,
            recorded_at: point.recorded_at.toISOString(),
          })),
        };
      },
    }),

    /** Who may watch a booking's live room: its owner, its runner, an admin. */
    mayWatch: {
      visibility: "public", // other services may call it; the gateway may not
      params: { booking_id: "string", user_id: "string", role: "string" },
      async handler(
        this: TrackingThis,
        ctx: Context<{ booking_id: string; user_id: string; role: string }>,
      ) {
        const { booking_id, user_id, role } = ctx.params;
        const track = await this.models.tracks
          .findOne({ booking_id }, { owner_id: 1, runner_id: 1 })
          .lean<Pick<TrackDoc, "owner_id" | "runner_id">>();
        if (!track) return { ok: false };
        return {
          ok: role === "admin" || user_id === track.owner_id || user_id === track.runner_id,
        };
      },
    },
  },

  events: {
    /** Another instance closed a track: drop the cached copy. */
    "tracking.forget"(
      this: TrackingThis,
      ctx: Context<{ booking_id: string; runner_id?: string }>,
    ) {
      this.forget(ctx.params.booking_id, ctx.params.runner_id);
    },
  },

  created() {
    const { tracking } = runtimeOf(this.broker).config;
    this.policy = { ...DEFAULT_TRACKING_POLICY, maxSpeedKmh: tracking.maxSpeedKmh };
    this.active = new Map();
    this.byRunner = new Map();
    this.lastAdminPush = new Map();
    this.fixWriter = new GroupCommit(
      (batches) => this.storeFixes(batches),
      { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2 },
      (error, attempt) => this.logger.warn(`storing fixes failed (attempt ${attempt})`, error),
      STORE_LINGER_MS,
    );
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.tracking.fixes",
      labelNames: ["result"],
      description: "GPS fixes judged by the tracking service: accepted, or why dropped",
    });
  },

  started() {
    const tick = () => {
      this.checkpointing = this.checkpoint().finally(() => {
        if (this.checkpointTimer) this.checkpointTimer = setTimeout(tick, CHECKPOINT_EVERY_MS);
      });
    };
    this.checkpointTimer = setTimeout(tick, CHECKPOINT_EVERY_MS);
  },

  async stopped() {
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await this.checkpointing;
  },

  methods: {
    /**
     * The active track a fix belongs to: the one it names, else the runner's latest. Kept in
     * memory; past CACHE_TTL_MS its status is looked up again (by _id: cheap on any backend),
     * in case another instance closed it. A track not in memory starts from its checkpoint.
     */
    async trackOf(runnerId: string, bookingId: string | undefined) {
      const key = bookingId ?? this.byRunner.get(runnerId);
      const cached = key ? this.active.get(key) : undefined;
      if (cached) {
        if (Date.now() - cached.loadedAt >= CACHE_TTL_MS) {
          cached.loadedAt = Date.now(); // one look at a time, off the fix path
          this.notify(this.revalidate(cached));
        }
        return cached.runnerId === runnerId ? cached : null;
      }
      const doc = bookingId
        ? await this.models.tracks.findById(trackIdOf(bookingId), { outbox: 0 }).lean<TrackDoc>()
        : await this.models.tracks
            .findOne({ runner_id: runnerId, status: "active" }, { outbox: 0 })
            .sort({ started_at: -1 })
            .lean<TrackDoc>();
      if (!doc || doc.status !== "active" || doc.runner_id !== runnerId) {
        if (key) this.forget(key);
        return null;
      }
      const track: CachedTrack = {
        id: doc._id,
        bookingId: doc.booking_id,
        runnerId,
        dropoff: doc.dropoff,
        live: { state: doc.state ?? emptyTrack(), eta: doc.eta_seconds },
        stored: { state: doc.state ?? emptyTrack(), eta: doc.eta_seconds },
        loadedAt: Date.now(),
        dirty: false,
      };
      this.active.set(doc.booking_id, track);
      if (!bookingId) this.byRunner.set(runnerId, doc.booking_id);
      return track;
    },

    /** Drops a cached track that is no longer active for its runner (another instance moved it). */
    async revalidate(track: CachedTrack) {
      const doc = await this.models.tracks
        .findById(track.id, { status: 1, runner_id: 1 })
        .lean<Pick<TrackDoc, "status" | "runner_id">>();
      if (doc?.status !== "active" || doc.runner_id !== track.runnerId) {
        this.forget(track.bookingId, track.runnerId);
      }
    },

    /** Called by DomainEvents once the consumers have stopped: what is left, stored; a checkpoint. */
    async afterEventsStopped() {
      await this.fixWriter.close();
      await this.checkpoint();
    },

    /**
     * Saves the stored state of tracks that moved since the last checkpoint, one update by _id
     * each. Off the fix path on purpose: every stored fix is in a waypoint already, and a track
     * reloaded after a crash continues from here (the distance of fixes since then is measured
     * from the checkpoint's position). Never a state ahead of the stored fixes: fixes not yet
     * stored are read again after a crash, and must not look old against it.
     */
    async checkpoint() {
      const now = new Date();
      for (const [runnerId, at] of this.lastAdminPush) {
        if (now.getTime() - at > 10 * ADMIN_PUSH_EVERY_MS) this.lastAdminPush.delete(runnerId);
      }
      // One update at a time: the process's one connection stays free for the fix path in between.
      for (const track of this.active.values()) {
        if (!track.dirty) continue;
        track.dirty = false;
        await this.models.tracks
          .updateOne(
            { _id: track.id, status: "active" },
            {
              $set: { state: track.stored.state, eta_seconds: track.stored.eta, updated_at: now },
            },
          )
          .catch((error: unknown) => {
            track.dirty = true;
            this.logger.warn(`checkpoint of ${track.id} failed`, error);
          });
      }
    },

    notify(emitted: Promise<unknown>) {
      emitted.catch((error: unknown) => this.logger.warn("live push failed", error));
    },

    /** Every instance drops the booking's cached track (the trip's state changed). */
    forgetEverywhere(bookingId: string, runnerId?: string) {
      this.notify(
        this.broker.broadcast("tracking.forget", {
          booking_id: bookingId,
          ...(runnerId ? { runner_id: runnerId } : {}),
        }),
      );
    },

    forget(bookingId: string, runnerId?: string | null) {
      const cached = this.active.get(bookingId);
      this.active.delete(bookingId);
      const runner = runnerId ?? cached?.runnerId;
      if (runner && this.byRunner.get(runner) === bookingId) this.byRunner.delete(runner);
    },

    /** One event (a batch that failed goes this way): handled when its fix is stored. */
    async onRunnerEvent(event: DomainEvent) {
      const behind = await this.onRunnerBatch([
        {
          event,
          meta: { topic: TOPICS.runner, partition: -1, offset: "-1", groupId: "", attempt: 1 },
        },
      ]);
      // Bounded, so a database that stays away ends in the usual retries and dead letter
      // (the queued write still lands if it comes back: it is keyed by the fix).
      if (behind && !(await settledWithin(behind.durable, STORE_WAIT_MS))) {
        throw new Error(`fix ${event.id} not stored within ${STORE_WAIT_MS} ms`);
      }
    },

    async onRunnerBatch(batch: DeliveredEvent[]) {
      const now = new Date();
      const waypoints: WaypointDoc[] = [];
      const updates: DomainEvent[] = [];
      const live: LiveFix[] = [];
      const runners: LiveRunnerChange[] = [];
      /** New progress per track, applied to the cache once every fix is judged. */
      const pending = new Map<CachedTrack, Progress>();
      const counts = new Map<"accepted" | "no_track" | FixRejection, number>();
      const count = (result: "accepted" | "no_track" | FixRejection) =>
        counts.set(result, (counts.get(result) ?? 0) + 1);

      for (const { event } of batch) {
        if (event.type === "runner.online" || event.type === "runner.offline") {
          const data = event.data as DomainEvent<"runner.online">["data"];
          runners.push({
            kind: event.type === "runner.online" ? "online" : "offline",
            runner_id: data.runner_id,
            ...(event.type === "runner.online" ? { lat: data.latitude, lng: data.longitude } : {}),
            at: data.occurred_at,
          });
          continue;
        }
        if (event.type !== "runner.location_update") continue;
        const data = event.data as DomainEvent<"runner.location_update">["data"];
        const track = await this.trackOf(data.runner_id, data.booking_id);
        if (!track) {
          count("no_track");
          continue;
        }
        const fix = {
          lat: data.latitude,
          lng: data.longitude,
          speed_kmh: data.speed_kmh,
          heading_degrees: data.heading_degrees,
          recorded_at: new Date(data.timestamp),
        };
        const dropoff = track.dropoff ?? fix;
        const before = pending.get(track)?.state ?? track.live.state;
        const verdict = applyFix(before, fix, dropoff, now, this.policy);
        if (!verdict.ok) {
          count(verdict.reason);
          continue;
        }
        count("accepted");
        const eta = track.dropoff ? verdict.eta_seconds : null;
        pending.set(track, { state: verdict.state, eta });
        const key = `${track.id}:${fix.recorded_at.getTime()}`;
        waypoints.push({
          _id: waypointId(track.id, fix.recorded_at),
          track_id: track.id,
          lat: fix.lat,
          lng: fix.lng,
          speed_kmh: data.speed_kmh ?? null,
          heading_degrees: data.heading_degrees ?? null,
          recorded_at: fix.recorded_at,
          total_distance_km: verdict.state.total_distance_km,
          eta_seconds: eta,
        });
        const at = fix.recorded_at.toISOString();
        live.push({
          booking_id: track.bookingId,
          lat: fix.lat,
          lng: fix.lng,
          speed_kmh: verdict.speed_kmh,
          heading_degrees: data.heading_degrees ?? null,
          recorded_at: at,
          total_distance_km: round3(verdict.state.total_distance_km),
          eta_seconds: eta,
        });
        updates.push(
          // The id follows from the fix, so a fix judged twice publishes the same event.
          createEvent(
            "tracking.updated",
            {
              track_id: track.id,
              booking_id: track.bookingId,
              runner_id: data.runner_id,
              latitude: fix.lat,
              longitude: fix.lng,
              speed_kmh: Math.min(1000, verdict.speed_kmh),
              occurred_at: now.toISOString(),
            },
            { service: "tracking", id: nameUuid(key) },
          ),
        );
        const pushed = this.lastAdminPush.get(data.runner_id) ?? 0;
        if (now.getTime() - pushed >= ADMIN_PUSH_EVERY_MS) {
          this.lastAdminPush.set(data.runner_id, now.getTime());
          runners.push({
            kind: "location",
            runner_id: data.runner_id,
            lat: fix.lat,
            lng: fix.lng,
            at,
          });
        }
      }

      // Watchers first: the live channel should not wait for the database. Broadcast: every
      // gateway pushes to its own sockets, with no second trip through the socket.io adapter.
      if (live.length > 0) this.notify(this.broker.broadcast("live.tracks", { fixes: live }));
      if (runners.length > 0) {
        this.notify(this.broker.broadcast("live.runners", { changes: runners }));
      }
      for (const [result, n] of counts) {
        this.broker.metrics.increment("kilat.tracking.fixes", { result }, n);
      }
      if (pending.size === 0) return undefined;

      // Nothing above changed the cache, so a throw there lets the batch be judged again (one by
      // one) against the same states. From here on nothing throws: the next batch is judged
      // against this one while it is being stored.
      for (const [track, next] of pending) track.live = next;
      const durable = this.fixWriter.add([{ waypoints, updates, progress: pending }]);
      // Backpressure, bounded: the consumer heartbeats between batches.
      if (this.fixWriter.backlog > MAX_UNSTORED_BATCHES)
        await settledWithin(durable, STORE_WAIT_MS);
      return { durable };
    },

    /** The write behind the fix path: batches queued together, one insertMany and one produce. */
    async storeFixes(batches: FixWrites[]) {
      await Promise.all([
        // The driver, not mongoose: the documents are built right here, nothing to cast.
        this.models.waypoints.collection
          .insertMany(
            batches.flatMap((batch) => batch.waypoints) as unknown as Record<string, unknown>[],
            { ordered: false },
          )
          .catch(ignoreDuplicateKey),
        runtimeOf(this.broker).bus.publish(
          TOPICS.tracking,
          batches.flatMap((batch) => batch.updates),
        ),
      ]);
      for (const batch of batches) {
        for (const [track, stored] of batch.progress) {
          track.stored = stored;
          track.dirty = true;
        }
      }
    },

    /** The drop-off is known from the request on: the ETA needs it. */
    async onBookingRequested(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.requested">["data"];
      await this.createTrack(data.booking_id, data.owner_id, {
        lat: data.dropoff_lat,
        lng: data.dropoff_lng,
      });
    },

    /** A runner took the booking: the trip starts, `tracking.started`. */
    async onBookingAccepted(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.accepted">["data"];
      const trackId = trackIdOf(data.booking_id);
      const now = new Date();
      // Same partition as the request, so it was seen first — unless it predates this service.
      await this.createTrack(data.booking_id, data.owner_id, null);
      const started = this.domainEvent("tracking.started", {
        track_id: trackId,
        booking_id: data.booking_id,
        runner_id: data.runner_id,
        owner_id: data.owner_id,
        started_at: now.toISOString(),
        occurred_at: now.toISOString(),
      });
      const moved = await guardedUpdate(
        this.models.tracks,
        { _id: trackId, status: "pending" },
        { status: "active", runner_id: data.runner_id, started_at: now, updated_at: now },
        [started],
      );
      if (moved) this.outboxRelay(this.models.tracks).flushSoon(trackId);
      this.forgetEverywhere(data.booking_id, data.runner_id);
    },

    /** Creates a booking's pending track once; a repeat (or a later call) changes nothing. */
    async createTrack(
      bookingId: string,
      ownerId: string,
      dropoff: { lat: number; lng: number } | null,
    ) {
      const now = new Date();
      await this.models.tracks
        .create({
          _id: trackIdOf(bookingId),
          booking_id: bookingId,
          owner_id: ownerId,
          runner_id: null,
          status: "pending",
          dropoff,
          state: null,
          eta_seconds: null,
          total_distance_km: null,
          started_at: null,
          completed_at: null,
          created_at: now,
          updated_at: now,
          outbox: [],
        })
        .catch(ignoreDuplicateKey);
    },

    /** The pet is handed over: the runner is free, its next fixes belong to its next trip. */
    async onBookingDelivered(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.delivered">["data"];
      await this.models.tracks.updateOne(
        { _id: trackIdOf(data.booking_id), status: "active" },
        { $set: { status: "delivered", updated_at: new Date() } },
      );
      this.forgetEverywhere(data.booking_id, data.runner_id);
    },

    /** The owner confirmed: the trip is over, `tracking.completed` with its distance. */
    async onDeliveryConfirmed(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.delivery_confirmed">["data"];
      const trackId = trackIdOf(data.booking_id);
      if (!(await this.models.tracks.exists({ _id: trackId }))) return;
      const last = await this.models.waypoints
        .findOne({ track_id: trackId })
        .sort({ recorded_at: -1 })
        .lean<WaypointDoc>();
      const total = round3(last?.total_distance_km ?? 0);
      const now = new Date();
      const completed = this.domainEvent("tracking.completed", {
        track_id: trackId,
        booking_id: data.booking_id,
        runner_id: data.runner_id,
        owner_id: data.owner_id,
        total_distance_km: total,
        completed_at: now.toISOString(),
        occurred_at: now.toISOString(),
      });
      const moved = await guardedUpdate(
        this.models.tracks,
        { _id: trackId, status: { $in: ["active", "delivered"] } },
        { status: "completed", completed_at: now, total_distance_km: total, updated_at: now },
        [completed],
      );
      if (moved) this.outboxRelay(this.models.tracks).flushSoon(trackId);
      this.forgetEverywhere(data.booking_id, data.runner_id);
    },

    async onBookingCancelled(event: DomainEvent) {
      const data = event.data as DomainEvent<"booking.cancelled">["data"];
      await this.models.tracks.updateOne(
        { _id: trackIdOf(data.booking_id), status: { $in: ["pending", "active", "delivered"] } },
        { $set: { status: "cancelled", completed_at: new Date(), updated_at: new Date() } },
      );
      this.forgetEverywhere(data.booking_id);
    },
  },
};

export default TrackingService;
