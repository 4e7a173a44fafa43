import { randomUUID } from "node:crypto";
import {
  Errors,
  type ActionSchema,
  type ServiceSchema,
  type ServiceSettingSchema,
} from "moleculer";
import { BOOKING_TUNING } from "../../config/tuning";
import { MOVE_ACTIONS, PUBLIC_MOVES } from "../../contracts";
import {
  MOVES,
  decide,
  freesRunner,
  slotIsFree,
  type BookingMove,
  type MoveName,
} from "../../domain/booking";
import { reject } from "../../domain/decider";
import type { PetNeeds } from "../../domain/pets";
import { actionsOf, callerOf, orThrow } from "../../lib/action";
import type { CommandHooks, Taken } from "../../lib/aggregate";
import { broadcast } from "../../lib/broadcast";
import { ignoreDuplicateKey } from "../../lib/mongo";
import { runtimeOf } from "../../lib/runtime";
import { DomainMixins } from "../../mixins/domain-events.mixin";
import { Periodic } from "../../mixins/periodic.mixin";
import type { BookingDoc } from "../../models/booking.model";
import type { RunnerLockDoc } from "../../models/runner-lock.model";
import * as actions from "./actions";
import * as pets from "./pets";
import * as photos from "./photos";
import * as ratings from "./ratings";
import { handoverCommand, handoverEvidence, handoverLocks, unlockHandover } from "./handover";
import * as share from "./share";
import * as disputes from "./disputes";
import * as noShow from "./no-show";
import { releaseRunner } from "./release-runner";
import { autoConfirmDue, cancelOverdue, expireUnpaid } from "./deadlines";
import { bookingsOf, models, toEntity, type BookingThis } from "./models";
import { paymentEvents } from "./saga";

const action = actionsOf<BookingThis>();

/** A deadline sweep runs every quarter of its window, within its bounds: none is late by more. */
const quarterOf = (windowMs: number, { min, max }: { min: number; max: number }) =>
  Math.min(max, Math.max(min, Math.floor(windowMs / 4)));

/** A move through the public API (`POST /api/bookings/:id/<move>`): every one the same shape. */
const moveAction = (type: MoveName): ActionSchema<BookingThis> =>
  action(MOVE_ACTIONS[type], async function (ctx) {
    const { params } = ctx;
    const reason = "reason" in params ? params.reason : undefined;
    const actor = callerOf(ctx);
    const { command, known } = await handoverCommand(
      this,
      params.id,
      {
        type,
        actor,
        at: new Date(),
        autoConfirmAfterMs: runtimeOf(this.broker).config.autoConfirmAfterMs,
        ...(reason === undefined ? {} : { reason }),
      },
      {
        ...("photo_id" in params ? { photo_id: params.photo_id } : {}),
        ...("pin" in params ? { pin: params.pin } : {}),
      },
    );
    return toEntity(orThrow(await this.move(params.id, command, known)), actor);
  });

/**
 * Bookings: an owner's request, its moves (the table of domain/booking.ts), and what the escrow
 * saga reports. Each move is one write guarded on what it was decided from, carrying its event
 * in the booking's outbox (lib/aggregate.ts).
 */
const BookingService: ServiceSchema<ServiceSettingSchema, object, object, BookingThis> = {
  name: "booking",
  mixins: [
    Periodic<BookingThis>({
      autoConfirm: {
        everyMs: ({ autoConfirmAfterMs }) =>
          quarterOf(autoConfirmAfterMs, BOOKING_TUNING.autoConfirmSweepMs),
        run: autoConfirmDue,
      },
      paymentExpiry: {
        everyMs: ({ paymentTimeoutMs }) =>
          quarterOf(paymentTimeoutMs, BOOKING_TUNING.paymentExpirySweepMs),
        run: expireUnpaid,
      },
      acceptExpiry: {
        everyMs: ({ acceptTimeoutMs }) =>
          quarterOf(acceptTimeoutMs, BOOKING_TUNING.paymentExpirySweepMs),
        run: cancelOverdue,
      },
      ratingReveal: { everyMs: ratings.revealEveryMs, run: ratings.revealDue },
    }),
    ...DomainMixins<BookingThis, typeof models>({
      db: "booking",
      models,
      // Every handler is a command decided on the booking's state: a repeated payment event
      // finds it recorded (or the booking completed) and changes nothing.
      deduplicate: false,
      outbox: ["bookings", "ratings"],
      consume: { "service-booking-payments": paymentEvents },
    }),
  ],

  actions: {
    /** Owner books a runner: `booking.requested`. */
    create: actions.create,
    /** One booking, to whoever may see it. */
    get: actions.get,
    /** The caller's bookings, newest first. */
    list: actions.list,
    /** An owner's pets: their profiles, vaccinations and the photos of their certificates. */
    petCreate: pets.petCreate,
    petList: pets.petList,
    petGet: pets.petGet,
    petUpdate: pets.petUpdate,
    petDelete: pets.petDelete,
    petVaccinate: pets.petVaccinate,
    petPhotoUpload: pets.petPhotoUpload,
    petPhoto: pets.petPhoto,
    /** The runner's photos of the handovers, and each one to the booking's parties. */
    uploadPhoto: photos.uploadPhoto,
    photo: photos.photo,
    /** An admin lets a handover locked by wrong PINs be tried again; the locked ones, listed. */
    unlockHandover,
    handoverLocks,
    /** Internal: the handover proof, as a card dispute's evidence. */
    handoverEvidence,
    /** Read-only links to a trip for someone without an account. */
    shareCreate: share.create,
    shareList: share.list,
    shareRevoke: share.revoke,
    shared: share.view,
    /** Ratings after a trip: each party rates the other once, shown double-blind. */
    rate: ratings.rate,
    ratings: ratings.ratings,
    /** The moves of the table that callers make (accept, pickup, …): one action each. */
    ...Object.fromEntries(PUBLIC_MOVES.map((type) => [type, moveAction(type)])),
    /** A dispute's moves check more than their rows (reasons, photos, refund); open ones listed. */
    dispute: disputes.dispute,
    resolve: disputes.resolve,
    disputes: disputes.disputes,
    /** No-shows: the runner's arrival, nobody there, the pet handed back (domain/no-show.ts). */
    ...noShow.NO_SHOW_HANDLERS,
  },

  methods: {
    /**
     * A move, through the one command handler: a write lost to another move is a conflict
     * (409), unless that move was this one (a double tap), which is answered like the first. Moves that assign the runner take its slot
     * and claim it first (`assigning`); after every move, the runner's slot is freed when its
     * hands are, and the trip's watchers are told.
     */
    move(this: BookingThis, id: string, command: BookingMove, known?: BookingDoc | null) {
      const hooks: CommandHooks<BookingDoc> = {
        ...("assigns" in MOVES[command.type] ? assigning(this, id, command) : {}),
        after: (saved) => moved(this, id, saved.before, saved.state),
      };
      return bookingsOf(this).execute(id, decide, () => command, {
        hooks,
        ...(known === undefined ? {} : { known }),
      });
    },
  },
};

export default BookingService;

/** After a move: the runner's slot freed when its hands are, and the trip's watchers told. */
async function moved(service: BookingThis, id: string, before: BookingDoc | null, now: BookingDoc) {
  const runnerId = before?.runner_id;
  if (runnerId && freesRunner(now.status)) {
    await service.models.runnerLocks.deleteOne({ _id: runnerId, booking_id: id });
  }
  broadcast(service.broker, service.logger, "live.booking", { booking_id: id, status: now.status });
}

/**
 * Before a move that assigns the runner: its one active-booking slot is taken and the runner
 * claimed (busy on the booking, refused unless online); a write lost to anything but the same
 * runner's move gives both back.
 */
function assigning(
  service: BookingThis,
  id: string,
  command: BookingMove,
): CommandHooks<BookingDoc> {
  const runnerId = command.actor.sub;
  return {
    async before(booking): Promise<Taken<BookingDoc>> {
      const slot = await takeSlot(service, runnerId, id);
      if (slot === null) {
        return reject("conflict", "Finish your current booking before accepting another");
      }
      await claimRunner(service, { runnerId, bookingId: id, at: command.at, slot }, booking?.needs);
      return {
        ok: true,
        // Lost to the same runner's move (a double tap, a retry): the claim and slot are the
        // winner's too, and stay.
        async undo(now) {
          if (now?.runner_id === runnerId) return;
          await releaseRunner(service, runnerId, id);
          await service.models.runnerLocks.deleteOne({ _id: runnerId, token: slot });
        },
      };
    },
  };
}
/**
 * Takes the runner's one active-booking slot for this accept call: an insert keyed by the
 * runner, so of two accepts at the same moment of two bookings one wins. Returns the call's
 * token, or null. A slot is taken over when `slotIsFree` says so, or when it names this very
 * booking while it is still open: a double tap, or this accept run again after a crash left
 * the slot taken (and the runner claimed) but the booking unsaved. The guarded write of the
 * booking then decides which call wins.
 */
async function takeSlot(
  service: BookingThis,
  runnerId: string,
  bookingId: string,
): Promise<string | null> {
  const { runnerLocks } = service.models;
  const token = randomUUID();
  // A few tries: the slot may be released or taken over between the reads and the write.
  for (let tries = 0; tries < 3; tries++) {
    try {
      await runnerLocks.create({
        _id: runnerId,
        booking_id: bookingId,
        token,
        taken_at: new Date(),
      });
      return token;
    } catch (error) {
      ignoreDuplicateKey(error);
    }
    const lock = await runnerLocks.findById(runnerId).lean<RunnerLockDoc>();
    if (!lock) continue;
    const holder = await service.models.bookings
      .findById(lock.booking_id, { status: 1, runner_id: 1 })
      .lean<Pick<BookingDoc, "status" | "runner_id">>();
    const same = lock.booking_id === bookingId;
    const open = same && holder?.status === "requested" && holder.runner_id === null;
    const heldForMs = Date.now() - lock.taken_at.getTime();
    if (!open && (same || !slotIsFree(runnerId, holder, heldForMs))) return null;
    const taken = await runnerLocks.updateOne(
      { _id: runnerId, token: lock.token },
      { $set: { booking_id: bookingId, token, taken_at: new Date() } },
    );
    if (taken.modifiedCount > 0) return token;
  }
  return null;
}

/**
 * The runner service makes the runner busy on the booking in one guarded write, or refuses
 * (409: not online). Before the booking's own write, so that a runner going offline meanwhile
 * either loses to the claim or makes the accept fail: never an offline runner on an accepted
 * booking. On any failure the slot is given back, and so is a claim that may have been made.
 */
async function claimRunner(
  service: BookingThis,
  {
    runnerId,
    bookingId,
    at,
    slot,
  }: { runnerId: string; bookingId: string; at: Date; slot: string },
  needs: PetNeeds | undefined,
): Promise<void> {
  try {
    await service.broker.call("runner.claim", {
      runner_id: runnerId,
      booking_id: bookingId,
      accepted_at: at.toISOString(),
      // What carrying the pets takes: the runner service refuses a runner who cannot.
      ...(needs ? { needs } : {}),
    });
  } catch (error) {
    // A refusal claimed nothing; no answer (a timeout, a lost node) may have claimed all the same.
    if (!(error instanceof Errors.MoleculerClientError)) {
      await releaseRunner(service, runnerId, bookingId);
    }
    await service.models.runnerLocks.deleteOne({ _id: runnerId, token: slot });
    throw error;
  }
}
