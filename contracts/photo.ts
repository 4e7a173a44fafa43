import { z } from "zod";
import { PHOTOS } from "../config/defaults";
import { contracts } from "./action";
import { IdParams } from "./common";

/** The formats a photo may be in: what every phone and browser makes, checked by the bytes. */
export const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
export type PhotoType = (typeof PHOTO_TYPES)[number];

/**
 * The longest base64 text of a photo an action takes: the largest upload, as base64 (4 characters
 * per 3 bytes), with room for a re-encoding that came out a little larger than what was sent.
 */
export const MAX_PHOTO_BASE64 = Math.ceil(PHOTOS.maxBytes * 1.4);

/**
 * Canonical base64 (padded, no line breaks), checked by a round trip through Buffer: a third of the
 * time of a regular expression over megabytes, on the event loop of the service that keeps it.
 */
const isBase64 = (text: string) => Buffer.from(text, "base64").toString("base64") === text;

/**
 * An upload as the gateway hands it to the service that keeps it: checked by its bytes, decoded
 * and re-encoded without metadata (lib/images.ts). The service trusts the decoding to the gateway
 * and checks the rest again (lib/photos.ts).
 */
export const CleanImageParams = z
  .object({
    data: z.string().min(1).max(MAX_PHOTO_BASE64).refine(isBase64, "must be base64"),
    content_type: z.enum(PHOTO_TYPES),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  })
  .strict();

/** What a booking's photo shows: a handover (the runner's), or a problem the owner reports. */
export const PHOTO_STAGES = ["pickup", "dropoff", "dispute"] as const;
export type PhotoStage = (typeof PHOTO_STAGES)[number];

export const UploadBookingPhotoParams = IdParams.extend({
  stage: z.enum(PHOTO_STAGES),
  image: CleanImageParams,
}).strict();

export const BookingPhotoParams = IdParams.extend({
  photoId: z.string().min(1).max(64),
}).strict();

/**
 * The booking's photos: its runner takes them at the handovers, its owner of a problem at the
 * drop-off; its parties look at them.
 */
export const BOOKING_PHOTO_ACTIONS = contracts({
  uploadPhoto: { roles: ["runner", "owner"], params: UploadBookingPhotoParams },
  photo: { roles: ["owner", "runner", "admin"], params: BookingPhotoParams },
});

/** A stored photo as the API describes it (the answer to an upload). */
export interface PhotoEntity {
  photo_id: string;
  content_type: PhotoType;
  bytes: number;
  width: number;
  height: number;
  created_at: string;
}

/**
 * A photo's bytes as an action answers them to the gateway, which sends them as they are, with
 * their Content-Type (services/api/uploads.ts): base64, since answers travel as JSON between nodes.
 */
export interface PhotoBytes {
  content_type: PhotoType;
  data: string;
}
