/**
 * PNG decoding and encoding through pngjs, with the header read and checked here first so
 * that a file announcing too many pixels is refused before anything is inflated.
 *
 * @module
 */

// @ts-types="./pngjs.d.ts"
import { PNG } from "pngjs";
import { Buffer } from "node:buffer";
import { inflateSync } from "node:zlib";
import type { Image } from "../sdk/image.ts";
import { errorMessage } from "../errors.ts";
import { MediaError } from "./errors.ts";
import { checkImage, checkSize } from "./limits.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC). */
const HEADER_BYTES = 33;
const CHUNK_LENGTH_MAX = 0x7fffffff;

/** What the IHDR chunk says. */
export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  readonly colorType: number;
  /** Adam7 interlacing. */
  readonly interlaced: boolean;
}

const DEPTHS_OF_COLOR_TYPE: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/**
 * Reads and checks the signature and IHDR of `bytes` without decoding anything.
 * Throws `bad_image` for a malformed header.
 *
 * @example
 * ```ts
 * import { encodePng, readPngHeader } from "./png.ts";
 * const png = encodePng({ width: 2, height: 1, channels: 1, data: new Uint8Array(2) });
 * console.log(readPngHeader(png).width); // 2
 * ```
 */
export function readPngHeader(bytes: Uint8Array): PngHeader {
  if (bytes.length < HEADER_BYTES) {
    throw new MediaError(
      "bad_image",
      `PNG is ${bytes.length} bytes, a PNG signature and header need ${HEADER_BYTES}`,
    );
  }
  for (let i = 0; i < SIGNATURE.length; i += 1) {
    if (bytes[i] !== SIGNATURE[i]) {
      throw new MediaError(
        "bad_image",
        `not a PNG: byte ${i} is 0x${bytes[i].toString(16)}, the signature needs ` +
          `0x${SIGNATURE[i].toString(16)}`,
      );
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = chunkType(bytes, 12);
  if (view.getUint32(8) !== 13 || type !== "IHDR") {
    throw new MediaError(
      "bad_image",
      `PNG first chunk is '${type}' of ${view.getUint32(8)} bytes, expected IHDR of 13`,
    );
  }
  const header: PngHeader = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlaced: bytes[28] === 1,
  };
  if (bytes[26] !== 0 || bytes[27] !== 0 || bytes[28] > 1) {
    throw new MediaError(
      "bad_image",
      `PNG compression, filter and interlace methods are ${bytes[26]}, ${bytes[27]}, ` +
        `${bytes[28]}, expected 0, 0 and 0 or 1`,
    );
  }
  const depths = DEPTHS_OF_COLOR_TYPE[header.colorType];
  if (depths === undefined) {
    throw new MediaError("bad_image", `PNG color type is ${header.colorType}, not 0, 2, 3, 4 or 6`);
  }
  if (!depths.includes(header.bitDepth)) {
    throw new MediaError(
      "bad_image",
      `PNG bit depth is ${header.bitDepth}, color type ${header.colorType} allows ` +
        depths.join(", "),
    );
  }
  return header;
}

/**
 * Decodes a PNG of any color type and depth to 8-bit gray (color types 0 and 4) or RGB
 * (2, 3, 6); alpha is dropped, 16-bit samples are rounded to 8 bits. Throws
 * `image_too_large` from the header alone, `bad_image` for anything malformed.
 *
 * @example
 * ```ts
 * import { decodePng, encodePng } from "./png.ts";
 * const image = { width: 2, height: 1, channels: 3 as const, data: new Uint8Array(6) };
 * console.log(decodePng(encodePng(image), { pixelsMax: 100 }).channels); // 3
 * ```
 */
export function decodePng(bytes: Uint8Array, options: { pixelsMax: number }): Image {
  const header = readPngHeader(bytes);
  checkSize(header.width, header.height, { pixelsMax: options.pixelsMax, what: "PNG" });
  const input = checkChunks(bytes, header);
  let decoded;
  try {
    // pngjs reads with Buffer methods; the view shares the memory, no copy.
    const buffer = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    decoded = PNG.sync.read(buffer, { checkCRC: true });
  } catch (error) {
    throw new MediaError("bad_image", `PNG cannot be decoded: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const { width, height } = header;
  const rgba = decoded.data;
  if (decoded.width !== width || decoded.height !== height || rgba.length !== width * height * 4) {
    throw new MediaError(
      "bad_image",
      `PNG decoded to ${decoded.width}x${decoded.height} (${rgba.length} bytes), ` +
        `the header says ${width}x${height}`,
    );
  }
  const gray = header.colorType === 0 || header.colorType === 4;
  const channels = gray ? 1 : 3;
  const data = new Uint8Array(width * height * channels);
  const pixels = width * height;
  if (gray) {
    for (let p = 0; p < pixels; p += 1) data[p] = rgba[p * 4];
  } else {
    for (let p = 0, o = 0, i = 0; p < pixels; p += 1, o += 3, i += 4) {
      data[o] = rgba[i];
      data[o + 1] = rgba[i + 1];
      data[o + 2] = rgba[i + 2];
    }
  }
  return { width, height, channels, data };
}

/**
 * Encodes an 8-bit gray or RGB image as PNG (color type 0 or 2).
 *
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 * const bytes = encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array([255]) });
 * console.log(bytes[1] === 0x50); // true ("P")
 * ```
 */
export function encodePng(image: Image, options: { deflateLevel?: number } = {}): Uint8Array {
  checkImage(image, "image to encode as PNG");
  const colorType = image.channels === 1 ? 0 : 2;
  const bytes = PNG.sync.write(
    {
      width: image.width,
      height: image.height,
      data: Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength),
    },
    {
      colorType,
      inputColorType: colorType,
      inputHasAlpha: false,
      bitDepth: 8,
      // Level 6 (zlib's default) instead of pngjs's 9: masks are re-encoded per frame.
      deflateLevel: options.deflateLevel ?? 6,
    },
  );
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Walks every chunk so that truncation is reported plainly (pngjs reports it poorly),
 * inflates the image data once with an output bound so that it is exactly what the header
 * needs (pngjs accepts short data silently and bounds nothing for interlaced images), and
 * returns the bytes to decode: the input, or a copy without `tRNS` for gray and RGB images,
 * because pngjs blackens the color of the transparent key and alpha is dropped anyway.
 */
function checkChunks(bytes: Uint8Array, header: PngHeader): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SIGNATURE.length;
  const dataChunks: Uint8Array[] = [];
  let keyChunk: { start: number; end: number } | null = null;
  // Bounded: every iteration consumes at least 12 bytes.
  while (true) {
    if (offset + 12 > bytes.length) {
      throw new MediaError(
        "bad_image",
        `PNG is truncated: ${bytes.length} bytes, a chunk header at byte ${offset} needs 12 more`,
      );
    }
    const length = view.getUint32(offset);
    const type = chunkType(bytes, offset + 4);
    if (length > CHUNK_LENGTH_MAX || offset + 12 + length > bytes.length) {
      throw new MediaError(
        "bad_image",
        `PNG is truncated: chunk '${type}' at byte ${offset} declares ${length} bytes, ` +
          `${Math.max(0, bytes.length - offset - 12)} remain`,
      );
    }
    if (type === "IDAT") dataChunks.push(bytes.subarray(offset + 8, offset + 8 + length));
    if (type === "tRNS" && (header.colorType === 0 || header.colorType === 2)) {
      keyChunk = { start: offset, end: offset + 12 + length };
    }
    offset += 12 + length;
    if (type === "IEND") break;
  }
  if (dataChunks.length === 0) throw new MediaError("bad_image", "PNG has no IDAT chunk");
  checkDataSize(dataChunks, header);
  if (keyChunk === null) return bytes;
  const copy = new Uint8Array(bytes.length - (keyChunk.end - keyChunk.start));
  copy.set(bytes.subarray(0, keyChunk.start), 0);
  copy.set(bytes.subarray(keyChunk.end), keyChunk.start);
  return copy;
}

/** Channels per pixel of each color type. */
const CHANNELS_OF_COLOR_TYPE: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Filtered bytes the header calls for: per row, a filter byte and the packed pixels. */
export function pngDataBytes(header: PngHeader): number {
  const bitsPerPixel = CHANNELS_OF_COLOR_TYPE[header.colorType] * header.bitDepth;
  const passes = header.interlaced ? ADAM7 : [[0, 0, 1, 1] as const];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const width = Math.max(0, Math.ceil((header.width - x0) / dx));
    const height = Math.max(0, Math.ceil((header.height - y0) / dy));
    if (width === 0 || height === 0) continue;
    total += height * (1 + Math.ceil((width * bitsPerPixel) / 8));
  }
  return total;
}

function checkDataSize(chunks: Uint8Array[], header: PngHeader): void {
  const expected = pngDataBytes(header);
  const compressed = Buffer.concat(chunks);
  let inflated;
  try {
    inflated = inflateSync(compressed, { maxOutputLength: expected });
  } catch (error) {
    const tooLong = (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    throw new MediaError(
      "bad_image",
      tooLong
        ? `PNG image data inflates to more than the ${expected} bytes its header needs`
        : `PNG image data cannot be inflated: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  if (inflated.length !== expected) {
    throw new MediaError(
      "bad_image",
      `PNG image data inflates to ${inflated.length} bytes, its ` +
        `${header.width}x${header.height} header needs ${expected}`,
    );
  }
}

function chunkType(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + 4)).replace(/[^\x20-\x7e]/g, "?");
}
