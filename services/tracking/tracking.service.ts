import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Broadcasts } from "../../contracts/broadcasts";
import { TRACKING_TUNING } from "../../config/tuning";
import { DEFAULT_TRACKING_POLICY } from "../../domain/tracking";
import { welfareSweepEveryMs } from "../../domain/welfare";
import { GroupCommit } from "../../lib/group-commit";
import { runtimeOf } from "../../lib/runtime";
import { DomainMixins } from "../../mixins/domain-events.mixin";
import { Periodic } from "../../mixins/periodic.mixin";
import * as actions from "./actions";
import { onRunnerBatch, runnerEvents } from "./fix-intake";
import { models, type TrackingThis } from "./models";
import { forgetTrack } from "./track-cache";
import { bookingEvents } from "./trips";
import { sweepWelfare } from "./welfare";
import { checkpoint, storeFixes } from "./write-behind";

/**
 * Trips: a track per accepted booking (domain/track.ts), built from the runners' GPS stream
 * (the fix path: services/tracking/fix-intake.ts, judged by domain/tracking.ts, stored by
 * write-behind.ts), and the welfare watch of trips with a pet aboard (welfare.ts).
 */
const TrackingService: ServiceSchema<ServiceSettingSchema, object, object, TrackingThis> = {
  name: "tracking",
  mixins: [
    Periodic<TrackingThis>({
      checkpoint: { everyMs: () => TRACKING_TUNING.checkpointEveryMs, run: checkpoint },
      welfare: { everyMs: (config) => welfareSweepEveryMs(config.welfare), run: sweepWelfare },
    }),
    ...DomainMixins<TrackingThis, typeof models>({
      db: "tracking",
      models,
      outbox: ["tracks"],
      // Every handler is a command guarded on the track's status or a write keyed by id (the
      // track is `trk-<booking>`, a waypoint `<time>:<track>`): a repeat changes nothing.
      deduplicate: false,
      consume: {
        "service-tracking-bookings": bookingEvents,
        "service-tracking-runners": runnerEvents,
      },
      batch: { "service-tracking-runners": onRunnerBatch },
    }),
  ],

  actions: {
    /** A booking's trip: totals, ETA, latest waypoints. */
    get: actions.get,
    /** Who may watch a booking's live room. */
    mayWatch: actions.mayWatch,
    /** For the operations page: open welfare alerts, and those cleared in the last hour. */
    welfareAlerts: actions.welfareAlerts,
    /** For the booking service: the trip's last fix at a time (a handover's position). */
    positionAt: actions.positionAt,
  },

  events: {
    /** Another instance moved a track: drop the cached copy. */
    "tracking.forget"(ctx: Context<Broadcasts["tracking.forget"]>) {
      forgetTrack(this, ctx.params.booking_id, ctx.params.runner_id);
    },
  },

  created() {
    const { tracking, welfare } = runtimeOf(this.broker).config;
    this.policy = { ...DEFAULT_TRACKING_POLICY, maxSpeedKmh: tracking.maxSpeedKmh };
    this.welfarePolicy = welfare;
    this.active = new Map();
    this.byRunner = new Map();
    this.lastAdminPush = new Map();
    this.fixWriter = new GroupCommit(
      // Write-behind: on the background pool, never holding a connection a request waits for.
      (batches) => storeFixes.call(this.$background, batches),
      TRACKING_TUNING.storeRetry,
      (error, attempt) => this.logger.warn(`storing fixes failed (attempt ${attempt})`, error),
      TRACKING_TUNING.storeLingerMs,
    );
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.tracking.fixes.total",
      labelNames: ["result"],
      description: "GPS fixes judged by the tracking service: accepted, or why dropped",
    });
  },

  methods: {
    /** Called by DomainEvents once the consumers have stopped: what is left, stored; a checkpoint. */
    async afterEventsStopped() {
      await this.fixWriter.close();
      await checkpoint.call(this);
    },
  },
};

export default TrackingService;
