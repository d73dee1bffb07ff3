/**
 * JPEG decoding through jpeg-js, after reading the frame header here so that a file
 * announcing too many pixels is refused before any entropy decoding.
 *
 * @module
 */

import { decode, encode } from "jpeg-js";
import type { Image } from "../sdk/image.ts";
import { errorMessage } from "../errors.ts";
import { MediaError } from "./errors.ts";
import { checkImage, checkSize } from "./limits.ts";

/** What the SOF segment says. */
export interface JpegHeader {
  readonly width: number;
  readonly height: number;
  /** Color components: 1 (gray), 3 (YCbCr/RGB), 4 (CMYK, which jpeg-js refuses). */
  readonly components: number;
}

/** Start-of-frame markers (every SOFn but DHT 0xc4, JPG 0xc8 and DAC 0xcc). */
const SOF_MARKERS = new Set([
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc5,
  0xc6,
  0xc7,
  0xc9,
  0xca,
  0xcb,
  0xcd,
  0xce,
  0xcf,
]);

/**
 * Finds the frame header of a JPEG by walking its marker segments. Throws `bad_image` when
 * there is no SOI, a segment runs past the end, or the scan starts before a frame header.
 *
 * @example
 * ```ts
 * import { encodeJpeg, readJpegHeader } from "./jpeg.ts";
 * const jpeg = encodeJpeg({ width: 8, height: 4, channels: 3, data: new Uint8Array(96) });
 * console.log(readJpegHeader(jpeg).height); // 4
 * ```
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new MediaError(
      "bad_image",
      `not a JPEG: starts with ${hex(bytes.subarray(0, 2))}, expected ff d8 (SOI)`,
    );
  }
  let offset = 2;
  // Bounded: every iteration consumes at least one byte.
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw new MediaError(
        "bad_image",
        `JPEG byte ${offset} is 0x${bytes[offset].toString(16)}, expected a marker (0xff)`,
      );
    }
    const marker = bytes[offset + 1];
    if (marker === undefined) break;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // stand-alone markers carry no length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) {
      throw new MediaError(
        "bad_image",
        `JPEG reaches ${marker === 0xda ? "its scan" : "its end"} at byte ${offset} ` +
          `without a frame header`,
      );
    }
    if (offset + 4 > bytes.length) break;
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (length < 2 || offset + 2 + length > bytes.length) {
      throw new MediaError(
        "bad_image",
        `JPEG is truncated: segment 0x${marker.toString(16)} at byte ${offset} declares ` +
          `${length} bytes, ${bytes.length - offset - 2} remain`,
      );
    }
    if (SOF_MARKERS.has(marker)) {
      if (length < 8) {
        throw new MediaError("bad_image", `JPEG frame header is ${length} bytes, needs 8`);
      }
      return {
        height: (bytes[offset + 5] << 8) | bytes[offset + 6],
        width: (bytes[offset + 7] << 8) | bytes[offset + 8],
        components: bytes[offset + 9],
      };
    }
    offset += 2 + length;
  }
  throw new MediaError("bad_image", `JPEG is truncated: ${bytes.length} bytes, no frame header`);
}

/**
 * Decodes a baseline or progressive JPEG to 8-bit gray (one component) or RGB. Throws
 * `image_too_large` from the header alone and `bad_image` for anything jpeg-js refuses.
 *
 * @example
 * ```ts
 * import { decodeJpeg, encodeJpeg } from "./jpeg.ts";
 * const jpeg = encodeJpeg({ width: 8, height: 8, channels: 3, data: new Uint8Array(192) });
 * console.log(decodeJpeg(jpeg, { pixelsMax: 64 }).width); // 8
 * ```
 */
export function decodeJpeg(bytes: Uint8Array, options: { pixelsMax: number }): Image {
  const header = readJpegHeader(bytes);
  checkSize(header.width, header.height, { pixelsMax: options.pixelsMax, what: "JPEG" });
  if (header.components !== 1 && header.components !== 3) {
    throw new MediaError(
      "bad_image",
      `JPEG has ${header.components} components, only 1 (gray) and 3 (color) are supported`,
    );
  }
  const pixels = header.width * header.height;
  let decoded;
  try {
    decoded = decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      // Belts to the header check above: jpeg-js counts its own allocations too. About 20
      // bytes a pixel covers three upsampled component planes and the RGB output.
      maxResolutionInMP: options.pixelsMax / 1e6,
      maxMemoryUsageInMB: Math.max(64, Math.ceil((pixels * 20) / (1 << 20)) + 16),
    });
  } catch (error) {
    throw new MediaError("bad_image", `JPEG cannot be decoded: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const rgb = decoded.data;
  if (
    decoded.width !== header.width || decoded.height !== header.height || rgb.length !== pixels * 3
  ) {
    throw new MediaError(
      "bad_image",
      `JPEG decoded to ${decoded.width}x${decoded.height} (${rgb.length} bytes), ` +
        `the header says ${header.width}x${header.height}`,
    );
  }
  if (header.components === 3) {
    return { width: header.width, height: header.height, channels: 3, data: rgb };
  }
  // jpeg-js replicates a gray component into R, G and B; keep one.
  const data = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p += 1) data[p] = rgb[p * 3];
  return { width: header.width, height: header.height, channels: 1, data };
}

/**
 * Encodes an image as a baseline JPEG (gray images are stored as color with equal
 * channels). `options.quality` is 1..100, default 90.
 *
 * @example
 * ```ts
 * import { encodeJpeg } from "./jpeg.ts";
 * const jpeg = encodeJpeg({ width: 1, height: 1, channels: 1, data: new Uint8Array([128]) });
 * console.log(jpeg[0] === 0xff && jpeg[1] === 0xd8); // true
 * ```
 */
export function encodeJpeg(image: Image, options: { quality?: number } = {}): Uint8Array {
  checkImage(image, "image to encode as JPEG");
  const quality = options.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new MediaError("bad_image", `JPEG quality is ${quality}, expected an integer in 1..100`);
  }
  const pixels = image.width * image.height;
  const rgba = new Uint8Array(pixels * 4);
  const src = image.data;
  for (let p = 0; p < pixels; p += 1) {
    const i = p * image.channels;
    const o = p * 4;
    rgba[o] = src[i];
    rgba[o + 1] = src[image.channels === 3 ? i + 1 : i];
    rgba[o + 2] = src[image.channels === 3 ? i + 2 : i];
    rgba[o + 3] = 255;
  }
  const encoded = encode({ width: image.width, height: image.height, data: rgba }, quality);
  return new Uint8Array(encoded.data.buffer, encoded.data.byteOffset, encoded.data.byteLength);
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ") || "(nothing)";
}
