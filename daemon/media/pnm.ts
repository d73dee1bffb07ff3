/**
 * Binary PGM (P5) and PPM (P6), read by a strict hand-written parser: one image per file,
 * decimal header fields separated by whitespace and `#` comments, exactly one whitespace
 * byte before the raster, exactly the raster's bytes after it.
 *
 * @module
 */

import type { Image } from "../sdk/image.ts";
import { MediaError } from "./errors.ts";
import { checkImage, checkSize } from "./limits.ts";

/** What a PNM header says. */
export interface PnmHeader {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  /** Largest sample value, 1..65535; above 255 samples are two bytes, big-endian. */
  readonly maxval: number;
  /** Byte offset of the raster. */
  readonly rasterOffset: number;
}

/** Longest decimal field accepted: more digits than any valid width, height or maxval. */
const FIELD_DIGITS_MAX = 10;

/**
 * Reads and checks a P5/P6 header. Throws `bad_image` naming the field that is wrong.
 *
 * @example
 * ```ts
 * import { readPnmHeader } from "./pnm.ts";
 * const bytes = new TextEncoder().encode("P5\n# hi\n2 1\n255\n\x00\x01");
 * console.log(readPnmHeader(bytes).rasterOffset); // 16
 * ```
 */
export function readPnmHeader(bytes: Uint8Array): PnmHeader {
  if (bytes.length < 2 || bytes[0] !== 0x50 /* P */) {
    throw new MediaError("bad_image", `not a PNM: starts with '${ascii(bytes.subarray(0, 2))}'`);
  }
  const kind = bytes[1];
  if (kind !== 0x35 && kind !== 0x36) {
    throw new MediaError(
      "bad_image",
      `PNM kind '${ascii(bytes.subarray(0, 2))}' is not supported, only P5 (PGM) and P6 (PPM)`,
    );
  }
  const reader = { offset: 2 };
  const width = readField(bytes, reader, "width");
  const height = readField(bytes, reader, "height");
  const maxval = readField(bytes, reader, "maxval");
  if (maxval < 1 || maxval > 65535) {
    throw new MediaError("bad_image", `PNM maxval is ${maxval}, expected 1..65535`);
  }
  if (!isSpace(bytes[reader.offset])) {
    throw new MediaError(
      "bad_image",
      `PNM header ends at byte ${reader.offset} without the whitespace before the raster`,
    );
  }
  return {
    width,
    height,
    channels: kind === 0x35 ? 1 : 3,
    maxval,
    rasterOffset: reader.offset + 1,
  };
}

/**
 * Decodes a P5 or P6 file to 8-bit gray or RGB; a maxval other than 255 is rescaled to
 * 0..255 with rounding. Throws `image_too_large` from the header and `bad_image` for a
 * malformed header, a sample above maxval, or a raster of the wrong size.
 *
 * @example
 * ```ts
 * import { decodePnm } from "./pnm.ts";
 * const bytes = new TextEncoder().encode("P5 2 1 15 \x00\x0f");
 * console.log([...decodePnm(bytes, { pixelsMax: 10 }).data]); // [0, 255]
 * ```
 */
export function decodePnm(bytes: Uint8Array, options: { pixelsMax: number }): Image {
  const header = readPnmHeader(bytes);
  const { width, height, channels, maxval, rasterOffset } = header;
  checkSize(width, height, { pixelsMax: options.pixelsMax, what: channels === 1 ? "PGM" : "PPM" });
  const samples = width * height * channels;
  const sampleBytes = maxval > 255 ? 2 : 1;
  const expected = samples * sampleBytes;
  const actual = bytes.length - rasterOffset;
  if (actual !== expected) {
    throw new MediaError(
      "bad_image",
      `PNM raster is ${actual} bytes, ${width}x${height}x${channels} at maxval ${maxval} ` +
        `needs ${expected}`,
    );
  }
  const raster = bytes.subarray(rasterOffset);
  if (maxval === 255) {
    return { width, height, channels, data: raster.slice() };
  }
  // Rescale through a table: at most 65536 entries, computed once per image.
  const table = new Uint8Array(maxval + 1);
  for (let v = 0; v <= maxval; v += 1) table[v] = Math.round((v * 255) / maxval);
  const data = new Uint8Array(samples);
  for (let i = 0; i < samples; i += 1) {
    const value = sampleBytes === 1 ? raster[i] : (raster[2 * i] << 8) | raster[2 * i + 1];
    if (value > maxval) {
      throw new MediaError(
        "bad_image",
        `PNM sample ${i} is ${value}, above the maxval of ${maxval}`,
      );
    }
    data[i] = table[value];
  }
  return { width, height, channels, data };
}

/**
 * Encodes an image as P5 (gray) or P6 (RGB) with maxval 255.
 *
 * @example
 * ```ts
 * import { encodePnm } from "./pnm.ts";
 * const bytes = encodePnm({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) });
 * console.log(new TextDecoder().decode(bytes.subarray(0, 2))); // P6
 * ```
 */
export function encodePnm(image: Image): Uint8Array {
  checkImage(image, "image to encode as PNM");
  const header = new TextEncoder().encode(
    `P${image.channels === 1 ? 5 : 6}\n${image.width} ${image.height}\n255\n`,
  );
  const bytes = new Uint8Array(header.length + image.data.length);
  bytes.set(header, 0);
  bytes.set(image.data, header.length);
  return bytes;
}

/** Skips whitespace and comments, then reads one decimal field. */
function readField(bytes: Uint8Array, reader: { offset: number }, name: string): number {
  const start = reader.offset;
  skipSpaceAndComments(bytes, reader);
  if (reader.offset >= bytes.length) {
    throw new MediaError("bad_image", `PNM is truncated: the file ends before its ${name}`);
  }
  if (reader.offset === start) {
    throw new MediaError(
      "bad_image",
      `PNM ${name} at byte ${reader.offset} is not preceded by whitespace`,
    );
  }
  let value = 0;
  let digits = 0;
  while (reader.offset < bytes.length && isDigit(bytes[reader.offset])) {
    value = value * 10 + (bytes[reader.offset] - 0x30);
    digits += 1;
    reader.offset += 1;
    if (digits > FIELD_DIGITS_MAX) {
      throw new MediaError("bad_image", `PNM ${name} has more than ${FIELD_DIGITS_MAX} digits`);
    }
  }
  if (digits === 0) {
    const found = reader.offset < bytes.length
      ? `'${ascii(bytes.subarray(reader.offset, reader.offset + 8))}'`
      : "the end of the file";
    throw new MediaError(
      "bad_image",
      `PNM ${name} at byte ${reader.offset} is not a decimal number: found ${found}`,
    );
  }
  if (
    reader.offset < bytes.length && !isSpace(bytes[reader.offset]) && bytes[reader.offset] !== 0x23
  ) {
    throw new MediaError(
      "bad_image",
      `PNM ${name} at byte ${reader.offset} is followed by '${
        ascii(bytes.subarray(reader.offset, reader.offset + 1))
      }', expected whitespace`,
    );
  }
  if (value === 0 && name !== "maxval") {
    throw new MediaError("bad_image", `PNM ${name} is 0, expected at least 1`);
  }
  return value;
}

function skipSpaceAndComments(bytes: Uint8Array, reader: { offset: number }): void {
  // Bounded by the file length: every iteration consumes at least one byte.
  while (reader.offset < bytes.length) {
    const byte = bytes[reader.offset];
    if (isSpace(byte)) {
      reader.offset += 1;
    } else if (byte === 0x23 /* # */) {
      while (
        reader.offset < bytes.length && bytes[reader.offset] !== 0x0a &&
        bytes[reader.offset] !== 0x0d
      ) {
        reader.offset += 1;
      }
    } else {
      return;
    }
  }
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0b ||
    byte === 0x0c;
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes).replace(/[^\x20-\x7e]/g, "?");
}
