import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import {
  decodeImage,
  encodeJpeg,
  encodePng,
  encodePnm,
  MediaError,
  type MediaErrorCode,
  readJpegHeader,
  testPattern,
} from "./mod.ts";
import type { Image } from "../sdk/image.ts";

const LIMIT = { pixelsMax: 1 << 22 };
const bytesOf = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

function assertMediaError(fn: () => unknown, code: MediaErrorCode, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof MediaError, `expected MediaError, got ${error}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

function gradient(width: number, height: number, channels: 1 | 3): Image {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i += 1) data[i] = (i * 37 + 11) & 0xff;
  return { width, height, channels, data };
}

// A PNG assembled chunk by chunk, for the color types pngjs cannot write (palette, low
// depths) and for broken files.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(bytesOf(type), 4);
  out.set(data, 8);
  let crc = 0xffffffff;
  for (const byte of out.subarray(4, 8 + data.length)) {
    crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  view.setUint32(8 + data.length, (crc ^ 0xffffffff) >>> 0);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function handPng(
  header: { width: number; height: number; depth: number; colorType: number },
  rows: number[][],
  extra: Uint8Array[] = [],
): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, header.width);
  view.setUint32(4, header.height);
  ihdr[8] = header.depth;
  ihdr[9] = header.colorType;
  const raw = Uint8Array.from(rows.flatMap((row) => [0, ...row]));
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...extra,
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array()),
  );
}

Deno.test("decodeImage round-trips gray and RGB PNGs exactly", () => {
  for (const channels of [1, 3] as const) {
    const image = gradient(13, 7, channels);
    const decoded = decodeImage({ bytes: encodePng(image), mediaType: "image/png" }, LIMIT);
    assert.deepEqual(decoded, image);
  }
});

Deno.test("decodeImage reads palette, gray+alpha, RGBA, 16-bit and 1-bit PNGs", () => {
  const palette = handPng(
    { width: 3, height: 1, depth: 8, colorType: 3 },
    [[2, 0, 1]],
    [chunk("PLTE", new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90]))],
  );
  assert.deepEqual(decodeImage({ bytes: palette, mediaType: "image/png" }, LIMIT), {
    width: 3,
    height: 1,
    channels: 3,
    data: new Uint8Array([70, 80, 90, 10, 20, 30, 40, 50, 60]),
  });
  const grayAlpha = handPng({ width: 2, height: 1, depth: 8, colorType: 4 }, [[7, 0, 200, 255]]);
  assert.deepEqual(
    decodeImage({ bytes: grayAlpha, mediaType: "image/png" }, LIMIT).data,
    new Uint8Array([7, 200]),
  );
  const rgba = handPng({ width: 1, height: 1, depth: 8, colorType: 6 }, [[1, 2, 3, 0]]);
  const rgbaImage = decodeImage({ bytes: rgba, mediaType: "image/png" }, LIMIT);
  assert.equal(rgbaImage.channels, 3);
  assert.deepEqual(rgbaImage.data, new Uint8Array([1, 2, 3]));
  // 16-bit RGB: 0xffff → 255, 0x8080 → 128, 0x0000 → 0.
  const deep = handPng({ width: 1, height: 1, depth: 16, colorType: 2 }, [[
    0xff,
    0xff,
    0x80,
    0x80,
    0,
    0,
  ]]);
  assert.deepEqual(
    decodeImage({ bytes: deep, mediaType: "image/png" }, LIMIT).data,
    new Uint8Array([255, 128, 0]),
  );
  // 1-bit gray: 0b10100000 over 3 pixels → 255, 0, 255.
  const bits = handPng({ width: 3, height: 1, depth: 1, colorType: 0 }, [[0b10100000]]);
  assert.deepEqual(decodeImage({ bytes: bits, mediaType: "image/png" }, LIMIT), {
    width: 3,
    height: 1,
    channels: 1,
    data: new Uint8Array([255, 0, 255]),
  });
  // A tRNS colour key must not change the colour (pngjs would blacken it).
  const keyed = handPng(
    { width: 2, height: 1, depth: 8, colorType: 0 },
    [[9, 50]],
    [chunk("tRNS", new Uint8Array([0, 9]))],
  );
  assert.deepEqual(
    decodeImage({ bytes: keyed, mediaType: "image/png" }, LIMIT).data,
    new Uint8Array([9, 50]),
  );
});

Deno.test("decodeImage refuses malformed PNGs with bad_image", () => {
  const good = encodePng(gradient(8, 8, 3));
  const png = (bytes: Uint8Array) => () => decodeImage({ bytes, mediaType: "image/png" }, LIMIT);
  assertMediaError(png(good.subarray(0, 20)), "bad_image", /PNG is 20 bytes/);
  assertMediaError(png(good.subarray(0, good.length - 20)), "bad_image", /truncated/);
  const badMagic = good.slice();
  badMagic[1] = 0x51;
  assertMediaError(png(badMagic), "bad_image", /not a PNG: byte 1/);
  const badCrc = good.slice();
  badCrc[good.length - 13] ^= 0xff; // the IDAT CRC
  assertMediaError(png(badCrc), "bad_image", /PNG cannot be decoded/);
  const badDepth = handPng({ width: 1, height: 1, depth: 3, colorType: 0 }, [[0]]);
  assertMediaError(png(badDepth), "bad_image", /bit depth is 3/);
  const zeroWidth = handPng({ width: 0, height: 1, depth: 8, colorType: 0 }, [[]]);
  assertMediaError(png(zeroWidth), "bad_image", /width is 0/);
  const shortData = handPng({ width: 4, height: 4, depth: 8, colorType: 0 }, [[1, 2, 3, 4]]);
  assertMediaError(png(shortData), "bad_image", /inflates to 5 bytes, its 4x4 header needs 20/);
  const longData = handPng({ width: 1, height: 1, depth: 8, colorType: 0 }, [[1], [2]]);
  assertMediaError(png(longData), "bad_image", /more than the 2 bytes/);
  const badIndex = handPng(
    { width: 1, height: 1, depth: 8, colorType: 3 },
    [[5]],
    [chunk("PLTE", new Uint8Array([1, 2, 3]))],
  );
  assertMediaError(png(badIndex), "bad_image", /palette/);
});

Deno.test("decodeImage refuses an oversized PNG from its header alone", () => {
  // A header announcing 100000 x 100000 followed by no pixel data at all: refused as too
  // large (not as truncated), so nothing was inflated.
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 100000);
  new DataView(ihdr.buffer).setUint32(4, 100000);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const bytes = concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
  );
  assertMediaError(
    () => decodeImage({ bytes, mediaType: "image/png" }, LIMIT),
    "image_too_large",
    /100000x100000 = 10000000000 pixels, more than the limit of 4194304/,
  );
  const small = encodePng(gradient(10, 10, 1));
  assertMediaError(
    () => decodeImage({ bytes: small, mediaType: "image/png" }, { pixelsMax: 99 }),
    "image_too_large",
    /10x10/,
  );
});

async function ffmpegJpeg(pixFmt: string): Promise<{ jpeg: Uint8Array; raw: Uint8Array }> {
  const dir = await Deno.makeTempDir({ prefix: "onebit_media_" });
  try {
    const path = `${dir}/frame.jpg`;
    const encode = await new Deno.Command("ffmpeg", {
      args: [
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=1",
        "-frames:v",
        "1",
        "-pix_fmt",
        pixFmt,
        "-q:v",
        "2",
        path,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(encode.success, new TextDecoder().decode(encode.stderr));
    const decode = await new Deno.Command("ffmpeg", {
      args: [
        "-v",
        "error",
        "-i",
        path,
        "-f",
        "rawvideo",
        "-pix_fmt",
        pixFmt === "gray" ? "gray" : "rgb24",
        "-",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(decode.success, new TextDecoder().decode(decode.stderr));
    return { jpeg: await Deno.readFile(path), raw: decode.stdout };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

Deno.test("decodeImage decodes real ffmpeg JPEGs like ffmpeg does", async () => {
  const color = await ffmpegJpeg("yuvj420p");
  const image = decodeImage({ bytes: color.jpeg, mediaType: "image/jpeg" }, LIMIT);
  assert.equal(image.width, 64);
  assert.equal(image.height, 48);
  assert.equal(image.channels, 3);
  // Two decoders differ in IDCT and chroma upsampling, not in the picture.
  assert.ok(
    meanAbsDiff(image.data, color.raw) < 4,
    `mean diff ${meanAbsDiff(image.data, color.raw)}`,
  );

  // Full-resolution chroma, under the image/jpg alias.
  const full = await ffmpegJpeg("yuvj444p");
  const fullImage = decodeImage({ bytes: full.jpeg, mediaType: "image/jpg" }, LIMIT);
  assert.ok(meanAbsDiff(fullImage.data, full.raw) < 4);
});

Deno.test("decodeImage round-trips a jpeg-js JPEG closely and refuses broken ones", () => {
  const image = testPattern(32, 16, 3);
  const jpeg = encodeJpeg(image, { quality: 95 });
  assert.deepEqual(readJpegHeader(jpeg), { width: 32, height: 16, components: 3 });
  const decoded = decodeImage({ bytes: jpeg, mediaType: "image/jpeg" }, LIMIT);
  assert.ok(meanAbsDiff(decoded.data, image.data) < 6);

  const jpg = (bytes: Uint8Array) => () => decodeImage({ bytes, mediaType: "image/jpeg" }, LIMIT);
  assertMediaError(jpg(bytesOf("GIF89a")), "bad_image", /not a JPEG/);
  assertMediaError(jpg(jpeg.subarray(0, 10)), "bad_image", /truncated/);
  assertMediaError(jpg(jpeg.subarray(0, jpeg.length - 100)), "bad_image", /JPEG cannot be decoded/);
  // SOI then SOF0 announcing 60000 x 60000: refused from the header.
  const huge = new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xc0,
    0,
    11,
    8,
    0xea,
    0x60,
    0xea,
    0x60,
    1,
    1,
    0x11,
    0,
  ]);
  assertMediaError(jpg(huge), "image_too_large", /60000x60000/);
  const zeroHeight = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0, 0, 0, 8, 1, 1, 0x11, 0]);
  assertMediaError(jpg(zeroHeight), "bad_image", /height is 0/);
});

Deno.test("decodeImage reads P5 and P6 with comments and rescales other maxvals", () => {
  const pgm = bytesOf("P5\n# made by hand\n3 # width\n1\n255\n\x00\x80\xff");
  assert.deepEqual(decodeImage({ bytes: pgm, mediaType: "image/x-portable-graymap" }, LIMIT), {
    width: 3,
    height: 1,
    channels: 1,
    data: new Uint8Array([0, 128, 255]),
  });
  const ppm = bytesOf("P6 1 2 15\n\x00\x0f\x05\x0a\x01\x02");
  assert.deepEqual(
    decodeImage({ bytes: ppm, mediaType: "image/x-portable-pixmap" }, LIMIT).data,
    new Uint8Array([0, 255, 85, 170, 17, 34]),
  );
  // 16-bit: 65535 → 255, 32768 → 128, 257 → 1.
  const wide = bytesOf("P5 3 1 65535\n\xff\xff\x80\x00\x01\x01");
  assert.deepEqual(
    decodeImage({ bytes: wide, mediaType: "image/x-portable-pixmap" }, LIMIT).data,
    new Uint8Array([255, 128, 1]),
  );
  const image = gradient(5, 3, 3);
  assert.deepEqual(
    decodeImage({ bytes: encodePnm(image), mediaType: "image/x-portable-pixmap" }, LIMIT),
    image,
  );
});

Deno.test("decodeImage refuses malformed PNM files with bad_image", () => {
  const pnm = (text: string) => () =>
    decodeImage({ bytes: bytesOf(text), mediaType: "image/x-portable-pixmap" }, LIMIT);
  assertMediaError(
    pnm("P6 2 2 255\n\x00\x00\x00"),
    "bad_image",
    /raster is 3 bytes, 2x2x3 at maxval 255 needs 12/,
  );
  assertMediaError(pnm("P5 1 1 255\n\x00\x00"), "bad_image", /raster is 2 bytes/);
  assertMediaError(pnm("P5 1 1 0\n\x00"), "bad_image", /maxval is 0/);
  assertMediaError(pnm("P5 1 1 70000\n\x00"), "bad_image", /maxval is 70000/);
  assertMediaError(
    pnm("P5 -2 1 255\n\x00"),
    "bad_image",
    /width at byte 3 is not a decimal number: found '-2/,
  );
  assertMediaError(pnm("P5 0 1 255\n"), "bad_image", /width is 0/);
  assertMediaError(pnm("P3 1 1 255\n0 0 0"), "bad_image", /P3.*not supported/);
  assertMediaError(pnm("Q5 1 1 255\n\x00"), "bad_image", /not a PNM/);
  assertMediaError(pnm("P5 1x 1 255\n\x00"), "bad_image", /width at byte 4 is followed by 'x'/);
  assertMediaError(pnm("P5 1 1"), "bad_image", /truncated: the file ends before its maxval/);
  assertMediaError(
    pnm("P5 2 1 15\n\x00\x10"),
    "bad_image",
    /sample 1 is 16, above the maxval of 15/,
  );
  assertMediaError(pnm("P5 1 1 255"), "bad_image", /without the whitespace before the raster/);
  assertMediaError(pnm("P5 99999999999 1 255\n"), "bad_image", /more than 10 digits/);
  assertMediaError(pnm("P5 5000 5000 255\n"), "image_too_large", /5000x5000/);
});

Deno.test("decodeImage wraps raw tensors without a copy and checks their shape", () => {
  const bytes = new Uint8Array(2 * 3 * 3).map((_, i) => i);
  const image = decodeImage(
    { bytes, mediaType: "application/octet-stream", shape: [2, 3, 3] },
    LIMIT,
  );
  assert.equal(image.width, 3);
  assert.equal(image.height, 2);
  assert.equal(image.data, bytes);
  const raw = (shape: readonly [number, number, number] | undefined, length = 18) => () =>
    decodeImage(
      { bytes: new Uint8Array(length), mediaType: "application/octet-stream", shape },
      LIMIT,
    );
  assertMediaError(raw([2, 3, 3], 17), "bad_image", /17 bytes, shape \[2, 3, 3\] needs 18/);
  assertMediaError(raw(undefined), "bad_image", /shape is null/);
  assertMediaError(raw([2, 3, 4], 24), "bad_image", /4 channels/);
  assertMediaError(raw([-2, 3, 3]), "bad_image", /height is -2/);
  assertMediaError(raw([2, 1.5, 3]), "bad_image", /width is 1.5/);
  assertMediaError(raw([3000, 3000, 1], 9), "image_too_large", /3000x3000/);
});

Deno.test("decodeImage refuses unknown media types", () => {
  assertMediaError(
    () => decodeImage({ bytes: new Uint8Array(4), mediaType: "image/gif" }, LIMIT),
    "unsupported_media_type",
    /'image\/gif' is not supported/,
  );
});
