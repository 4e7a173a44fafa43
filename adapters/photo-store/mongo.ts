import type { Connection } from "mongoose";
import type { PhotoMeta, PhotoStore } from "./port";

/** GridFS's chunk size: every chunk document stays far below the 16 MB document limit. */
export const CHUNK_BYTES = 255 * 1024;

/** A photo's file document, in GridFS's layout (`length`, `chunkSize`, `uploadDate`, `metadata`). */
interface PhotoFileDoc {
  _id: string;
  length: number;
  chunkSize: number;
  uploadDate: Date;
  contentType: PhotoMeta["content_type"];
  metadata: Pick<PhotoMeta, "width" | "height" | "sha256" | "uploaded_by" | "subject">;
}

/** One chunk of a photo's bytes, keyed by the photo and its place: `<photo id>:<n>`. */
interface PhotoChunkDoc {
  _id: string;
  files_id: string;
  n: number;
  data: Buffer;
}

const chunkId = (photoId: string, n: number) => `${photoId}:${n}`;

/**
 * Photos in the service's own MongoDB database, in GridFS's layout: a files collection
 * (`photos`) and a chunks collection (`photo_chunks`) of 255 KiB chunks. Not through the driver's
 * GridFSBucket: it finds a file's chunks by `files_id`, which FerretDB answers by scanning every
 * chunk stored (tens of ms per stored MB). Here each chunk's `_id` names its photo and place, so a
 * read is one lookup by `_id` per chunk, in parallel — what every server answers from its index.
 */
export class MongoPhotoStore implements PhotoStore {
  constructor(private readonly connection: Connection) {}

  private get files() {
    return this.connection.collection<PhotoFileDoc>("photos");
  }

  private get chunks() {
    return this.connection.collection<PhotoChunkDoc>("photo_chunks");
  }

  /** The chunks first, then the file document: a photo is served only once it is whole. */
  async put(meta: PhotoMeta, data: Buffer): Promise<void> {
    const chunks: PhotoChunkDoc[] = [];
    for (let n = 0; n * CHUNK_BYTES < data.length; n++) {
      const start = n * CHUNK_BYTES;
      chunks.push({
        _id: chunkId(meta._id, n),
        files_id: meta._id,
        n,
        data: data.subarray(start, start + CHUNK_BYTES),
      });
    }
    if (chunks.length > 0) await this.chunks.insertMany(chunks, { ordered: false });
    await this.files.insertOne({
      _id: meta._id,
      length: data.length,
      chunkSize: CHUNK_BYTES,
      uploadDate: meta.created_at,
      contentType: meta.content_type,
      metadata: {
        width: meta.width,
        height: meta.height,
        sha256: meta.sha256,
        uploaded_by: meta.uploaded_by,
        subject: meta.subject,
      },
    });
  }

  async meta(id: string): Promise<PhotoMeta | null> {
    const file = await this.files.findOne({ _id: id });
    return file ? metaOf(file) : null;
  }

  async get(id: string): Promise<{ meta: PhotoMeta; data: Buffer } | null> {
    const file = await this.files.findOne({ _id: id });
    if (!file) return null;
    const count = Math.ceil(file.length / file.chunkSize);
    const chunks = await Promise.all(
      Array.from({ length: count }, (_, n) =>
        this.chunks.findOne({ _id: chunkId(id, n) }, { promoteBuffers: true }),
      ),
    );
    const parts = chunks.map((chunk, n) => {
      if (!chunk) throw new Error(`photo ${id}: chunk ${n} of ${count} is missing`);
      return chunk.data;
    });
    const data = Buffer.concat(parts);
    if (data.length !== file.length) {
      throw new Error(`photo ${id}: ${data.length} bytes stored of ${file.length}`);
    }
    return { meta: metaOf(file), data };
  }
}

function metaOf(file: PhotoFileDoc): PhotoMeta {
  return {
    _id: file._id,
    content_type: file.contentType,
    bytes: file.length,
    created_at: file.uploadDate,
    ...file.metadata,
  };
}
