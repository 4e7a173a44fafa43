import { BOOKING_PHOTO_ACTIONS, type PhotoStage } from "../../contracts";
import { isItsRunner, isOwner, mayWatchTrip, maySeeBooking } from "../../domain/access";
import type { BookingStatus } from "../../domain/booking";
import { actionsOf, callerOf, clientError, notFound } from "../../lib/action";
import { keepPhoto, photoBytes, photoEntity, photoStoreOf } from "../../lib/photos";
import { bookingsOf, type BookingThis } from "./models";

const action = actionsOf<BookingThis>();

/**
 * When each photo may be taken: a handover's at the pickup and with the pet aboard; a problem's
 * once the pet is delivered, before the owner confirms (the dispute names it).
 */
export const PHOTO_STAGE_STATUSES: Record<PhotoStage, readonly BookingStatus[]> = {
  // The pet handed back at the pickup after a no-show at the drop-off is photographed there too.
  pickup: ["accepted", "returning"],
  dropoff: ["picked_up", "in_transit"],
  dispute: ["delivered"],
};

/**
 * The booking's runner adds a photo of a handover (the pet, as it is collected or handed over),
 * or its owner a photo of a problem at the drop-off: kept as this booking's evidence; the
 * pickup, deliver or dispute move then names it by its id.
 */
export const uploadPhoto = action(BOOKING_PHOTO_ACTIONS.uploadPhoto, async function (ctx) {
  const caller = callerOf(ctx);
  const { id, stage, image } = ctx.params;
  const booking = await bookingsOf(this).load(id);
  if (!booking || !maySeeBooking(caller, booking)) throw notFound("Booking");
  if (stage === "dispute" ? !isOwner(caller, booking) : !isItsRunner(caller, booking)) {
    throw clientError(
      "FORBIDDEN",
      stage === "dispute"
        ? "Only the booking's owner adds photos of a problem"
        : "Only the booking's runner adds its handover photos",
    );
  }
  const statuses = PHOTO_STAGE_STATUSES[stage];
  if (!statuses.includes(booking.status)) {
    throw clientError(
      "CONFLICT",
      `A ${stage} photo is taken while the booking is ${statuses.join(" or ")}; it is ${booking.status}`,
      { status: booking.status },
    );
  }
  const meta = await keepPhoto(photoStoreOf(this), image, caller, { kind: "booking", id });
  ctx.meta.$outcome = "created";
  ctx.meta.$location = `/api/bookings/${id}/photos/${meta._id}`;
  return { ...photoEntity(meta), stage };
});

/** One of the booking's photos, to its owner, its runner or an admin: the image itself. */
export const photo = action(BOOKING_PHOTO_ACTIONS.photo, async function (ctx) {
  const caller = callerOf(ctx);
  const { id, photoId } = ctx.params;
  const booking = await bookingsOf(this).load(id);
  if (!booking || !mayWatchTrip(caller, booking)) throw notFound("Photo");
  const found = await photoStoreOf(this).get(photoId);
  const ofThisBooking = found?.meta.subject.kind === "booking" && found.meta.subject.id === id;
  if (!found || !ofThisBooking) throw notFound("Photo");
  return photoBytes(found);
});
