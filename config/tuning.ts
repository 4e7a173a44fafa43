/**
 * The fixed tuning constants of the services and adapters, each stated once with its reason.
 * They are not read from the environment: changing one is a code change, measured with
 * `npm run bench` (figures in the README's Benchmarks section).
 */

/** GPS fixes: what the pure filter (domain/tracking.ts) takes as given. */
export const FIX_FILTER = {
  /** Phones' clocks drift; a fix further ahead of ours than this is invalid. */
  maxClockSkewMs: 30_000,
  /** EMA weight of the newest speed sample: smooth enough for a steady ETA, quick to follow. */
  smoothing: 0.3,
  /** The ETA's speed while none is measured or the runner stands still: city traffic. */
  fallbackSpeedKmh: 20,
  /** Phone GPS wanders by a few metres: smaller moves are not distance and not speed. */
  jitterKm: 0.005,
};

export const OUTBOX_TUNING = {
  /**
   * One relay sweep in this many (the first included) looks through the whole collection for
   * what a crash left; on FerretDB that query reads every document, so not every few seconds.
   */
  fullSweepEvery: 10,
  /**
   * Published entries are removed this long after (at most a quarter of the sweep interval),
   * many aggregates' removals in one write: a crash in between republishes them, which
   * consumers absorb (they dedupe by id or are guarded), while a busy relay saves a write per
   * event.
   */
  removeAfterMs: 250,
  /** A failed removal is tried again with this backoff. */
  removeRetry: { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2 },
};

export const AGGREGATE_TUNING = {
  /** Aggregates an instance remembers as it last wrote them, per kind: an hour of busy trips. */
  recentPerStore: 10_000,
};

export const BOOKING_TUNING = {
  /** An accept's runner slot whose booking is still `requested` after this was a crashed call. */
  lockGraceMs: 30_000,
  /** The auto-confirm sweep runs every quarter of the window, within these bounds. */
  autoConfirmSweepMs: { min: 100, max: 30_000 },
  /** The unpaid-booking expiry sweep runs every quarter of PAYMENT_TIMEOUT, within these bounds. */
  paymentExpirySweepMs: { min: 100, max: 30_000 },
};

export const DISPATCH_TUNING = {
  /** The dispatch sweep runs every quarter of the shortest timeout, within these bounds. */
  sweepMs: { min: 100, max: 1000 },
  /** Runners whose fix rate is tracked at once; the least recently seen are forgotten beyond. */
  rateLimitedRunners: 100_000,
  /**
   * A fix naming a booking other than the runner's active one as last read (it took another
   * since, on another instance) has the runner read again, at most this often per runner, so a
   * client naming made-up bookings costs one read a second, not one per fix.
   */
  tripRecheckMs: 1000,
  /**
   * A runner's active booking as last read is trusted this long, then read again: an instance
   * that did not see the trip end (another one freed the runner) lets the runner name the
   * finished booking, past FIX_MAX_AGE, at most this long. One read per runner in this time.
   */
  tripTrustMs: 10_000,
  /** Searching bookings looked at per sweep or per runner coming online. */
  searchBatch: 50,
  /** How often a searching booking is tried again without a runner coming online near it. */
  searchRetryMs: 10_000,
};

export const TRACKING_TUNING = {
  /** A cached track is re-read after this long, in case another instance closed it. */
  cacheTtlMs: 30_000,
  /** How often moved tracks have their state saved; fixes between are in their waypoints. */
  checkpointEveryMs: 10_000,
  /** A write of fixes waits this long for more: fewer, larger writes and produce requests. */
  storeLingerMs: 50,
  /** Beyond this many batches (of up to 500 fixes) waiting to be stored, the consumer waits. */
  maxUnstoredBatches: 20,
  /** The longest a fix consumer waits on the write behind it before it retries. */
  storeWaitMs: 5_000,
  /** The admin room hears each runner's position at most this often: a dashboard, not a trip. */
  adminPushEveryMs: 5_000,
  /** A failed write of fixes is retried with this backoff until it is stored. */
  storeRetry: { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2 },
};

export const GATEWAY_TUNING = {
  /** GPS fixes sent on and not answered; beyond it a fix is refused (shed), never queued. */
  maxFixesInFlight: 2000,
  /**
   * What a shed request's Retry-After says, in seconds: an overload that a second does not end
   * is one the next shed answers again, and a longer wait would idle a gateway that recovered.
   */
  shedRetryAfterS: 1,
  /** The window of the per-token and per-address request limits. */
  rateWindowMs: 60_000,
  /** Entries the socket.io Redis stream keeps: minutes of room messages for a gateway to resume. */
  socketStreamMaxLen: 100_000,
  /** Sockets whose event rate is tracked at once; beyond, the least recently seen start afresh. */
  socketsTracked: 100_000,
  /**
   * Room checks (a call to the tracking service) one user may have in flight on a gateway: an
   * app watches one trip at a time, and a flood of one user must not fill the tracking
   * service's bulkhead for everyone else.
   */
  roomChecksPerUser: 4,
  /**
   * The largest socket.io message (engine.io's maxHttpBufferSize; socket.io's default is 1 MB):
   * a larger one closes its connection. The largest an app sends is a `locations` batch of 500
   * fixes: 104,874 bytes with every field filled at full precision, 125,511 with the longest
   * booking id and numbers the schema takes (test/e2e/socket-limits.test.ts sends the former).
   */
  socketMaxMessageBytes: 128 * 1024,
};

export const NOTIFICATION_TUNING = {
  /** Inbox entries per write at most (what one turn of the event loop adds goes together). */
  inboxBatch: 500,
  /** Inbox records an instance remembers as it wrote them (25 entries each, about 9 kB). */
  inboxRecords: 5_000,
  /** Writes of one inbox record raced by other writers before a change gives up (and is retried). */
  inboxWriteAttempts: 20,
};

export const WEBHOOK_TUNING = {
  /** Webhooks one user may have: an integration needs a few, and each multiplies every event. */
  maxPerUser: 10,
  /** A receiver that has not answered in this long failed this attempt. */
  deliveryTimeoutMs: 5000,
  /** How often the delivery loop looks for due deliveries. */
  deliveryEveryMs: 200,
  /** How long an instance reuses the subscriptions it read (a change is also broadcast). */
  cacheMs: 5000,
  /** Deliveries in flight per instance: a slow receiver holds one slot, not the others. */
  maxInFlight: 20,
};

export const EVENT_BUS_TUNING = {
  /** A stop waits this long for the writes in hand; what is not stored goes to the next member. */
  stopWaitMs: 10_000,
  /** Kafka: records per produce request, well under the broker's message.max.bytes (1 MB). */
  maxMessagesPerRequest: 500,
  /** Kafka: how often consumed offsets are committed (a crash replays what came after). */
  commitEveryMs: 500,
  /** Kafka: what a patient consumer's fetch waits to fill (see `fetchWaitMs`). */
  lazyFetchBytes: 64 * 1024,
  /**
   * How long a consumer that skips a topic's GPS stream may wait for its fetch to fill: its
   * events come up to this much later, and the stream costs it a few fetches a second.
   */
  patientFetchMs: 100,
  /**
   * Kafka: how long a send to a topic waits for others to share its produce request, by
   * catalog topic. The GPS stream's topic lingers: a fix is worth its few milliseconds, and
   * fewer, larger requests cost the broker, the producer and every reader less. Money and
   * booking topics send at once (a send that may not wait also ends a linger in progress).
   */
  produceLingerMs: { "runner.events": 5 } as Readonly<Record<string, number>>,
  /**
   * Kafka consumer groups. A member that stops heartbeating (a killed process) loses its
   * partitions after `sessionTimeoutMs`; a rebalance waits at most `rebalanceTimeoutMs` for the
   * members to rejoin, so a restarted process joins within that even while the dead member's
   * session is still open. Live members hear of a rebalance at their next heartbeat.
   */
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 5_000,
  /** A service starts serving after this long even while its consumers are still joining. */
  joinWaitMs: 500,
};

/** How a process notices that another one died (see lib/transporter.ts). */
export const NODE_LIVENESS = {
  /**
   * One `PUBSUB NUMSUB` this often finds a killed process's node: it no longer listens (two
   * empty answers in a row, so within a second).
   */
  watchMs: 500,
  /** After this process reconnects to Redis, every node re-subscribes: none is judged meanwhile. */
  graceMs: 3_000,
  /**
   * Heartbeats still decide for what Redis cannot see (a hung process); every 2 s, so a node
   * dropped by mistake is found again quickly, and one silent for 6 s is given up.
   */
  heartbeatIntervalS: 2,
  heartbeatTimeoutS: 6,
  /**
   * A node tells the others of its services this long after the last one registered
   * (Moleculer's `transit.serviceChangedDebounceTime`, 1 s by default): a restarted process was
   * answering nothing for that second after it had started (chaos: kill → the gateway knew it
   * 5.7 s, of which 1.0 s this wait). Its services register within a few ms of each other.
   */
  serviceChangedDebounceMs: 50,
};
