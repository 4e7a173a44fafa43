import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mongoose, { type Connection } from "mongoose";
import { CHUNK_BYTES, MongoPhotoStore, S3PhotoStore } from "../../adapters/photo-store";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../lib/embedded-mongo";
import { metaFor, photoStoreContract } from "../contract/photo-store.contract";
import { describeWithInfra, uniqueName } from "../support/infra";

const connect = (uri: string) =>
  mongoose.createConnection(uri, { dbName: uniqueName("photos"), autoIndex: false }).asPromise();

/** What only the MongoDB adapter promises: GridFS's layout, chunks keyed by photo and place. */
function mongoLayout(connection: () => Connection, store: () => MongoPhotoStore) {
  it("keeps GridFS's layout: a file document in photos, 255 KiB chunks keyed <id>:<n>", async () => {
    const data = randomBytes(CHUNK_BYTES * 2 + 10);
    const meta = metaFor(data);
    await store().put(meta, data);
    const file = await connection()
      .collection<{ _id: string }>("photos")
      .findOne({ _id: meta._id });
    expect(file).toEqual({
      _id: meta._id,
      length: data.length,
      chunkSize: CHUNK_BYTES,
      uploadDate: meta.created_at,
      contentType: "image/jpeg",
      metadata: {
        width: meta.width,
        height: meta.height,
        sha256: meta.sha256,
        uploaded_by: meta.uploaded_by,
        subject: meta.subject,
      },
    });
    const chunks = await connection()
      .collection("photo_chunks")
      .find({ files_id: meta._id }, { projection: { data: 0 } })
      .sort({ n: 1 })
      .toArray();
    expect(chunks).toEqual(
      [0, 1, 2].map((n) => ({ _id: `${meta._id}:${n}`, files_id: meta._id, n })),
    );
  });

  it("serves no photo whose file document is missing (chunks are written first)", async () => {
    const data = randomBytes(1000);
    const meta = metaFor(data);
    await store().put(meta, data);
    await connection().collection<{ _id: string }>("photos").deleteOne({ _id: meta._id });
    expect(await store().get(meta._id)).toBeNull();
  });
}

describeWithInfra(
  ["mongo"],
  "photo store: MongoDB adapter on MONGO_URL (FerretDB here)",
  (infra) => {
    let connection: Connection;
    let store: MongoPhotoStore;
    beforeAll(async () => {
      connection = await connect(infra.mongo);
      store = new MongoPhotoStore(connection);
    });
    afterAll(async () => {
      await connection?.dropDatabase();
      await connection?.close();
    });

    photoStoreContract(() => store);
    mongoLayout(
      () => connection,
      () => store,
    );
  },
);

/** The default of `npm start`: no MONGO_URL, the embedded database (FerretDB where mongod cannot be had). */
describe("photo store: MongoDB adapter on the embedded database", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "kilat-photos-"));
  let embedded: EmbeddedMongo;
  let connection: Connection;
  let store: MongoPhotoStore;
  beforeAll(async () => {
    embedded = await startEmbeddedMongo({ dataDir, engine: "auto", fresh: true, log: () => {} });
    connection = await connect(embedded.uri);
    store = new MongoPhotoStore(connection);
  }, 120_000);
  afterAll(async () => {
    await connection?.close();
    await embedded?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  photoStoreContract(() => store);
});

/** An S3-compatible server's constructor (s3rver), when the project has one installed. */
type S3rverClass = new (options: Record<string, unknown>) => {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
};

const resolvable = (name: string) => {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
};

/** Where the S3 suite finds a server: S3_TEST_ENDPOINT, else s3rver started here, else nowhere. */
const S3_SERVER = process.env.S3_TEST_ENDPOINT
  ? "endpoint"
  : resolvable("s3rver")
    ? "s3rver"
    : undefined;

/**
 * The S3 adapter against a real S3-compatible server: S3_TEST_ENDPOINT (with S3_TEST_BUCKET,
 * S3_TEST_ACCESS_KEY_ID, S3_TEST_SECRET_ACCESS_KEY) when set, else s3rver started here when it is
 * installed; skipped, saying so, when neither is there. s3rver reads the Authorization header and
 * knows its key ids, but does not recompute V4 signatures: AWS's own examples prove the signing
 * (test/unit/photo-store-s3.test.ts).
 */
(S3_SERVER ? describe : describe.skip)(
  `photo store: S3 adapter${S3_SERVER ? "" : " (skipped: no S3_TEST_ENDPOINT, and s3rver is not installed: npm i -D s3rver)"}`,
  () => {
    const bucket = process.env.S3_TEST_BUCKET ?? "kilat-photos";
    let endpoint = process.env.S3_TEST_ENDPOINT ?? "";
    let store: S3PhotoStore;
    let stop = async () => {};

    beforeAll(async () => {
      if (S3_SERVER === "s3rver") {
        // A module name in a variable: s3rver is optional, the suite compiles without it.
        const name = "s3rver";
        const S3rver = ((await import(name)) as { default: S3rverClass }).default;
        const directory = mkdtempSync(join(tmpdir(), "kilat-s3rver-"));
        const server = new S3rver({
          address: "127.0.0.1",
          port: 0,
          silent: true,
          directory,
          configureBuckets: [{ name: bucket }],
        });
        endpoint = `http://127.0.0.1:${(await server.run()).port}`;
        stop = async () => {
          await server.close();
          rmSync(directory, { recursive: true, force: true });
        };
      }
      store = new S3PhotoStore({
        endpoint,
        region: process.env.S3_TEST_REGION ?? "us-east-1",
        bucket,
        accessKeyId: process.env.S3_TEST_ACCESS_KEY_ID ?? "S3RVER",
        secretAccessKey: process.env.S3_TEST_SECRET_ACCESS_KEY ?? "S3RVER",
      });
    });
    afterAll(() => stop());

    photoStoreContract(() => store);

    it("is refused under a key id the server does not know", async () => {
      const data = randomBytes(100);
      const stranger = new S3PhotoStore({
        endpoint,
        region: "us-east-1",
        bucket,
        accessKeyId: "NOT-A-KEY",
        secretAccessKey: "x",
      });
      await expect(stranger.put(metaFor(data), data)).rejects.toThrow(
        /S3 PUT photos\/\S+ answered 403: .*InvalidAccessKeyId/s,
      );
    });
  },
);
