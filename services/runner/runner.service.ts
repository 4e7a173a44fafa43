import { DISPATCH_TUNING } from "../../config/tuning";
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { MAX_UPLOAD_FIXES } from "../../contracts";
import { createGeoIndex } from "../../adapters/geo-index";
import { LruCache } from "../../lib/lru-cache";
import { RateLimiter } from "../../lib/rate-limit";
import { runtimeOf } from "../../lib/runtime";
import { DomainMixins } from "../../mixins/domain-events.mixin";
import { Periodic } from "../../mixins/periodic.mixin";
import * as availability from "./availability";
import { bookingEvents, paymentEvents } from "./dispatch-events";
import { models, type RunnerThis } from "./models";
import { decline } from "./offers";
import { location, locations, uploadLocations } from "./locations";
import * as profile from "./profile";
import { sweep } from "./sweep";
import * as verification from "./verification";

/**
 * Runners: profile, capabilities and verification, availability (domain/runner.ts), the GPS
 * stream and dispatch (domain/dispatch.ts) to runners who may carry the pets (domain/eligibility.ts).
 *
 * Positions live in the geo index (Redis GEO when REDIS_URL is set): they change every few
 * seconds, and the index answers "who is near" without touching the database. Availability
 * changes a few times per booking and lives in the runner's document, where one guarded write
 * claims a runner for an offer. Dispatch state lives per booking; the offer (`runner.assigned`)
 * goes out of its outbox with the write that makes it.
 */
const RunnerService: ServiceSchema<ServiceSettingSchema, object, object, RunnerThis> = {
  name: "runner",
  mixins: [
    Periodic<RunnerThis>({
      dispatchSweep: {
        everyMs: ({ dispatch }) => {
          const { min, max } = DISPATCH_TUNING.sweepMs;
          const quarter = Math.min(dispatch.offerTimeoutMs, dispatch.runnerStaleAfterMs) / 4;
          return Math.max(min, Math.min(max, quarter));
        },
        run: sweep,
      },
    }),
    ...DomainMixins<RunnerThis, typeof models>({
      db: "runner",
      models,
      // Every handler is a command decided on the dispatch's or the runner's state: a repeated
      // event writes what is there already, and offers nothing twice.
      deduplicate: false,
      outbox: ["runners", "dispatches"],
      consume: {
        "service-runner-payments": paymentEvents,
        "service-runner-bookings": bookingEvents,
      },
    }),
  ],

  actions: {
    /** The caller's runner profile (created on first use). */
    me: profile.me,
    /** Name, vehicle, what it can carry, and the Stripe connected account payouts go to. */
    updateProfile: profile.updateProfile,
    /** A photo of one of the caller's documents, for its verification. */
    uploadDocument: verification.uploadDocument,
    /** One of a runner's documents, to that runner or an admin. */
    document: verification.document,
    /** The caller asks to be verified with its documents: pending. */
    requestVerification: verification.requestVerification,
    /** Admin: the runners who asked for verification, pending first. */
    verificationQueue: verification.verificationQueue,
    /** Admin: verifies or rejects a pending request: `runner.verification_decided`. */
    decideVerification: verification.decideVerification,
    /** Starts taking jobs at a position: `runner.online`. */
    online: availability.online,
    /** Stops taking jobs: `runner.offline`; refused during an active booking. */
    offline: availability.offline,
    /** For the booking service's accept: busy on the booking, refused unless verified, able, online. */
    claim: availability.claim,
    /** For the booking service: gives back the claim of an accept that lost its race. */
    release: availability.release,
    /** One GPS fix: `runner.location_update`, 202 once Kafka has it. */
    location,
    /** The fixes a gateway's sockets sent in one tick, judged one by one. */
    locations,
    /** A runner's buffered fixes (recorded offline), oldest first, answered fix by fix. */
    uploadLocations,
    /** The caller's open offer (at most one). */
    offers: profile.offers,
    /** Turns the offer down: it moves to the next nearest runner. */
    decline,
    /** Admin: online runners near a point, nearest first. */
    nearby: profile.nearby,
    /** Admin dashboard: every runner online or busy. */
    listOnline: profile.listOnline,
    /** For the payment service: where a runner's payout goes. */
    payoutAccount: profile.payoutAccount,
    /** For a share link's page: the runner's first name. */
    firstName: profile.firstName,
  },

  created() {
    const { config } = runtimeOf(this.broker);
    this.lastSearchRetry = 0;
    this.dispatching = new Map();
    this.limiter = new RateLimiter({
      ratePerSec: config.tracking.locationRatePerSec,
      burst: Math.max(1, Math.ceil(config.tracking.locationRatePerSec)),
      maxKeys: DISPATCH_TUNING.rateLimitedRunners,
    });
    const { locationArrivalsPerSec } = config.tracking;
    this.arrivals = new RateLimiter({
      ratePerSec: locationArrivalsPerSec,
      // A full upload after a quiet spell goes through at once.
      burst: Math.max(MAX_UPLOAD_FIXES, Math.ceil(locationArrivalsPerSec)),
      maxKeys: DISPATCH_TUNING.rateLimitedRunners,
    });
    this.trips = new LruCache(DISPATCH_TUNING.rateLimitedRunners);
    const { index, close } = createGeoIndex({
      redisUrl: config.redisUrl,
      key: `${config.mongoDbPrefix}:runners`,
      staleAfterMs: config.dispatch.runnerStaleAfterMs,
    });
    this.geo = index;
    this.closeGeo = close;
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.runner.location.accepted.total",
      description: "GPS fixes accepted and published",
    });
    this.broker.metrics.register({
      type: "counter",
      name: "kilat.runner.location.dropped.total",
      labelNames: ["reason"],
      description: "GPS fixes dropped before publishing (rate, arrivals, stale)",
    });
  },

  methods: {
    /** Called by DomainEvents once the consumers have stopped: they use the index. */
    async afterEventsStopped() {
      await this.closeGeo();
    },
  },
};

export default RunnerService;
