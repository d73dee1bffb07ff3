/**
 * The pool bindings (scalar reference and SIMD contexts) against a straightforward
 * TypeScript model of the contract: max of decoded ±1 values for the binary max pool, f32
 * sums rounded at every step, exact int8 means rounded half away from zero. Small shapes,
 * exact comparisons.
 */

import assert from "node:assert/strict";
import { KernelError } from "./errors.ts";
import { KernelContext, openKernels } from "./library.ts";
import {
  avgPool2d,
  globalAvgPool,
  maxPool2dBits,
  poolOutputLength,
  poolOutputPixels,
  type PoolWindow,
} from "./pool.ts";
import { outH, outW, wordsFor } from "./shape.ts";
import { rng } from "./test_support.ts";

function windowOf(
  batch: number,
  inH: number,
  inW: number,
  inC: number,
  kernel: number,
  stride: number,
  pads: [number, number, number, number],
): PoolWindow {
  const [padTop, padBottom, padLeft, padRight] = pads;
  return {
    batch,
    inH,
    inW,
    inC,
    kernelH: kernel,
    kernelW: kernel,
    strideH: stride,
    strideW: stride,
    padTop,
    padBottom,
    padLeft,
    padRight,
  };
}

const windows: PoolWindow[] = [
  windowOf(1, 5, 5, 3, 3, 2, [1, 1, 1, 1]),
  windowOf(2, 6, 7, 65, 2, 2, [0, 1, 1, 0]),
  windowOf(1, 4, 9, 130, 3, 1, [2, 0, 0, 2]),
  windowOf(1, 8, 8, 64, 5, 3, [4, 2, 1, 3]),
  windowOf(1, 1, 1, 200, 1, 1, [0, 0, 0, 0]),
];

/** Calls `visit(index, c, pixels)` per output value with the in-image input pixels. */
function eachOutput(
  w: PoolWindow,
  visit: (index: number, c: number, pixels: number[]) => void,
): void {
  let index = 0;
  for (let n = 0; n < w.batch; n++) {
    for (let oy = 0; oy < outH(w); oy++) {
      for (let ox = 0; ox < outW(w); ox++) {
        const pixels: number[] = [];
        for (let ky = 0; ky < w.kernelH; ky++) {
          const iy = oy * w.strideH + ky - w.padTop;
          if (iy < 0 || iy >= w.inH) continue;
          for (let kx = 0; kx < w.kernelW; kx++) {
            const ix = ox * w.strideW + kx - w.padLeft;
            if (ix >= 0 && ix < w.inW) pixels.push((n * w.inH + iy) * w.inW + ix);
          }
        }
        for (let c = 0; c < w.inC; c++) visit(index++, c, pixels);
      }
    }
  }
}

/** sign(sum) * floor((2|sum| + count) / (2 count)): the mean rounded half away from zero. */
function roundedMean(sum: number, count: number): number {
  const q = Math.floor((2 * Math.abs(sum) + count) / (2 * count));
  return sum < 0 ? -q : q;
}

function bitOf(words: BigUint64Array, pixel: number, channels: number, c: number): number {
  return Number((words[pixel * wordsFor(channels) + (c >> 6)] >> BigInt(c & 63)) & 1n);
}

function randomBits(random: () => number, pixels: number, channels: number): BigUint64Array {
  const words = new BigUint64Array(pixels * wordsFor(channels));
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      // Mostly -1 (bit 1), so a window's max is often -1 too.
      if (random() < 0.8) words[p * wordsFor(channels) + (c >> 6)] |= 1n << BigInt(c & 63);
    }
  }
  return words;
}

function withContexts(run: (ctx: KernelContext, label: string) => void): void {
  using lib = openKernels();
  for (const forceScalar of [false, true]) {
    using ctx = new KernelContext(lib, { threads: 2, forceScalar });
    run(ctx, `${lib.level} ${ctx.variant}`);
  }
}

Deno.test("maxPool2dBits is the max of the window's ±1 values", () => {
  withContexts((ctx, label) => {
    windows.forEach((w, i) => {
      const random = rng(10 + i);
      const input = randomBits(random, w.batch * w.inH * w.inW, w.inC);
      const expected = new BigUint64Array(poolOutputLength(w, "bits"));
      const words = wordsFor(w.inC);
      eachOutput(w, (index, c, pixels) => {
        const max = Math.max(...pixels.map((p) => (bitOf(input, p, w.inC, c) === 1 ? -1 : 1)));
        const pixel = Math.floor(index / w.inC);
        if (max === -1) expected[pixel * words + (c >> 6)] |= 1n << BigInt(c & 63);
      });
      const output = new BigUint64Array(expected.length).fill(0xdeadn);
      maxPool2dBits(ctx, w, input, output);
      assert.deepEqual(output, expected, `${label}, window ${i}`);
    });
  });
});

Deno.test("avgPool2d averages f32 over the real pixels of the window", () => {
  withContexts((ctx, label) => {
    windows.forEach((w, i) => {
      const random = rng(20 + i);
      const input = Float32Array.from(
        { length: w.batch * w.inH * w.inW * w.inC },
        () => random() * 8 - 4,
      );
      const expected = new Float32Array(poolOutputLength(w));
      eachOutput(w, (index, c, pixels) => {
        let sum = 0;
        for (const p of pixels) sum = Math.fround(sum + input[p * w.inC + c]);
        expected[index] = Math.fround(sum / pixels.length);
      });
      const output = new Float32Array(expected.length);
      avgPool2d(ctx, w, input, output);
      assert.deepEqual(output, expected, `${label}, window ${i}`);
    });
  });
});

Deno.test("avgPool2d averages int8 rounding half away from zero", () => {
  withContexts((ctx, label) => {
    windows.forEach((w, i) => {
      const random = rng(30 + i);
      const input = Int8Array.from(
        { length: w.batch * w.inH * w.inW * w.inC },
        (_, k) => (k % 5 === 0 ? -128 : Math.floor(random() * 256) - 128),
      );
      const expected = new Int8Array(poolOutputLength(w));
      eachOutput(w, (index, c, pixels) => {
        const sum = pixels.reduce((total, p) => total + input[p * w.inC + c], 0);
        expected[index] = roundedMean(sum, pixels.length);
      });
      const output = new Int8Array(expected.length);
      avgPool2d(ctx, w, input, output);
      assert.deepEqual(output, expected, `${label}, window ${i}`);
    });
    // Ties: (1 + 2) / 2 = 1.5 -> 2 and -1.5 -> -2; 2 + 2 + 1 + 0 = 5 / 4 = 1.25 -> 1.
    const pair = windowOf(1, 1, 2, 2, 1, 1, [0, 0, 0, 0]);
    const ties = new Int8Array(1);
    avgPool2d(ctx, { ...pair, kernelW: 2, inC: 1 }, Int8Array.of(1, 2), ties);
    assert.equal(ties[0], 2);
    avgPool2d(ctx, { ...pair, kernelW: 2, inC: 1 }, Int8Array.of(-1, -2), ties);
    assert.equal(ties[0], -2);
  });
});

Deno.test("globalAvgPool averages f32 and int8 over the whole image", () => {
  withContexts((ctx, label) => {
    for (const [batch, height, width, channels] of [[1, 3, 3, 1], [2, 5, 4, 65], [1, 7, 7, 200]]) {
      const random = rng(40 + channels);
      const pixels = height * width;
      const real = Float32Array.from({ length: batch * pixels * channels }, () => random() - 0.5);
      const small = Int8Array.from(
        { length: real.length },
        () => Math.floor(random() * 256) - 128,
      );
      const expectedReal = new Float32Array(batch * channels);
      const expectedSmall = new Int8Array(batch * channels);
      for (let n = 0; n < batch; n++) {
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          let exact = 0;
          for (let p = 0; p < pixels; p++) {
            sum = Math.fround(sum + real[(n * pixels + p) * channels + c]);
            exact += small[(n * pixels + p) * channels + c];
          }
          expectedReal[n * channels + c] = Math.fround(sum / pixels);
          expectedSmall[n * channels + c] = roundedMean(exact, pixels);
        }
      }
      const dims = { batch, height, width, channels };
      const outReal = new Float32Array(batch * channels);
      globalAvgPool(ctx, dims, real, outReal);
      assert.deepEqual(outReal, expectedReal, `${label}, ${channels} channels`);
      const outSmall = new Int8Array(batch * channels);
      globalAvgPool(ctx, dims, small, outSmall);
      assert.deepEqual(outSmall, expectedSmall, `${label}, ${channels} channels`);
    }
  });
});

function assertKernelError(run: () => void, code: string, includes?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof KernelError, `expected a KernelError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (includes !== undefined) assert.ok(error.message.includes(includes), error.message);
    return true;
  });
}

Deno.test("pools refuse bad arguments with a KernelError", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const w = windowOf(1, 4, 4, 65, 2, 2, [0, 0, 0, 0]);
  const bits = new BigUint64Array(16 * 2);
  const bitsOut = new BigUint64Array(poolOutputPixels(w) * 2);
  maxPool2dBits(ctx, w, bits, bitsOut);
  assertKernelError(
    () => maxPool2dBits(ctx, w, bits.subarray(1), bitsOut),
    "buffer_too_small",
    "input words",
  );
  assertKernelError(() => maxPool2dBits(ctx, w, bits, bitsOut.subarray(1)), "buffer_too_small");
  assertKernelError(() => maxPool2dBits(ctx, { ...w, outC: 64 }, bits, bitsOut), "shape_mismatch");
  assertKernelError(
    () => maxPool2dBits(ctx, { ...w, batch: 0 }, bits, bitsOut),
    "invalid_argument",
  );
  assertKernelError(
    () => maxPool2dBits(ctx, { ...w, padTop: 2 }, bits, bitsOut),
    "invalid_argument",
  );
  assertKernelError(
    () => maxPool2dBits(ctx, { ...w, kernelH: 16 }, bits, bitsOut),
    "limit_exceeded",
  );

  const real = new Float32Array(16 * 65);
  assertKernelError(
    () => avgPool2d(ctx, w, real, new Float32Array(4 * 65 - 1)),
    "buffer_too_small",
    "output",
  );
  assertKernelError(
    () => avgPool2d(ctx, w, new Int8Array(16 * 65), new Float32Array(4 * 65) as never),
    "invalid_argument",
    "Int8Array",
  );
  assertKernelError(() => avgPool2d(ctx, { ...w, inH: 0 }, real, real), "invalid_argument");

  assertKernelError(
    () => globalAvgPool(ctx, { batch: 1, height: 4, width: 4, channels: 0 }, real, real),
    "invalid_argument",
    "channels is 0",
  );
  assertKernelError(
    () => globalAvgPool(ctx, { batch: 2, height: 4, width: 4, channels: 65 }, real, real),
    "buffer_too_small",
  );
  assertKernelError(
    () => globalAvgPool(ctx, { batch: 1, height: -1, width: 4, channels: 65 }, real, real),
    "invalid_argument",
  );
  assertKernelError(
    () => globalAvgPool(ctx, { batch: 1, height: 20000, width: 4, channels: 65 }, real, real),
    "limit_exceeded",
  );
});
