/**
 * What the chaos suite sends while it kills processes: booking lifecycles driven as an app
 * drives them (retrying a write that got no answer, as the README's "Retries" allows), steady
 * reads, and per-service probes. Every request is timed into a Recorder. The runners are
 * verified in set-up, between rounds (only verified runners may accept); a lifecycle's photos
 * and PIN, which pickup and deliver need, are part of it.
 */
import { randomUUID } from "node:crypto";
import { proofPhoto, sleep, verifyRunner } from "../../bench/support";
import { signToken, type Role } from "../../lib/auth";
import { DEFAULT_JWT_SECRET } from "../../lib/config";

export interface Sample {
  /** The route as a template, e.g. `GET /api/bookings/:id`. */
  route: string;
  /** When it was sent (ms since the epoch). */
  sentAt: number;
  ms: number;
  /** The HTTP status; 0 when no answer came (connection refused or reset, timeout). */
  status: number;
  /** For a failed request: the error or the start of the body. */
  detail?: string;
}

/** Failed for the availability figures: a 5xx, a 429 (refused), or no answer at all. */
export const failed = (sample: Sample) =>
  sample.status === 0 || sample.status === 429 || sample.status >= 500;

export class Recorder {
  readonly samples: Sample[] = [];
}

type Body = Record<string, unknown>;

interface Answer {
  status: number;
  body: Body;
  sample: Sample;
}

/** Longer than the gateway's own 10 s request timeout: its 504 is what we want to see. */
const CLIENT_TIMEOUT_MS = 15_000;

const token = (role: Role, sub: string) => signToken({ role, sub }, DEFAULT_JWT_SECRET);

export class Api {
  constructor(readonly base: string) {}

  async call(
    recorder: Recorder,
    method: string,
    route: string,
    path: string,
    bearer: string,
    /** JSON, or a photo's bytes (sent as they are, as a JPEG). */
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const sentAt = Date.now();
    const started = performance.now();
    const sample: Sample = { route: `${method} ${route}`, sentAt, ms: 0, status: 0 };
    recorder.samples.push(sample);
    try {
      const photo = body instanceof Buffer ? new Uint8Array(body) : undefined;
      const response = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body === undefined
            ? {}
            : { "content-type": photo ? "image/jpeg" : "application/json" }),
          ...headers,
        },
        body: photo ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      const text = await response.text();
      sample.status = response.status;
      sample.ms = performance.now() - started;
      if (failed(sample)) sample.detail = text.slice(0, 200);
      let parsed: Body = {};
      try {
        parsed = text ? (JSON.parse(text) as Body) : {};
      } catch {
        parsed = { text };
      }
      return { status: response.status, body: parsed, sample };
    } catch (error) {
      sample.ms = performance.now() - started;
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      sample.detail = cause ?? (error as Error).name;
      return { status: 0, body: {}, sample };
    }
  }
}

const PICKUP = { lat: -6.2, lng: 106.8 };
const DROPOFF = { lat: -6.25, lng: 106.85 };
const ORDER = ["requested", "accepted", "picked_up", "in_transit", "delivered", "confirmed"];

/** Whether a booking in `status` has made the move to `target` (or gone past it). */
function reached(status: unknown, target: string): boolean {
  if (target === "cancelled") return status === "cancelled";
  if (status === "completed") return true;
  const at = ORDER.indexOf(String(status));
  return at >= 0 && at >= ORDER.indexOf(target);
}

export type Outcome = "complete" | "cancel";

/** One booking's life as the suite drove it; the money check reads it afterwards. */
export interface Trip {
  n: number;
  outcome: Outcome;
  ownerId: string;
  owner: string;
  /** The runner's id and token; verified in set-up, or by the trip itself when none was left. */
  runnerId: string;
  runner: string;
  runnerVerified: boolean;
  bookingId?: string;
  /** The recipient's PIN, from the owner's create answer. */
  pin?: string;
  price?: number;
  /** The last step reached. */
  stage: string;
  /** The runner has been online once (its profile exists). */
  runnerKnown: boolean;
  /** The trip has a track (departed). */
  tracked: boolean;
  /** Why the suite gave up driving it. */
  error?: string;
  /** The round it started in. */
  round: string;
  /** Every request it sent: when, what, the answer. */
  log: string[];
  /** Moves answered 409 although they had taken effect (the app's retry, or Moleculer's). */
  conflictsAfterEffect: number;
}

class TripFailed extends Error {}

const retryable = (status: number) => status === 0 || status === 429 || status >= 500;

/** Drives trips to their end, retrying what an app would retry, until `deadline`. */
export class Driver {
  private serial = 0;
  private runners = 0;
  /** Verified runners no trip has had yet. */
  private readonly stock: string[] = [];

  constructor(
    private readonly api: Api,
    private readonly run: string,
  ) {}

  /** Api.call, noted in the trip's log. */
  private async call(trip: Trip, ...args: Parameters<Api["call"]>): Promise<Answer> {
    const answer = await this.api.call(...args);
    const { sample } = answer;
    trip.log.push(
      `${new Date(sample.sentAt).toISOString().slice(11, 23)} ${sample.route} → ` +
        `${sample.status || sample.detail} ${Math.round(sample.ms)} ms` +
        (answer.status >= 400 ? ` ${JSON.stringify(answer.body).slice(0, 160)}` : ""),
    );
    return answer;
  }

  /**
   * Set-up, between rounds and unrecorded: verifies runners until `count` are in stock, each
   * tried a few times (the previous round's kill may still be settling). How many it verified.
   */
  async stockUp(count: number, parallel = 8): Promise<number> {
    const wanted = Array.from(
      { length: Math.max(0, count - this.stock.length) },
      () => `${this.run}-runner-${++this.runners}`,
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(parallel, wanted.length) }, async () => {
        while (next < wanted.length) {
          const sub = wanted[next++];
          for (let tries = 1; ; tries++) {
            try {
              await verifyRunner(this.api.base, sub);
              break;
            } catch (error) {
              if (tries >= 5) throw error;
              await sleep(1000);
            }
          }
          this.stock.push(sub);
        }
      }),
    );
    return wanted.length;
  }

  newTrip(outcome: Outcome, round: string): Trip {
    const n = ++this.serial;
    const ownerId = `${this.run}-owner-${n}`;
    // Only a trip that is carried needs a runner from the stock; a cancelled one never has one.
    const stocked = outcome === "complete" ? this.stock.shift() : undefined;
    const runnerId = stocked ?? `${this.run}-runner-${++this.runners}`;
    return {
      n,
      outcome,
      ownerId,
      owner: token("owner", ownerId),
      runnerId,
      runner: token("runner", runnerId),
      runnerVerified: stocked !== undefined,
      stage: "new",
      runnerKnown: false,
      tracked: false,
      round,
      log: [],
      conflictsAfterEffect: 0,
    };
  }

  /** The whole lifecycle; a trip that cannot go on keeps its error and stage. */
  async drive(trip: Trip, recorder: Recorder, deadline: number): Promise<void> {
    try {
      await this.steps(trip, recorder, deadline);
      trip.stage = trip.outcome === "cancel" ? "cancelled" : "confirmed";
    } catch (error) {
      trip.error = (error as Error).message;
    }
  }

  private async steps(trip: Trip, recorder: Recorder, deadline: number): Promise<void> {
    const key = randomUUID();
    const booking = await this.write(deadline, "create", () =>
      this.call(
        trip,
        recorder,
        "POST",
        "/api/bookings",
        "/api/bookings",
        trip.owner,
        { pet_type: "dog", pet_name: `Rex ${trip.n}`, pickup: PICKUP, dropoff: DROPOFF },
        { "idempotency-key": key },
      ),
    );
    const id = String(booking.booking_id);
    trip.bookingId = id;
    trip.price = Number(booking.estimated_price_cents);
    trip.pin = typeof booking.handover_pin === "string" ? booking.handover_pin : undefined;
    trip.stage = "requested";
    await this.write(deadline, "pay", () =>
      this.call(
        trip,
        recorder,
        "POST",
        "/api/bookings/:id/payment",
        `/api/bookings/${id}/payment`,
        trip.owner,
        {},
        { "idempotency-key": `${key}-pay` },
      ),
    );
    trip.stage = "paid";
    await this.waitFor(trip, recorder, deadline, "escrow held", (b) => b.payment_status === "held");
    trip.stage = "held";
    if (trip.outcome === "cancel") {
      await this.move(trip, recorder, deadline, "cancel", trip.owner, "cancelled", {
        reason: "chaos: plans changed",
      });
      return;
    }
    if (!trip.runnerVerified) await this.verify(trip, deadline);
    await this.goOnline(trip, recorder, deadline);
    await this.move(trip, recorder, deadline, "accept", trip.runner, "accepted");
    await this.move(trip, recorder, deadline, "pickup", trip.runner, "picked_up", {
      photo_id: await this.photo(trip, recorder, deadline, "pickup"),
    });
    await this.move(trip, recorder, deadline, "depart", trip.runner, "in_transit");
    trip.tracked = true;
    await this.move(trip, recorder, deadline, "deliver", trip.runner, "delivered", {
      photo_id: await this.photo(trip, recorder, deadline, "dropoff"),
      pin: trip.pin,
    });
    await this.move(trip, recorder, deadline, "confirm", trip.owner, "confirmed");
  }

  /**
   * A runner the stock ran out for, verified before its first trip: outside the round's figures
   * (unrecorded), retried until the trip's deadline.
   */
  private async verify(trip: Trip, deadline: number): Promise<void> {
    for (;;) {
      try {
        await verifyRunner(this.api.base, trip.runnerId);
        trip.log.push(`${new Date().toISOString().slice(11, 23)} runner verified (no stock left)`);
        trip.runnerVerified = true;
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new TripFailed(`verify the runner: ${(error as Error).message}`);
        await sleep(250);
      }
    }
  }

  /** The runner's photo of the pet at a handover: a write, sent again when it got no answer. */
  private async photo(
    trip: Trip,
    recorder: Recorder,
    deadline: number,
    stage: "pickup" | "dropoff",
  ): Promise<string> {
    return proofPhoto(
      (path, bytes) =>
        this.write(deadline, `photo (${stage})`, () =>
          this.call(trip, recorder, "POST", "/api/bookings/:id/photos", path, trip.runner, bytes),
        ),
      String(trip.bookingId),
      stage,
    );
  }

  private async goOnline(trip: Trip, recorder: Recorder, deadline: number): Promise<void> {
    await this.write(deadline, "online", () =>
      this.call(
        trip,
        recorder,
        "POST",
        "/api/runners/me/online",
        "/api/runners/me/online",
        trip.runner,
        PICKUP,
      ),
    );
    trip.runnerKnown = true;
  }

  /** A write whose retry has one effect (an Idempotency-Key, or idempotent by nature). */
  private async write(deadline: number, step: string, send: () => Promise<Answer>): Promise<Body> {
    for (;;) {
      const answer = await send();
      if (answer.status >= 200 && answer.status < 300) return answer.body;
      if (!retryable(answer.status))
        throw new TripFailed(`${step} → ${answer.status} ${JSON.stringify(answer.body)}`);
      if (Date.now() > deadline) throw new TripFailed(`${step}: no answer before the deadline`);
      await sleep(250);
    }
  }

  /**
   * A booking move. After a lost answer the booking itself says whether the move happened (a
   * repeat answers 200; a 409 naming a status the move reached is counted as a breach of that);
   * a runner that Redis forgot (restarted) goes online again.
   */
  private async move(
    trip: Trip,
    recorder: Recorder,
    deadline: number,
    action: string,
    bearer: string,
    target: string,
    body: Body = {},
  ): Promise<void> {
    const id = String(trip.bookingId);
    let lost = false;
    let refusals = 0;
    for (;;) {
      const answer = await this.call(
        trip,
        recorder,
        "POST",
        `/api/bookings/:id/${action}`,
        `/api/bookings/${id}/${action}`,
        bearer,
        body,
      );
      if (answer.status >= 200 && answer.status < 300) break;
      // The guards' answer to a move that took effect already names the status it is in.
      const status = (answer.body.data as { status?: unknown } | undefined)?.status;
      if (answer.status === 409 && reached(status, target)) {
        // A repeat of a move that took effect answers 200 (README, "Retries"): count the breach.
        trip.conflictsAfterEffect++;
        break;
      }
      if (retryable(answer.status)) {
        lost = true;
      } else {
        const now = await this.booking(trip, recorder);
        if (lost && now && reached(now.status, target)) break;
        refusals++;
        if (action !== "accept" || refusals > 3)
          throw new TripFailed(`${action} → ${answer.status} ${JSON.stringify(answer.body)}`);
        await this.goOnline(trip, recorder, deadline);
      }
      if (Date.now() > deadline) throw new TripFailed(`${action}: no answer before the deadline`);
      await sleep(250);
    }
    trip.stage = target;
  }

  private async booking(trip: Trip, recorder: Recorder): Promise<Body | undefined> {
    const answer = await this.call(
      trip,
      recorder,
      "GET",
      "/api/bookings/:id",
      `/api/bookings/${trip.bookingId}`,
      trip.owner,
    );
    return answer.status === 200 ? answer.body : undefined;
  }

  /** Polls the booking (an app refreshing its screen) until `done` holds. */
  private async waitFor(
    trip: Trip,
    recorder: Recorder,
    deadline: number,
    what: string,
    done: (booking: Body) => boolean,
  ): Promise<void> {
    for (;;) {
      const now = await this.booking(trip, recorder);
      if (now && done(now)) return;
      if (Date.now() > deadline) throw new TripFailed(`${what}: not reached before the deadline`);
      await sleep(250);
    }
  }
}

/** The five reads of the steady load, each on a trip that has what it reads. */
const READS: {
  route: string;
  path: (trip: Trip) => string;
  as: (trip: Trip) => string;
  has: (trip: Trip) => boolean;
}[] = [
  {
    route: "/api/bookings/:id",
    path: (t) => `/api/bookings/${t.bookingId}`,
    as: (t) => t.owner,
    has: (t) => t.bookingId !== undefined,
  },
  {
    route: "/api/bookings/:id/payment",
    path: (t) => `/api/bookings/${t.bookingId}/payment`,
    as: (t) => t.owner,
    has: (t) => t.stage !== "requested" && t.bookingId !== undefined,
  },
  {
    route: "/api/bookings/:id/track",
    path: (t) => `/api/bookings/${t.bookingId}/track`,
    as: (t) => t.owner,
    has: (t) => t.tracked,
  },
  {
    route: "/api/notifications",
    path: () => "/api/notifications",
    as: (t) => t.owner,
    has: (t) => t.bookingId !== undefined,
  },
  {
    route: "/api/runners/me",
    path: () => "/api/runners/me",
    as: (t) => t.runner,
    has: (t) => t.runnerKnown,
  },
];

/** The read that goes through each service (the gateway's: a booking read, the whole path). */
export const PROBE_ROUTE: Record<string, number> = {
  api: 0,
  booking: 0,
  payment: 1,
  tracking: 2,
  notification: 3,
  runner: 4,
};

/**
 * Fires a read every `everyMs` without waiting for the one before (a slow answer does not slow
 * the rate), choosing among `kinds` of READS in turn and among the trips that have what it reads.
 */
export function readLoop(
  api: Api,
  recorder: Recorder,
  trips: () => Trip[],
  everyMs: number,
  kinds = READS.map((_, i) => i),
): { stop: () => Promise<void> } {
  let i = 0;
  const inFlight = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    const read = READS[kinds[i++ % kinds.length]];
    const candidates = trips().filter(read.has);
    if (candidates.length === 0) return;
    const trip = candidates[Math.floor(Math.random() * candidates.length)];
    const call = api.call(recorder, "GET", read.route, read.path(trip), read.as(trip));
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}
