import { randomBytes, randomUUID } from "node:crypto";
import type { PhotoMeta, PhotoStore } from "../../adapters/photo-store";

/** A photo's meta as the services write it, for `bytes` of data. */
export function metaFor(data: Buffer, extra: Partial<PhotoMeta> = {}): PhotoMeta {
  return {
    _id: randomUUID(),
    content_type: "image/jpeg",
    bytes: data.length,
    width: 2048,
    height: 1536,
    sha256: "0".repeat(64),
    uploaded_by: { role: "runner", sub: "runner-ü-1" },
    subject: { kind: "booking", id: randomUUID() },
    created_at: new Date("2026-12-01T10:00:00.123Z"),
    ...extra,
  };
}

/**
 * The photo-store contract: every adapter runs exactly this suite, so a photo reads back the
 * same from MongoDB (embedded or not) and from an S3-compatible store.
 */
export function photoStoreContract(store: () => PhotoStore): void {
  it.each([
    ["a 100 KB photo", 100 * 1024],
    ["a 5 MB photo, over many chunks", 5 * 1024 * 1024],
    ["a photo of exactly two 255 KiB chunks", 2 * 255 * 1024],
    ["a one-byte photo", 1],
  ])("gives back %s byte for byte, with its meta", async (_name, size) => {
    const data = randomBytes(size);
    const meta = metaFor(data);
    await store().put(meta, data);
    const found = await store().get(meta._id);
    expect(found?.meta).toEqual(meta);
    expect(found?.data.equals(data)).toBe(true);
    expect(await store().meta(meta._id)).toEqual(meta);
  });

  it("answers null for an id it does not have", async () => {
    expect(await store().get(randomUUID())).toBeNull();
    expect(await store().meta(randomUUID())).toBeNull();
  });

  it("keeps photos apart: each id reads its own", async () => {
    const [a, b] = [randomBytes(300 * 1024), randomBytes(300 * 1024)];
    const [metaA, metaB] = [metaFor(a, { content_type: "image/png" }), metaFor(b)];
    await Promise.all([store().put(metaA, a), store().put(metaB, b)]);
    const [foundA, foundB] = await Promise.all([store().get(metaA._id), store().get(metaB._id)]);
    expect([foundA?.meta, foundA?.data.equals(a)]).toEqual([metaA, true]);
    expect([foundB?.meta, foundB?.data.equals(b)]).toEqual([metaB, true]);
  });
}
