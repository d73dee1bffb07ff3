/**
 * One entry point from an encoded frame image to pixels.
 *
 * @module
 */

import type { EncodedFrameImage } from "../host/types.ts";
import type { Image } from "../sdk/image.ts";
import { MediaError } from "./errors.ts";
import { decodeJpeg } from "./jpeg.ts";
import { checkSize } from "./limits.ts";
import { decodePng } from "./png.ts";
import { decodePnm } from "./pnm.ts";

/** The media types {@linkcode decodeImage} understands, after normalisation. */
export const IMAGE_MEDIA_TYPES: readonly string[] = Object.freeze([
  "image/png",
  "image/jpeg",
  "image/x-portable-pixmap",
  "image/x-portable-graymap",
  "image/x-portable-anymap",
  "application/octet-stream",
]);

/** Aliases seen in the wild, mapped to the media type above. */
const ALIASES: Readonly<Record<string, string>> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "image/x-png": "image/png",
};

/** Options of {@linkcode decodeImage}. */
export interface DecodeOptions {
  /** Largest `width * height` accepted; checked from the header before decoding. */
  readonly pixelsMax: number;
}

/**
 * The media type without parameters, lower-cased, with aliases resolved
 * (`"Image/JPG; q=1"` → `"image/jpeg"`).
 *
 * @example
 * ```ts
 * import { normalizeMediaType } from "./decode.ts";
 * console.log(normalizeMediaType("image/PNG; charset=binary")); // image/png
 * ```
 */
export function normalizeMediaType(mediaType: string): string {
  const base = mediaType.split(";")[0].trim().toLowerCase();
  return ALIASES[base] ?? base;
}

/**
 * Decodes one frame image to 8-bit gray or RGB: PNG (any color type and depth; alpha
 * dropped), JPEG (gray or color), PGM/PPM (P5/P6; the magic decides gray or color under any
 * of the three PNM media types), or a raw u8 HWC tensor (`application/octet-stream` with
 * `shape`, returned without a copy). Throws a `MediaError`: `unsupported_media_type`,
 * `image_too_large` (from the header, before the pixels are decoded) or `bad_image`.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const bytes = new TextEncoder().encode("P5 2 1 255 \x00\x7f");
 * const image = decodeImage({ bytes, mediaType: "image/x-portable-graymap" }, { pixelsMax: 100 });
 * console.log(image.width, image.channels); // 2 1
 * ```
 */
export function decodeImage(image: EncodedFrameImage, options: DecodeOptions): Image {
  const pixelsMax = options.pixelsMax;
  if (!(pixelsMax >= 1)) {
    throw new RangeError(`pixelsMax is ${pixelsMax}, expected a positive number`);
  }
  if (!(image.bytes instanceof Uint8Array)) {
    throw new MediaError("bad_image", "image bytes are not a Uint8Array");
  }
  const mediaType = normalizeMediaType(image.mediaType);
  switch (mediaType) {
    case "image/png":
      return decodePng(image.bytes, { pixelsMax });
    case "image/jpeg":
      return decodeJpeg(image.bytes, { pixelsMax });
    case "image/x-portable-pixmap":
    case "image/x-portable-graymap":
    case "image/x-portable-anymap":
      return decodePnm(image.bytes, { pixelsMax });
    case "application/octet-stream":
      return decodeRaw(image.bytes, image.shape, { pixelsMax });
    default:
      throw new MediaError(
        "unsupported_media_type",
        `media type '${image.mediaType}' is not supported, expected one of ` +
          IMAGE_MEDIA_TYPES.join(", "),
      );
  }
}

/**
 * A raw u8 HWC tensor: checks `shape` (`[height, width, channels]`, channels 1 or 3)
 * against the limit and the byte count, and wraps `bytes` without copying.
 *
 * @example
 * ```ts
 * import { decodeRaw } from "./decode.ts";
 * console.log(decodeRaw(new Uint8Array(6), [1, 2, 3], { pixelsMax: 2 }).width); // 2
 * ```
 */
export function decodeRaw(
  bytes: Uint8Array,
  shape: readonly number[] | undefined,
  options: DecodeOptions,
): Image {
  if (shape === undefined || !Array.isArray(shape) || shape.length !== 3) {
    throw new MediaError(
      "bad_image",
      `raw tensor shape is ${JSON.stringify(shape ?? null)}, expected [height, width, channels]`,
    );
  }
  const [height, width, channels] = shape;
  if (channels !== 1 && channels !== 3) {
    throw new MediaError("bad_image", `raw tensor has ${channels} channels, expected 1 or 3`);
  }
  checkSize(width, height, { pixelsMax: options.pixelsMax, what: "raw tensor" });
  const expected = width * height * channels;
  if (bytes.length !== expected) {
    throw new MediaError(
      "bad_image",
      `raw tensor is ${bytes.length} bytes, shape [${height}, ${width}, ${channels}] needs ${expected}`,
    );
  }
  return { width, height, channels, data: bytes };
}
