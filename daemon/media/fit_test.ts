import assert from "node:assert/strict";
import {
  convertChannels,
  decodeImage,
  encodePng,
  encodePnm,
  fitGeometry,
  fitImage,
  MediaError,
  resizeBilinear,
  testPattern,
} from "./mod.ts";
import type { Image } from "../sdk/image.ts";

const gray = (width: number, height: number, values: number[]): Image => ({
  width,
  height,
  channels: 1,
  data: Uint8Array.from(values),
});

Deno.test("resizeBilinear matches a hand-computed 2x2 to 4x4 upscale", () => {
  // Half-pixel centres: output x samples the source at (x + 0.5) / 2 - 0.5, i.e.
  // -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1), the same along y.
  const out = resizeBilinear(gray(2, 2, [0, 100, 200, 40]), 4, 4);
  // Row at y = 0 (clamped) is the top source row: 0, 25, 75, 100.
  // Row at y = 0.25: top*0.75 + bottom*0.25, bottom row being 200, 160, 80, 40.
  //   0*.75+200*.25 = 50; 25*.75+160*.25 = 58.75; 75*.75+80*.25 = 76.25; 100*.75+40*.25 = 85.
  // Row at y = 0.75: 150, 126.25, 78.75, 55. Row at y = 1 (clamped): 200, 160, 80, 40.
  assert.deepEqual([...out.data], [
    0,
    25,
    75,
    100,
    50,
    59,
    76,
    85,
    150,
    126,
    79,
    55,
    200,
    160,
    80,
    40,
  ]);
});

Deno.test("resizeBilinear downscales by averaging the two middle taps", () => {
  // 4 -> 2: output x samples at (x + 0.5) * 2 - 0.5 = 0.5 and 2.5.
  const out = resizeBilinear(gray(4, 1, [10, 20, 30, 41]), 2, 1);
  assert.deepEqual([...out.data], [15, 36]);
  // RGB channels are interpolated independently.
  const rgb: Image = {
    width: 2,
    height: 1,
    channels: 3,
    data: Uint8Array.from([0, 10, 255, 100, 30, 255]),
  };
  assert.deepEqual([...resizeBilinear(rgb, 1, 1).data], [50, 20, 255]);
});

Deno.test("convertChannels uses BT.601 weights and replicates gray", () => {
  const rgb: Image = {
    width: 4,
    height: 1,
    channels: 3,
    data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]),
  };
  assert.deepEqual([...convertChannels(rgb, 1).data], [76, 150, 29, 255]);
  assert.deepEqual([...convertChannels(gray(2, 1, [7, 9]), 3).data], [7, 7, 7, 9, 9, 9]);
});

Deno.test("fitImage letterboxes a wide image centred with zero padding", () => {
  const image: Image = { width: 4, height: 2, channels: 1, data: new Uint8Array(8).fill(200) };
  const target = { width: 4, height: 4, channels: 1 as const, mode: "letterbox" as const };
  const geometry = fitGeometry(image, target);
  assert.deepEqual(geometry, {
    width: 4,
    height: 4,
    contentWidth: 4,
    contentHeight: 2,
    offsetX: 0,
    offsetY: 1,
    scaleX: 1,
    scaleY: 1,
  });
  const out = fitImage(image, target);
  assert.deepEqual([...out.data], [0, 0, 0, 0, 200, 200, 200, 200, 200, 200, 200, 200, 0, 0, 0, 0]);

  // A tall 30x90 picture into 64x48 (RGB, from gray): scale 48/90, content 16x48 at x = 24.
  const tall: Image = { width: 30, height: 90, channels: 1, data: new Uint8Array(2700).fill(9) };
  const fitted = fitImage(tall, { width: 64, height: 48, channels: 3, mode: "letterbox" });
  const g = fitGeometry(tall, { width: 64, height: 48, channels: 3, mode: "letterbox" });
  assert.deepEqual([g.contentWidth, g.contentHeight, g.offsetX, g.offsetY], [16, 48, 24, 0]);
  assert.equal(fitted.channels, 3);
  for (let y = 0; y < 48; y += 1) {
    for (let x = 0; x < 64; x += 1) {
      const inside = x >= 24 && x < 40;
      for (let c = 0; c < 3; c += 1) {
        assert.equal(fitted.data[(y * 64 + x) * 3 + c], inside ? 9 : 0, `pixel ${x},${y}`);
      }
    }
  }
});

Deno.test("fitImage stretches, keeps the size for none, and passes through no-ops", () => {
  const image = testPattern(64, 48, 3);
  const stretched = fitImage(image, { width: 32, height: 32, channels: 1, mode: "stretch" });
  assert.deepEqual([stretched.width, stretched.height, stretched.channels], [32, 32, 1]);
  const none = fitImage(image, { width: 7, height: 7, channels: 1, mode: "none" });
  assert.deepEqual([none.width, none.height, none.channels], [64, 48, 1]);
  assert.equal(fitImage(image, { width: 64, height: 48, channels: 3, mode: "stretch" }), image);
});

Deno.test("fitImage refuses inconsistent images and targets", () => {
  const bad = { width: 3, height: 3, channels: 1 as const, data: new Uint8Array(8) };
  assert.throws(
    () => fitImage(bad, { width: 2, height: 2, channels: 1, mode: "stretch" }),
    (e: unknown) =>
      e instanceof MediaError && e.code === "bad_image" && /8 bytes, expected 9/.test(e.message),
  );
  const good = testPattern(4, 4, 1);
  assert.throws(
    () => fitImage(good, { width: 0, height: 2, channels: 1, mode: "stretch" }),
    /target width is 0/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => fitImage(good, { width: 2, height: 2, channels: 1, mode: "crop" as any }),
    /resize mode is 'crop'/,
  );
});

Deno.test("testPattern is deterministic bars over a gray ramp", () => {
  const image = testPattern(16, 9, 3);
  assert.deepEqual(image, testPattern(16, 9, 3));
  // Bar 1 (x 2..3) is yellow, bar 6 (x 12..13) blue; the last row ramps 0..255.
  assert.deepEqual([...image.data.subarray(2 * 3, 2 * 3 + 3)], [191, 191, 0]);
  assert.deepEqual([...image.data.subarray(12 * 3, 12 * 3 + 3)], [0, 0, 191]);
  const last = 8 * 16 * 3;
  assert.equal(image.data[last], 0);
  assert.equal(image.data[last + 15 * 3], 255);
  const luma = testPattern(16, 9, 1);
  assert.equal(luma.data[2], 169); // round(191 * (0.299 + 0.587)) = round(169.2)
});

Deno.test("encoders write files the decoders read back exactly", () => {
  const image = testPattern(33, 17, 3);
  const limit = { pixelsMax: 1 << 20 };
  assert.deepEqual(decodeImage({ bytes: encodePng(image), mediaType: "image/png" }, limit), image);
  const luma = convertChannels(image, 1);
  assert.deepEqual(
    decodeImage({ bytes: encodePnm(luma), mediaType: "image/x-portable-graymap" }, limit),
    luma,
  );
  assert.throws(
    () => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) }),
    /image to encode as PNG data is 11 bytes, expected 12/,
  );
});
