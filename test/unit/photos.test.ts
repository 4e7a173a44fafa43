import { createHash } from "node:crypto";
import sharp from "sharp";
import type { PhotoMeta, PhotoStore } from "../../adapters/photo-store";
import { CleanImageParams, MAX_PHOTO_BASE64 } from "../../contracts";
import { PHOTOS } from "../../config/defaults";
import { keepPhoto, photoBytes, photoEntity } from "../../lib/photos";

/** A store that keeps what it is given, to see what the services write. */
class KeptPhotos implements PhotoStore {
  readonly photos = new Map<string, { meta: PhotoMeta; data: Buffer }>();
  async put(meta: PhotoMeta, data: Buffer) {
    this.photos.set(meta._id, { meta, data });
  }
  async get(id: string) {
    return this.photos.get(id) ?? null;
  }
  async meta(id: string) {
    return this.photos.get(id)?.meta ?? null;
  }
}

const png = () =>
  sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 1, g: 2, b: 3 } } })
    .png()
    .toBuffer();

describe("keeping a photo (lib/photos.ts)", () => {
  it("stores the bytes under a new id, with their digest, the uploader and the subject", async () => {
    const store = new KeptPhotos();
    const bytes = await png();
    const image = {
      data: bytes.toString("base64"),
      content_type: "image/png" as const,
      width: 8,
      height: 6,
    };
    const runner = { role: "runner" as const, sub: "runner-1" };
    const meta = await keepPhoto(store, image, runner, { kind: "booking", id: "b-1" });

    expect(meta).toEqual({
      _id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
      content_type: "image/png",
      bytes: bytes.length,
      width: 8,
      height: 6,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      uploaded_by: runner,
      subject: { kind: "booking", id: "b-1" },
      created_at: expect.any(Date) as Date,
    });
    const kept = await store.get(meta._id);
    expect(kept?.data.equals(bytes)).toBe(true);
    expect(photoEntity(meta)).toEqual({
      photo_id: meta._id,
      content_type: "image/png",
      bytes: bytes.length,
      width: 8,
      height: 6,
      created_at: meta.created_at.toISOString(),
    });
    expect(photoBytes(kept!)).toEqual({
      content_type: "image/png",
      data: bytes.toString("base64"),
    });
  });

  it("refuses bytes that are not the type they claim, and stores nothing", async () => {
    const store = new KeptPhotos();
    const image = {
      data: (await png()).toString("base64"),
      content_type: "image/jpeg" as const,
      width: 8,
      height: 6,
    };
    await expect(
      keepPhoto(store, image, { role: "runner", sub: "r" }, { kind: "booking", id: "b" }),
    ).rejects.toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
    expect(store.photos.size).toBe(0);
  });
});

describe("a clean image as actions take it (contracts/photo.ts)", () => {
  const image = { data: "AAEC", content_type: "image/webp", width: 1, height: 1 };

  it("takes canonical base64 of at most the largest photo's length", () => {
    expect(CleanImageParams.safeParse(image).success).toBe(true);
    expect(MAX_PHOTO_BASE64).toBeGreaterThan((PHOTOS.maxBytes * 4) / 3);
  });

  it.each([
    ["text that is not base64", { data: "not base64!" }],
    ["base64 without its padding", { data: "AAE" }],
    ["more than the largest photo", { data: "A".repeat(MAX_PHOTO_BASE64 + 4) }],
    ["a type that is not a photo's", { content_type: "image/gif" }],
    ["a width that is not a whole number", { width: 1.5 }],
    ["a field of its own", { exif: "yes" }],
  ])("refuses %s", (_name, change) => {
    expect(CleanImageParams.safeParse({ ...image, ...change }).success).toBe(false);
  });
});
