import type { Connection } from "mongoose";
import { MongoPhotoStore } from "./mongo";
import type { PhotoStore } from "./port";
import { S3PhotoStore, type S3Options } from "./s3";

export * from "./port";
export { MongoPhotoStore, CHUNK_BYTES } from "./mongo";
export { S3PhotoStore, signV4, type S3Options } from "./s3";

/**
 * Where a service keeps its photos: an S3-compatible store when PHOTO_STORE=s3, else its own
 * MongoDB database (`connection`), which needs nothing more — embedded included.
 */
export function createPhotoStore(
  config: { photos: { store: "mongo" | "s3"; s3: S3Options | undefined } },
  connection: Connection,
): PhotoStore {
  if (config.photos.store === "mongo") return new MongoPhotoStore(connection);
  if (!config.photos.s3) {
    throw new Error(
      "PHOTO_STORE=s3 needs S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
    );
  }
  return new S3PhotoStore(config.photos.s3);
}
