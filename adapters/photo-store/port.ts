import type { PhotoType } from "../../contracts/photo";

/** The formats a photo may be in: the API's list (contracts/photo.ts), which the stores keep. */
export { PHOTO_TYPES, type PhotoType } from "../../contracts/photo";

/** What a photo is evidence of: a booking's handover, a pet's record, a runner's document. */
export interface PhotoSubject {
  kind: "booking" | "pet" | "runner";
  id: string;
}

export interface PhotoMeta {
  _id: string;
  content_type: PhotoType;
  bytes: number;
  width: number;
  height: number;
  sha256: string;
  uploaded_by: { role: string; sub: string };
  subject: PhotoSubject;
  created_at: Date;
}

/**
 * Where one service keeps its photos (its own database's collections, or an S3 bucket). Photos
 * are written once and never changed; reads are by id.
 */
export interface PhotoStore {
  put(meta: PhotoMeta, data: Buffer): Promise<void>;
  get(id: string): Promise<{ meta: PhotoMeta; data: Buffer } | null>;
  meta(id: string): Promise<PhotoMeta | null>;
}

/**
 * An upload as the gateway passes it to the service that keeps it: already checked by its bytes,
 * decoded, re-encoded without metadata (no EXIF location), at most PHOTOS.maxEdgePx on its edge.
 */
export interface CleanImage {
  /** base64 of the re-encoded bytes. */
  data: string;
  content_type: PhotoType;
  width: number;
  height: number;
}
