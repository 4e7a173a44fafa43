import { createHash, randomBytes, randomUUID } from "node:crypto";
import { HANDOVER_ACTIONS, type ShareLinkEntity, type SharedTrip } from "../../contracts";
import { isAdmin, isOwner } from "../../domain/access";
import type { Booking } from "../../domain/booking";
import { actionsOf, callerOf, clientError, notFound } from "../../lib/action";
import { runtimeOf } from "../../lib/runtime";
import type { ShareLinkDoc } from "../../models/share-link.model";
import { trackAt } from "./handover";
import { bookingsOf, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/** A link shows the trip until it is over: confirmed (the owner has the pet's word) or called off. */
const OVER: readonly Booking["status"][] = ["confirmed", "completed", "cancelled", "expired"];
/** The runner's position is shown only while the pet is aboard. */
const ABOARD: readonly Booking["status"][] = ["picked_up", "in_transit"];

/** The links are found by the hash of their secret: the secret itself is never stored. */
const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");

const linkEntity = (doc: ShareLinkDoc): ShareLinkEntity => ({
  link_id: doc.link_id,
  booking_id: doc.booking_id,
  created_at: doc.created_at.toISOString(),
  expires_at: doc.expires_at.toISOString(),
  revoked_at: doc.revoked_at?.toISOString() ?? null,
});

/** The booking, to its owner (or an admin, to look): 404 to anyone else, as `get` answers. */
async function ownBooking(service: BookingThis, id: string, caller: ReturnType<typeof callerOf>) {
  const booking = await bookingsOf(service).load(id);
  if (!booking || !(isOwner(caller, booking) || isAdmin(caller))) throw notFound("Booking");
  return booking;
}

/**
 * The owner makes a link for the recipient: 32 random bytes, shown once. It lives
 * `expires_in_minutes` (at most SHARE_LINK_MAX_TTL) and stops showing the trip once it is over.
 */
export const create = action(HANDOVER_ACTIONS.shareCreate, async function (ctx) {
  const caller = callerOf(ctx);
  const booking = await ownBooking(this, ctx.params.id, caller);
  if (!isOwner(caller, booking)) throw clientError("FORBIDDEN", "Only the owner shares a trip");
  if (OVER.includes(booking.status)) {
    throw clientError("CONFLICT", `A ${booking.status} booking's trip cannot be shared`, {
      status: booking.status,
    });
  }
  const maxMs = runtimeOf(this.broker).config.shareLinkMaxTtlMs;
  const ttlMs = Math.min(maxMs, (ctx.params.expires_in_minutes ?? Infinity) * 60_000);
  const token = randomBytes(32).toString("base64url");
  const now = new Date();
  const doc = await this.models.shareLinks.create({
    _id: hashOf(token),
    link_id: randomUUID(),
    booking_id: booking._id,
    owner_id: booking.owner_id,
    created_at: now,
    expires_at: new Date(now.getTime() + ttlMs),
    revoked_at: null,
  });
  ctx.meta.$outcome = "created";
  return { ...linkEntity(doc.toObject()), token, url: `/share#${token}` };
});

/** The booking's links, without their secrets. */
export const list = action(HANDOVER_ACTIONS.shareList, async function (ctx) {
  const booking = await ownBooking(this, ctx.params.id, callerOf(ctx));
  const docs = await this.models.shareLinks
    .find({ booking_id: booking._id })
    .sort({ created_at: -1 })
    .lean<ShareLinkDoc[]>();
  return { items: docs.map(linkEntity) };
});

/** A link stops working at once (every gateway asks the store on each view). */
export const revoke = action(HANDOVER_ACTIONS.shareRevoke, async function (ctx) {
  const booking = await ownBooking(this, ctx.params.id, callerOf(ctx));
  const which = { booking_id: booking._id, link_id: ctx.params.linkId };
  // Revoked once: a second revoke finds it revoked and keeps the first time.
  const doc =
    (await this.models.shareLinks
      .findOneAndUpdate(
        { ...which, revoked_at: null },
        { $set: { revoked_at: new Date() } },
        {
          new: true,
        },
      )
      .lean<ShareLinkDoc>()) ?? (await this.models.shareLinks.findOne(which).lean<ShareLinkDoc>());
  if (!doc) throw notFound("Share link");
  return linkEntity(doc);
});

/**
 * The trip as the link's holder sees it, without a login: status, pets by name, the drop-off,
 * the runner's first name, and the position and ETA only while the pet is aboard. Never the PIN,
 * the pickup address, the owner or the runner beyond a first name. An unknown, revoked or
 * expired link, or one to a trip that is over, is a 404 (all alike: a guess learns nothing).
 */
export const view = action(HANDOVER_ACTIONS.shared, async function (ctx): Promise<SharedTrip> {
  const link = await this.models.shareLinks.findById(hashOf(ctx.params.token)).lean<ShareLinkDoc>();
  const now = new Date();
  const live = link && link.revoked_at === null && link.expires_at > now;
  const booking = live ? await bookingsOf(this).load(link.booking_id) : null;
  if (!link || !booking || OVER.includes(booking.status)) {
    throw notFound("This link has expired or was revoked: share link");
  }
  const aboard = ABOARD.includes(booking.status);
  const [runnerName, fix] = await Promise.all([
    booking.runner_id ? firstNameOf(this, booking.runner_id) : null,
    aboard ? trackAt(this, booking._id, now) : null,
  ]);
  return {
    booking_number: booking.booking_number,
    status: booking.status,
    pets: (booking.pets?.length
      ? booking.pets
      : [{ name: booking.pet_name, species: booking.pet_type }]
    ).map((pet) => ({ name: pet.name, species: pet.species })),
    dropoff: { lat: booking.dropoff.lat, lng: booking.dropoff.lng },
    runner_first_name: runnerName,
    position: fix ? { lat: fix.lat, lng: fix.lng, recorded_at: fix.recorded_at } : null,
    eta_seconds: fix?.eta_seconds ?? null,
    expires_at: link.expires_at.toISOString(),
    updated_at: booking.updated_at.toISOString(),
  };
});

async function firstNameOf(service: BookingThis, runnerId: string): Promise<string | null> {
  try {
    return await service.broker.call<string | null, { runner_id: string }>("runner.firstName", {
      runner_id: runnerId,
    });
  } catch (error) {
    service.logger.warn(`no first name for runner ${runnerId}`, error);
    return null;
  }
}
