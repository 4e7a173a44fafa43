import { crc32 } from "node:zlib";
import sharp, { type Sharp } from "sharp";
import { PHOTOS } from "../../config/defaults";
import type { PhotoType } from "../../contracts";
import { cleanImage, sniffImage, type CleanedImage } from "../../lib/images";

const MAX = PHOTOS.maxBytes;
const FORMAT_OF: Record<PhotoType, "jpeg" | "png" | "webp"> = {
  "image/jpeg": "jpeg",
  "image/png": "png",
  "image/webp": "webp",
};

/** A small picture in one format: two colours, so it is not trivially compressible to nothing. */
function picture(type: PhotoType, width = 64, height = 48, withMeta?: (image: Sharp) => Sharp) {
  const base = sharp({
    create: { width, height, channels: 3, background: { r: 200, g: 120, b: 40 } },
  }).composite([
    {
      input: {
        create: {
          width: Math.ceil(width / 2),
          height,
          channels: 3,
          background: { r: 10, g: 90, b: 220 },
        },
      },
      left: 0,
      top: 0,
    },
  ]);
  const formatted = base.toFormat(FORMAT_OF[type]);
  return (withMeta ? withMeta(formatted) : formatted).toBuffer();
}

/** Where the photo was taken, as a phone writes it: EXIF's GPS directory (IFD3). */
const GPS_EXIF = {
  IFD0: { Make: "KilatPhone", Model: "Test" },
  IFD3: {
    GPSLatitudeRef: "S",
    GPSLatitude: "6/1 12/1 3000/100",
    GPSLongitudeRef: "E",
    GPSLongitude: "106/1 48/1 1500/100",
  },
};

const cleaned = (outcome: CleanedImage) => {
  if (!outcome.ok) throw new Error(`refused: ${outcome.reason}: ${outcome.message}`);
  return { ...outcome.image, bytes: Buffer.from(outcome.image.data, "base64") };
};

/** A PNG that claims `width`×`height` in its header and holds almost nothing: a pixel bomb. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("sniffing an upload's bytes", () => {
  it("names JPEG, PNG and WebP by their first bytes, and nothing else", async () => {
    expect(sniffImage(await picture("image/jpeg"))).toBe("image/jpeg");
    expect(sniffImage(await picture("image/png"))).toBe("image/png");
    expect(sniffImage(await picture("image/webp"))).toBe("image/webp");
    const riffWave = Buffer.concat([Buffer.from("RIFF"), Buffer.alloc(4), Buffer.from("WAVEfmt ")]);
    const samples = [
      Buffer.from("hello, this is text\n"),
      Buffer.from("GIF89a"),
      riffWave,
      Buffer.from([0xff, 0xd8]),
      Buffer.alloc(0),
      Buffer.from("%PDF-1.7"),
    ];
    expect(samples.map(sniffImage)).toEqual(samples.map(() => null));
  });
});

describe("cleaning an upload into a photo", () => {
  it("refuses a body over the limit before looking at it: a 6 MB body", async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 0);
    big.set([0xff, 0xd8, 0xff], 0);
    expect(await cleanImage(big, { maxBytes: MAX })).toEqual({
      ok: false,
      reason: "too_large",
      message: "A photo may be at most 5 MB",
    });
  });

  it("refuses a text file: not a JPEG, PNG or WebP image", async () => {
    expect(await cleanImage(Buffer.from("just some text, no image\n"), { maxBytes: MAX })).toEqual({
      ok: false,
      reason: "not_an_image",
      message: "not a JPEG, PNG or WebP image",
    });
  });

  it("refuses bytes that only start like an image: the decoding is the proof", async () => {
    const fake = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)]);
    const jpeg = await picture("image/jpeg", 400, 300);
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    for (const bytes of [fake, truncated]) {
      expect(await cleanImage(bytes, { maxBytes: MAX })).toEqual({
        ok: false,
        reason: "undecodable",
        message: "The jpeg image could not be decoded",
      });
    }
  });

  it("refuses a pixel bomb from its header, without decoding it", async () => {
    const bomb = pngClaiming(20_000, 20_000);
    expect(bomb.length).toBeLessThan(100);
    const started = Date.now();
    expect(await cleanImage(bomb, { maxBytes: MAX })).toEqual({
      ok: false,
      reason: "too_many_pixels",
      message: "The image has more than 50 million pixels",
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each(["image/jpeg", "image/png", "image/webp"] as const)(
    "takes a %s, re-encoded in its own format at its own size",
    async (type) => {
      const image = cleaned(await cleanImage(await picture(type), { maxBytes: MAX }));
      const decoded = await sharp(image.bytes).metadata();
      expect([image.content_type, image.width, image.height]).toEqual([type, 64, 48]);
      expect([decoded.format, decoded.width, decoded.height]).toEqual([FORMAT_OF[type], 64, 48]);
    },
  );

  it("shrinks a large photo to fit the longest edge allowed, and never enlarges a small one", async () => {
    const wide = cleaned(
      await cleanImage(await picture("image/jpeg", 4000, 1000), { maxBytes: MAX }),
    );
    expect([wide.width, wide.height]).toEqual([PHOTOS.maxEdgePx, PHOTOS.maxEdgePx / 4]);
    const small = cleaned(
      await cleanImage(await picture("image/png", 30, 20), { maxBytes: MAX, maxEdgePx: 100 }),
    );
    expect([small.width, small.height]).toEqual([30, 20]);
  });

  it.each(["image/jpeg", "image/png", "image/webp"] as const)(
    "removes EXIF (the GPS position with it) from a %s",
    async (type) => {
      const original = await picture(type, 64, 48, (image) => image.withExif(GPS_EXIF));
      const before = await sharp(original).metadata();
      expect(before.exif?.includes(Buffer.from("KilatPhone"))).toBe(true);
      // The pointer to the GPS directory: tag 0x8825, little-endian as libvips writes it.
      expect(before.exif?.includes(Buffer.from([0x25, 0x88]))).toBe(true);

      const image = cleaned(await cleanImage(original, { maxBytes: MAX }));
      const after = await sharp(image.bytes).metadata();
      expect([after.exif, after.xmp, after.iptc, after.orientation]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(image.bytes.includes(Buffer.from("KilatPhone"))).toBe(false);
    },
  );

  it("turns a photo upright by its EXIF orientation, then drops the tag", async () => {
    // Orientation 6: the camera was turned; the picture is to be rotated 90° clockwise.
    const sideways = await picture("image/jpeg", 40, 20, (image) =>
      image.withMetadata({ orientation: 6 }),
    );
    expect((await sharp(sideways).metadata()).orientation).toBe(6);

    const image = cleaned(await cleanImage(sideways, { maxBytes: MAX }));
    const after = await sharp(image.bytes).metadata();
    expect([image.width, image.height, after.width, after.height]).toEqual([20, 40, 20, 40]);
    expect(after.orientation).toBeUndefined();
    // The left half was blue before the turn: now it is the top half.
    const { data } = await sharp(image.bytes)
      .extract({ left: 10, top: 5, width: 1, height: 1 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(data[2]).toBeGreaterThan(150);
  });
});
