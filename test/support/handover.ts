import sharp from "sharp";
import type { BookingEntity } from "../../contracts";
import type { System } from "./system";

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
  system: System,
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
  system: System,
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
export async function pinOf(system: System, bookingId: string, ownerToken: string) {
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
  system: System,
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
