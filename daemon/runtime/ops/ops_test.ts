/**
 * The TypeScript ops on hand-computed cases: ties, tails, padding and orderings that random
 * data rarely hits. (Random graphs of every op are checked against the reference
 * interpreter in `executor_test.ts`.)
 */

import assert from "node:assert/strict";
import { expandCodebook as expandCodebookKernel } from "../../kernels/codebook.ts";
import { KernelContext, openKernels } from "../../kernels/library.ts";
import { seededRandom } from "../test_fixtures.ts";
import { argmax } from "./argmax.ts";
import { avgPool, avgPoolBits, globalAvgPool } from "./avgpool.ts";
import { binealJoin } from "./bineal_join.ts";
import { expandCodebook } from "./codebook_expand.ts";
import { concatBits, concatBytes } from "./concat.ts";
import { depthToSpace, depthToSpaceBits } from "./depth_to_space.ts";
import { maxPool } from "./maxpool.ts";
import { quantize, roundHalfEven } from "./quantize.ts";
import { sigmoid } from "./sigmoid.ts";
import { softmax } from "./softmax.ts";
import { bilinearAxis, upsampleBilinear, upsampleNearest } from "./upsample.ts";
import { windowGeometry } from "./window.ts";

Deno.test("roundHalfEven rounds ties to the even neighbour", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [-2.5, -2],
    [2.4999, 2],
    [2.5001, 3],
    [-3.7, -4],
  ];
  for (const [x, expected] of cases) assert.equal(roundHalfEven(x), expected, `${x}`);
});

Deno.test("quantize divides in f32, rounds ties to even and clamps", () => {
  const out = new Uint8Array(6);
  quantize(Float32Array.of(0.25, 0.75, 1.25, -100, 100, NaN), out, {
    scale: 0.5,
    zeroPoint: 10,
  });
  assert.deepEqual([...out], [10, 12, 12, 0, 210, 10]);
  const signed = new Int8Array(3);
  quantize(Float32Array.of(-1000, 1000, -0.5), signed, { scale: 1, zeroPoint: -3 });
  assert.deepEqual([...signed], [-128, 127, -3]);
});

Deno.test("maxPool ignores padded taps and keeps the first maximum", () => {
  // 1x3x3x1, 2x2 window, stride 1, pad 1 on every side: corner windows see 1 real value.
  const g = windowGeometry([1, 3, 3, 1], { kernel: [2, 2], stride: [2, 2], pads: [1, 1, 1, 1] });
  const out = new Int8Array(4);
  maxPool(Int8Array.of(-9, -8, -7, -6, -5, -4, -3, -2, -1), out, g);
  assert.deepEqual([...out], [-9, -7, -3, -1]);
});

Deno.test("avgPool divides by real taps or by the kernel area with count_include_pad", () => {
  const g = windowGeometry([1, 2, 2, 1], { kernel: [2, 2], stride: [2, 2], pads: [1, 1, 1, 1] });
  const input = Int32Array.of(4, 8, 12, 16);
  const real = new Float32Array(4);
  avgPool(input, real, g, { countIncludePad: false, scratch: new Float64Array(1) });
  assert.deepEqual([...real], [4, 8, 12, 16]);
  const area = new Float32Array(4);
  avgPool(input, area, g, { countIncludePad: true, scratch: new Float64Array(1) });
  assert.deepEqual([...area], [1, 2, 3, 4]);
});

Deno.test("avgPool sums f32 values in f32 steps", () => {
  // 2^24 + 1 is not an f32: summed in f32, 16777216 + 1 + 1 stays 16777216.
  const g = windowGeometry([1, 1, 3, 1], { kernel: [1, 3], stride: [1, 1], pads: [0, 0, 0, 0] });
  const out = new Float32Array(1);
  avgPool(Float32Array.of(16777216, 1, 1), out, g, {
    countIncludePad: false,
    scratch: new Float64Array(1),
  });
  assert.equal(out[0], Math.fround(16777216 / 3));
});

Deno.test("avgPoolBits reads bits as ±1", () => {
  // Two pixels of 65 channels: channel 0 is -1 in both, channel 64 is -1 in one.
  const halves = new Uint32Array(8);
  halves[0] = 1;
  halves[4] = 1;
  halves[6] = 1;
  const g = windowGeometry([1, 1, 2, 65], { kernel: [1, 2], stride: [1, 1], pads: [0, 0, 0, 0] });
  const out = new Float32Array(65);
  avgPoolBits(halves, out, g, { countIncludePad: false, scratch: new Float64Array(65) });
  assert.equal(out[0], -1);
  assert.equal(out[1], 1);
  assert.equal(out[64], 0);
});

Deno.test("globalAvgPool averages every pixel per image and channel", () => {
  const out = new Float32Array(4);
  globalAvgPool(
    Uint8Array.of(1, 10, 3, 20, 5, 30, 7, 40),
    out,
    { batch: 2, pixels: 2, channels: 2 },
    new Float64Array(2),
  );
  assert.deepEqual([...out], [2, 15, 6, 35]);
});

Deno.test("upsampleNearest repeats pixels and rows", () => {
  const arena = new Uint8Array(4 + 24);
  arena.set([1, 2, 3, 4]); // 1x1x2 pixels of 2 bytes
  upsampleNearest(arena, { inOffset: 0, outOffset: 4, pixelBytes: 2 }, {
    batch: 1,
    inH: 1,
    inW: 2,
    channels: 2,
    scaleH: 2,
    scaleW: 3,
  });
  assert.deepEqual(
    [...arena.subarray(4)],
    [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4],
  );
});

Deno.test("upsampleBilinear follows half-pixel and aligned-corner coordinates", () => {
  const sizes = { batch: 1, inH: 1, inW: 3, channels: 1, scaleH: 1, scaleW: 2 };
  const rows = bilinearAxis(1, 1, false);
  const input = Float32Array.of(0, 10, 20);
  const half = new Float32Array(6);
  upsampleBilinear(input, half, sizes, { rows, cols: bilinearAxis(3, 2, false) });
  assert.deepEqual([...half], [0, 2.5, 7.5, 12.5, 17.5, 20]);
  const aligned = new Float32Array(6);
  upsampleBilinear(input, aligned, sizes, { rows, cols: bilinearAxis(3, 2, true) });
  assert.deepEqual([...aligned], [0, 4, 8, 12, 16, 20]);
});

Deno.test("concatBytes and concatBits place each input at its channel offset", () => {
  const arena = Uint8Array.of(1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0);
  // Two pixels: a has 1 byte per pixel at 0, b has 2 at 2.
  concatBytes(arena, { inputOffsets: [0, 2], inputBytes: [1, 2], outOffset: 6 }, 2);
  assert.deepEqual([...arena.subarray(6)], [1, 3, 4, 2, 5, 6]);
  // 63 channels all -1, then 3 channels (-1, +1, -1): bits 0..62 and 63, 65.
  const a = Uint32Array.of(0xffff_ffff, 0x7fff_ffff);
  const b = Uint32Array.of(0b101, 0);
  const out = new Uint32Array(4);
  concatBits([a, b], [63, 3], out, 1);
  assert.deepEqual([...out], [0xffff_ffff, 0xffff_ffff, 0b10, 0]);
});

Deno.test("depthToSpace orders channels as ONNX dcr and crd", () => {
  // One pixel of 8 channels, block 2: 2 output channels per sub-pixel.
  const input = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7);
  const sizes = { batch: 1, inH: 1, inW: 1, inC: 8, block: 2 };
  const dcr = new Uint8Array(8);
  depthToSpace(input, dcr, { ...sizes, mode: "dcr" });
  assert.deepEqual([...dcr], [0, 1, 2, 3, 4, 5, 6, 7]);
  const crd = new Uint8Array(8);
  depthToSpace(input, crd, { ...sizes, mode: "crd" });
  assert.deepEqual([...crd], [0, 4, 1, 5, 2, 6, 3, 7]);
  const bits = new Uint32Array(8);
  depthToSpaceBits(Uint32Array.of(0b1001_0000, 0), bits, { ...sizes, mode: "crd" });
  // Channel 4 -> sub-pixel 0 channel 1; channel 7 -> sub-pixel 3 channel 1.
  assert.deepEqual([...bits], [0b10, 0, 0, 0, 0, 0, 0b10, 0]);
});

Deno.test("softmax and sigmoid round once to f32", () => {
  const out = new Float32Array(3);
  softmax(Float32Array.of(1, 2, 3), out, { pixels: 1, channels: 3 }, new Float64Array(3));
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const sum = e[0] + e[1] + e[2];
  assert.deepEqual([...out], e.map((v) => Math.fround(v / sum)));
  const s = new Float32Array(2);
  sigmoid(Float32Array.of(0, -2), s);
  assert.deepEqual([...s], [0.5, Math.fround(1 / (1 + Math.exp(2)))]);
});

Deno.test("argmax keeps the first of equal maxima", () => {
  const out = new Int32Array(3);
  argmax(Int8Array.of(5, 5, 1, -1, -1, -1, 0, 2, 2), out, { pixels: 3, channels: 3 });
  assert.deepEqual([...out], [0, 0, 1]);
});

Deno.test("binealJoin saturates the sum and thresholds it with flips", () => {
  const out = new Uint32Array(2);
  binealJoin(Int8Array.of(7, -8, 3, 1), Int8Array.of(7, -8, -3, 0), out, {
    pixels: 1,
    channels: 4,
    qmin: -8,
    qmax: 7,
    thresholds: Int32Array.of(7, -8, 0, 1),
    flips: Int32Array.of(0, 0, 1, 0),
  });
  // s = 7 (7 < 7: +1), -8 (-8 < -8: +1), 0 (flip: 0 > 0: +1), 1 (1 < 1: +1)
  assert.equal(out[0], 0);
  binealJoin(Int8Array.of(6), Int8Array.of(0), out, {
    pixels: 1,
    channels: 1,
    qmin: -8,
    qmax: 7,
    thresholds: Int32Array.of(7),
  });
  assert.equal(out[0], 1);
});

Deno.test("expandCodebook matches the kernel library's 3x3 expansion", () => {
  const lib = openKernels();
  const ctx = new KernelContext(lib, { threads: 1 });
  try {
    const random = seededRandom(3);
    for (const [outC, inC, tau] of [[1, 1, 1], [5, 63, 4], [7, 65, 6], [3, 130, 8]]) {
      const codebook = Uint16Array.from({ length: 2 ** tau }, () => Math.floor(random() * 512));
      const indices = Uint8Array.from(
        { length: outC * inC },
        () => Math.floor(random() * 2 ** tau),
      );
      const ours = expandCodebook(codebook, indices, { outC, kernelH: 3, kernelW: 3, inC });
      const theirs = expandCodebookKernel(ctx, { tau, outC, inC, codebook, indices });
      assert.deepEqual(ours, theirs, `outC ${outC} inC ${inC} tau ${tau}`);
    }
  } finally {
    ctx.destroy();
    lib.close();
  }
});
