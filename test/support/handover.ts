import type { ServiceBroker } from "moleculer";
import type { Connection } from "mongoose";
import sharp from "sharp";
import { PHOTOS } from "../../config/defaults";
import type { CleanImage } from "../../adapters/photo-store";
import type { BookingEntity, PhotoEntity } from "../../contracts";
import type { AuthUser } from "../../lib/auth";
import { cleanImage } from "../../lib/images";
import type { Client, System } from "./system";

/** A small real JPEG (a phone's photo, smaller): made once, uploaded as often as a test needs. */
let jpeg: Promise<Buffer> | undefined;
export function smallJpeg(): Promise<Buffer> {
  jpeg ??= sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 120, b: 40 } },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
  return jpeg;
}

/** Sends raw bytes as an upload (the gateway takes the image as the body, not JSON). */
export async function upload(
  system: Client,
  path: string,
  token: string,
  bytes: Buffer,
  contentType = "image/jpeg",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(system.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: new Uint8Array(bytes),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** The runner photographs the pet for a handover: the photo's id. */
export async function proofPhoto(
  system: Client,
  bookingId: string,
  runnerToken: string,
  stage: "pickup" | "dropoff",
): Promise<string> {
  const sent = await upload(
    system,
    `/api/bookings/${bookingId}/photos?stage=${stage}`,
    runnerToken,
    await smallJpeg(),
  );
  if (sent.status !== 201) {
    throw new Error(`photo upload for ${stage} → ${sent.status} ${JSON.stringify(sent.body)}`);
  }
  return String(sent.body.photo_id);
}

/** The recipient's PIN, as the owner's app shows it. */
export async function pinOf(system: Client, bookingId: string, ownerToken: string) {
  const booking = await system.api<BookingEntity>("GET", `/api/bookings/${bookingId}`, {
    token: ownerToken,
  });
  if (!booking.body.handover_pin) throw new Error(`no PIN shown to the owner of ${bookingId}`);
  return booking.body.handover_pin;
}

/**
 * A move as the runner's app makes it: pickup with a photo, deliver with a photo and the PIN the
 * owner passed on; other moves with an empty body. The answer, as the API gave it.
 */
export async function makeMove(
  system: Client,
  bookingId: string,
  move: string,
  who: { runner: string; owner: string },
  token: string = who.runner,
) {
  const body: Record<string, string> = {};
  if (move === "pickup") body.photo_id = await proofPhoto(system, bookingId, who.runner, "pickup");
  if (move === "deliver") {
    body.photo_id = await proofPhoto(system, bookingId, who.runner, "dropoff");
    body.pin = await pinOf(system, bookingId, who.owner);
  }
  return system.api<BookingEntity>("POST", `/api/bookings/${bookingId}/${move}`, { token, body });
}

/** Bytes made a photo as the gateway makes an upload one: for a test that calls the services. */
export async function cleanPhoto(bytes: Buffer): Promise<CleanImage> {
  const cleaned = await cleanImage(bytes, { maxBytes: PHOTOS.maxBytes });
  if (!cleaned.ok) throw new Error(`not a photo: ${cleaned.message}`);
  return cleaned.image;
}

/**
 * `makeMove` for a test that calls the services straight on a broker (no gateway): the runner's
 * photo through `booking.uploadPhoto`, the PIN from `booking.get` as the owner sees it.
 */
export async function makeMoveOn(
  broker: ServiceBroker,
  bookingId: string,
  move: string,
  who: { runner: AuthUser; owner: AuthUser },
): Promise<BookingEntity> {
  const params: Record<string, string> = { id: bookingId };
  const photo = async (stage: "pickup" | "dropoff") =>
    (
      await broker.call<PhotoEntity, Record<string, unknown>>(
        "booking.uploadPhoto",
        { id: bookingId, stage, image: await cleanPhoto(await smallJpeg()) },
        { meta: { user: who.runner } },
      )
    ).photo_id;
  if (move === "pickup") params.photo_id = await photo("pickup");
  if (move === "deliver") {
    params.photo_id = await photo("dropoff");
    const booking = await broker.call<BookingEntity, { id: string }>(
      "booking.get",
      { id: bookingId },
      { meta: { user: who.owner } },
    );
    if (!booking.handover_pin) throw new Error(`no PIN shown to the owner of ${bookingId}`);
    params.pin = booking.handover_pin;
  }
  return broker.call<BookingEntity, Record<string, string>>(`booking.${move}`, params, {
    meta: { user: who.runner },
  });
}

/**
 * What the booking service's photo store holds (PHOTO_STORE=mongo): its files and chunks, every
 * booking's. A refused upload must leave both as they were.
 */
export async function storedPhotos(system: System): Promise<{ photos: number; chunks: number }> {
  const service = system.brokers
    .map((broker) => broker.getLocalService("booking") as unknown as { db: Connection } | undefined)
    .find((local) => local !== undefined);
  if (!service) throw new Error("no booking service in this test process");
  const [photos, chunks] = await Promise.all([
    service.db.collection("photos").countDocuments(),
    service.db.collection("photo_chunks").countDocuments(),
  ]);
  return { photos, chunks };
}
