import sharp, { type Sharp } from "sharp";
import { PHOTOS } from "../config/defaults";
import type { CleanImage, PhotoType } from "../adapters/photo-store/port";

/** Why an upload is not taken as a photo; the gateway answers each with its own status. */
export type ImageRefusalReason = "too_large" | "not_an_image" | "too_many_pixels" | "undecodable";

export interface ImageRefusal {
  ok: false;
  reason: ImageRefusalReason;
  message: string;
}

export type CleanedImage = { ok: true; image: CleanImage } | ImageRefusal;

export interface CleanImageOptions {
  /** The largest upload taken, and the largest photo kept (config.photos.maxBytes). */
  maxBytes: number;
  maxEdgePx?: number;
  maxInputPixels?: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The format the first bytes say a file is in: JPEG (FF D8 FF), PNG (its 8-byte signature) or
 * WebP (RIFF, a size, WEBP); null for anything else. A claim only: the decoding proves it.
 */
export function sniffImage(bytes: Buffer): PhotoType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "image/jpeg";
  }
  if (bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) return "image/png";
  if (
    bytes.length >= 12 &&
    bytes.toString("latin1", 0, 4) === "RIFF" &&
    bytes.toString("latin1", 8, 12) === "WEBP"
  ) {
    return "image/webp";
  }
  return null;
}

/** The format sharp names for each type: the decoded image must be what its bytes claimed. */
const SHARP_FORMAT: Record<PhotoType, string> = {
  "image/jpeg": "jpeg",
  "image/png": "png",
  "image/webp": "webp",
};

const refuse = (reason: ImageRefusalReason, message: string): ImageRefusal => ({
  ok: false,
  reason,
  message,
});

const megabytes = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;

/** Re-encodes in the photo's own format, without any of its metadata (sharp keeps none unless asked). */
function encoded(image: Sharp, type: PhotoType): Sharp {
  switch (type) {
    case "image/jpeg":
      return image.jpeg({ quality: 85 });
    case "image/png":
      return image.png();
    case "image/webp":
      // Effort 2 of 6: a third of the time of the default, for a file a few percent larger.
      return image.webp({ quality: 85, effort: 2 });
  }
}

/**
 * An upload made into a photo fit to keep, or why not: the bytes must say JPEG, PNG or WebP and
 * decode as that (a pixel bomb is refused from its header, before its pixels are decoded); the
 * image is turned upright by its EXIF orientation, shrunk to fit `maxEdgePx` (never enlarged) and
 * encoded again in its format with no metadata at all: no EXIF, so no GPS position, no XMP.
 */
export async function cleanImage(bytes: Buffer, options: CleanImageOptions): Promise<CleanedImage> {
  const maxEdgePx = options.maxEdgePx ?? PHOTOS.maxEdgePx;
  const maxInputPixels = options.maxInputPixels ?? PHOTOS.maxInputPixels;
  if (bytes.length > options.maxBytes) {
    return refuse("too_large", `A photo may be at most ${megabytes(options.maxBytes)}`);
  }
  const type = sniffImage(bytes);
  if (type === null) return refuse("not_an_image", "not a JPEG, PNG or WebP image");
  const undecodable = refuse("undecodable", `The ${SHARP_FORMAT[type]} image could not be decoded`);
  const input = sharp(bytes, { failOn: "error", limitInputPixels: maxInputPixels });
  try {
    const header = await input.metadata();
    if (header.format !== SHARP_FORMAT[type]) return undecodable;
    if (header.width * header.height > maxInputPixels) return tooManyPixels(maxInputPixels);
    const { data, info } = await encoded(
      input
        .autoOrient()
        .resize({ width: maxEdgePx, height: maxEdgePx, fit: "inside", withoutEnlargement: true }),
      type,
    ).toBuffer({ resolveWithObject: true });
    if (data.length > options.maxBytes) {
      return refuse(
        "too_large",
        `The photo is larger than ${megabytes(options.maxBytes)} once re-encoded: send it as a JPEG`,
      );
    }
    return {
      ok: true,
      image: {
        data: data.toString("base64"),
        content_type: type,
        width: info.width,
        height: info.height,
      },
    };
  } catch (error) {
    // sharp says "exceeds pixel limit" when the header passed but a later frame or page did not.
    if (error instanceof Error && /pixel limit/i.test(error.message)) {
      return tooManyPixels(maxInputPixels);
    }
    return undecodable;
  }
}

const tooManyPixels = (maxInputPixels: number) =>
  refuse(
    "too_many_pixels",
    `The image has more than ${Math.round(maxInputPixels / 1e6)} million pixels`,
  );
