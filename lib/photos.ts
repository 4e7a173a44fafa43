import { createHash, randomUUID } from "node:crypto";
import type { ServiceBroker } from "moleculer";
import type { Connection } from "mongoose";
import {
  createPhotoStore,
  type CleanImage,
  type PhotoMeta,
  type PhotoStore,
  type PhotoSubject,
} from "../adapters/photo-store";
import type { PhotoBytes, PhotoEntity } from "../contracts";
import type { User } from "../domain/access";
import { sniffImage } from "./images";
import { runtimeOf } from "./runtime";
import { fieldError } from "./zod-validator";

/** One store per database connection: the photos of a service live beside its own data. */
const stores = new WeakMap<Connection, PhotoStore>();

/** The photo store of a service (its database's, or the S3 bucket PHOTO_STORE=s3 names). */
export function photoStoreOf(service: { db: Connection; broker: ServiceBroker }): PhotoStore {
  let store = stores.get(service.db);
  if (!store) {
    store = createPhotoStore(runtimeOf(service.broker).config, service.db);
    stores.set(service.db, store);
  }
  return store;
}

/**
 * Keeps a photo the gateway cleaned (lib/images.ts) as evidence of `subject`, under a new id,
 * with who sent it and its digest. The decoding was the gateway's; the bytes must still be the
 * type they claim, so a call from elsewhere cannot store anything else.
 */
export async function keepPhoto(
  store: PhotoStore,
  image: CleanImage,
  uploader: User,
  subject: PhotoSubject,
): Promise<PhotoMeta> {
  const data = Buffer.from(image.data, "base64");
  if (sniffImage(data) !== image.content_type) {
    throw fieldError("image.data", `is not a ${image.content_type} image`);
  }
  const meta: PhotoMeta = {
    _id: randomUUID(),
    content_type: image.content_type,
    bytes: data.length,
    width: image.width,
    height: image.height,
    sha256: createHash("sha256").update(data).digest("hex"),
    uploaded_by: { role: uploader.role, sub: uploader.sub },
    subject: { kind: subject.kind, id: subject.id },
    created_at: new Date(),
  };
  await store.put(meta, data);
  return meta;
}

/** A stored photo as the API describes it. */
export function photoEntity(meta: PhotoMeta): PhotoEntity {
  return {
    photo_id: meta._id,
    content_type: meta.content_type,
    bytes: meta.bytes,
    width: meta.width,
    height: meta.height,
    created_at: meta.created_at.toISOString(),
  };
}

/** A photo's bytes as a read action answers them; the gateway sends them raw (api/uploads.ts). */
export function photoBytes(found: { meta: PhotoMeta; data: Buffer }): PhotoBytes {
  return { content_type: found.meta.content_type, data: found.data.toString("base64") };
}
