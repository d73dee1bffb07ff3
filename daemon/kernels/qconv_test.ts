/**
 * The qconv bindings (scalar reference and SIMD contexts) against a straightforward
 * TypeScript model of the contract: int32 accumulation with the zero point subtracted per
 * product, MLAS requantization in f32 (Math.fround at every step), the f32 conv with one
 * rounding per operation. Shapes are small; every value must match exactly.
 */

import assert from "node:assert/strict";
import { KernelError } from "./errors.ts";
import { KernelContext, openKernels } from "./library.ts";
import {
  conv2dF32,
  dequantScales,
  packQconvWeights,
  qconv2d,
  qconv2dFloat,
  qconv2dInt32,
  qconvOutputLength,
  qconvPackedBytes,
  requantScales,
} from "./qconv.ts";
import { outH, outW, type Window2d } from "./shape.ts";
import { rng } from "./test_support.ts";

function windowOf(
  batch: number,
  inH: number,
  inW: number,
  inC: number,
  outC: number,
  kernel: number,
  stride: number,
  pads: [number, number, number, number],
): Window2d {
  const [padTop, padBottom, padLeft, padRight] = pads;
  return {
    batch,
    inH,
    inW,
    inC,
    outC,
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

/** Calls `visit(n, oy, ox, o, taps)` per output value with the in-image taps of its window. */
function eachOutput(
  shape: Window2d,
  visit: (index: number, o: number, taps: { pixel: number; weight: number }[]) => void,
): void {
  const oh = outH(shape);
  const ow = outW(shape);
  let index = 0;
  for (let n = 0; n < shape.batch; n++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < shape.outC; o++) {
          const taps: { pixel: number; weight: number }[] = [];
          for (let ky = 0; ky < shape.kernelH; ky++) {
            const iy = oy * shape.strideH + ky - shape.padTop;
            if (iy < 0 || iy >= shape.inH) continue;
            for (let kx = 0; kx < shape.kernelW; kx++) {
              const ix = ox * shape.strideW + kx - shape.padLeft;
              if (ix < 0 || ix >= shape.inW) continue;
              taps.push({
                pixel: ((n * shape.inH + iy) * shape.inW + ix) * shape.inC,
                weight: ((o * shape.kernelH + ky) * shape.kernelW + kx) * shape.inC,
              });
            }
          }
          visit(index++, o, taps);
        }
      }
    }
  }
}

/** acc = bias + sum (x - xZeroPoint) * w over the in-image taps, wrapping like int32. */
function modelAccumulator(
  shape: Window2d,
  input: Uint8Array,
  xZeroPoint: number,
  weights: Int8Array,
  bias: Int32Array | undefined,
): Int32Array {
  const out = new Int32Array(qconvOutputLength(shape));
  eachOutput(shape, (index, o, taps) => {
    let acc = bias?.[o] ?? 0;
    for (const { pixel, weight } of taps) {
      for (let c = 0; c < shape.inC; c++) {
        acc = (acc + (input[pixel + c] - xZeroPoint) * weights[weight + c]) | 0;
      }
    }
    out[index] = acc;
  });
  return out;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** MLAS requantization: f32 scale, clamp in float, round half to even, add the zero point. */
function modelRequantize(acc: number, scale: number, yZeroPoint: number): number {
  const scaled = Math.fround(Math.fround(acc) * scale);
  const clamped = Math.min(Math.max(scaled, -yZeroPoint), 255 - yZeroPoint);
  return roundHalfEven(clamped) + yZeroPoint;
}

interface Case {
  shape: Window2d;
  input: Uint8Array;
  weights: Int8Array;
  bias?: Int32Array;
  scale: Float32Array;
  xZeroPoint: number;
  yZeroPoint: number;
}

function randomCase(shape: Window2d, seed: number, withBias: boolean): Case {
  const random = rng(seed);
  const byte = () => Math.floor(random() * 256);
  const input = Uint8Array.from({ length: shape.batch * shape.inH * shape.inW * shape.inC }, byte);
  const weights = Int8Array.from(
    { length: shape.outC * shape.kernelH * shape.kernelW * shape.inC },
    () => byte() - 128,
  );
  const bias = withBias
    ? Int32Array.from({ length: shape.outC }, () => Math.floor(random() * 20001) - 10000)
    : undefined;
  // Exact powers of two make .5 ties common; small random scales spread the outputs.
  const scale = Float32Array.from(
    { length: shape.outC },
    (_, o) => o % 3 === 0 ? 0.5 : o % 3 === 1 ? 0.25 : random() * 0.01,
  );
  return { shape, input, weights, bias, scale, xZeroPoint: byte(), yZeroPoint: byte() };
}

const shapes: Window2d[] = [
  windowOf(1, 5, 6, 3, 16, 3, 2, [1, 1, 1, 1]),
  windowOf(2, 4, 4, 65, 33, 3, 1, [1, 0, 2, 1]),
  windowOf(1, 7, 5, 8, 7, 1, 1, [0, 0, 0, 0]),
  windowOf(1, 6, 6, 17, 40, 5, 2, [2, 2, 4, 0]),
  windowOf(1, 1, 1, 64, 64, 3, 1, [1, 1, 1, 1]),
];

function withContexts(run: (ctx: KernelContext, label: string) => void): void {
  using lib = openKernels();
  for (const forceScalar of [false, true]) {
    using ctx = new KernelContext(lib, { threads: 2, forceScalar });
    run(ctx, `${lib.level} ${ctx.variant}`);
  }
}

Deno.test("qconv2d matches the TypeScript model of QLinearConv on small shapes", () => {
  withContexts((ctx, label) => {
    shapes.forEach((shape, i) => {
      const c = randomCase(shape, 100 + i, i % 2 === 0);
      const packedWeights = packQconvWeights(ctx, shape, c.weights);
      const acc = modelAccumulator(shape, c.input, c.xZeroPoint, c.weights, c.bias);
      const expected = Uint8Array.from(
        acc,
        (value, index) => modelRequantize(value, c.scale[index % shape.outC], c.yZeroPoint),
      );
      const output = new Uint8Array(qconvOutputLength(shape));
      qconv2d(ctx, shape, { ...c, packedWeights, output });
      assert.deepEqual(output, expected, `${label}, shape ${i}, seed ${100 + i}`);
    });
  });
});

Deno.test("qconv2dInt32 and qconv2dFloat give the accumulator and its dequantized value", () => {
  withContexts((ctx, label) => {
    shapes.forEach((shape, i) => {
      const c = randomCase(shape, 200 + i, i % 2 === 1);
      const packedWeights = packQconvWeights(ctx, shape, c.weights);
      const acc = modelAccumulator(shape, c.input, c.xZeroPoint, c.weights, c.bias);
      const accOut = new Int32Array(acc.length);
      qconv2dInt32(ctx, shape, { ...c, packedWeights, output: accOut });
      assert.deepEqual(accOut, acc, `${label}, shape ${i}`);
      const scale = dequantScales(
        0.02,
        Array.from({ length: shape.outC }, (_, o) => 0.001 * (o + 1)),
        shape.outC,
      );
      const real = new Float32Array(acc.length);
      qconv2dFloat(ctx, shape, { ...c, scale, packedWeights, output: real });
      const expected = Float32Array.from(
        acc,
        (value, index) => Math.fround(Math.fround(value) * scale[index % shape.outC]),
      );
      assert.deepEqual(real, expected, `${label}, shape ${i}`);
    });
  });
});

Deno.test("qconv2d rounds ties to even and clamps before the zero point", () => {
  withContexts((ctx) => {
    // 1x1 conv of one channel: acc = (x - 0) * 1, scale 0.5, so odd x land on .5 ties.
    const shape = windowOf(1, 1, 8, 1, 1, 1, 1, [0, 0, 0, 0]);
    const packedWeights = packQconvWeights(ctx, shape, Int8Array.of(1));
    const output = new Uint8Array(8);
    const input = Uint8Array.of(1, 3, 5, 7, 0, 255, 254, 253);
    qconv2d(ctx, shape, {
      input,
      packedWeights,
      scale: Float32Array.of(0.5),
      xZeroPoint: 0,
      yZeroPoint: 10,
      output,
    });
    // 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4, 127.5 -> 128, 126.5 -> 126; then + 10.
    assert.deepEqual(Array.from(output), [10, 12, 12, 14, 10, 138, 137, 136]);
    qconv2d(ctx, shape, {
      input,
      packedWeights,
      scale: Float32Array.of(2),
      xZeroPoint: 0,
      yZeroPoint: 10,
      output,
    });
    // Above 255 - 10 = 245 the value clamps, so it ends at 255.
    assert.deepEqual(Array.from(output), [12, 16, 20, 24, 10, 255, 255, 255]);
    qconv2d(ctx, shape, {
      input,
      packedWeights,
      scale: Float32Array.of(-4),
      xZeroPoint: 0,
      yZeroPoint: 10,
      output,
    });
    assert.deepEqual(Array.from(output), [6, 0, 0, 0, 10, 0, 0, 0]);
  });
});

Deno.test("requantScales rounds like ONNX Runtime in f32", () => {
  const x = 0.0078125;
  const w = [0.003, 0.1, 1 / 3];
  const y = 0.047;
  const scales = requantScales(x, w, y, 3);
  w.forEach((ws, o) => {
    assert.equal(scales[o], Math.fround(Math.fround(x * Math.fround(ws)) / Math.fround(y)));
  });
  assert.deepEqual(requantScales(1, 0.5, 2, 2), Float32Array.of(0.25, 0.25));
  assert.throws(() => requantScales(1, [1, 2], 1, 3), KernelError);
});

/** The f32 conv with one f32 rounding per operation, in (ky, kx, c) order. */
function modelConvF32(
  shape: Window2d,
  input: Float32Array,
  weights: Float32Array,
  bias: Float32Array | undefined,
): Float32Array {
  const out = new Float32Array(qconvOutputLength(shape));
  eachOutput(shape, (index, o, taps) => {
    let acc = 0;
    for (const { pixel, weight } of taps) {
      for (let c = 0; c < shape.inC; c++) {
        acc = Math.fround(acc + Math.fround(input[pixel + c] * weights[weight + c]));
      }
    }
    out[index] = Math.fround(acc + (bias?.[o] ?? 0));
  });
  return out;
}

Deno.test("conv2dF32 matches the TypeScript f32 model exactly", () => {
  withContexts((ctx, label) => {
    shapes.forEach((shape, i) => {
      const random = rng(300 + i);
      const input = Float32Array.from(
        { length: shape.batch * shape.inH * shape.inW * shape.inC },
        () => random() * 2 - 1,
      );
      const weights = Float32Array.from(
        { length: shape.outC * shape.kernelH * shape.kernelW * shape.inC },
        () => random() - 0.5,
      );
      const bias = i % 2 === 0 ? Float32Array.from({ length: shape.outC }, random) : undefined;
      const output = new Float32Array(qconvOutputLength(shape));
      conv2dF32(ctx, shape, { input, weights, bias, output });
      assert.deepEqual(output, modelConvF32(shape, input, weights, bias), `${label}, shape ${i}`);
    });
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

Deno.test("qconv2d refuses bad arguments with a KernelError", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const shape = windowOf(1, 4, 4, 5, 6, 3, 1, [1, 1, 1, 1]);
  const c = randomCase(shape, 400, true);
  const packedWeights = packQconvWeights(ctx, shape, c.weights);
  const output = new Uint8Array(qconvOutputLength(shape));
  const args = { ...c, packedWeights, output };
  qconv2d(ctx, shape, args);
  // A refused call leaves its output untouched.
  output.fill(0xaa);

  assertKernelError(
    () => qconv2d(ctx, { ...shape, inC: 0 }, args),
    "invalid_argument",
    "in_c is 0",
  );
  assertKernelError(
    () => qconv2d(ctx, shape, { ...args, input: c.input.subarray(1) }),
    "buffer_too_small",
    "input",
  );
  assertKernelError(
    () => qconv2d(ctx, shape, { ...args, output: output.subarray(1) }),
    "buffer_too_small",
    "output",
  );
  assertKernelError(() => qconv2d(ctx, shape, { ...args, xZeroPoint: 256 }), "invalid_argument");
  assertKernelError(() => qconv2d(ctx, shape, { ...args, yZeroPoint: -1 }), "invalid_argument");
  assertKernelError(() => qconv2d(ctx, shape, { ...args, xZeroPoint: 1.5 }), "invalid_argument");
  assertKernelError(
    () => qconv2d(ctx, shape, { ...args, bias: c.bias!.subarray(1) }),
    "buffer_too_small",
    "bias",
  );
  assertKernelError(
    () => qconv2d(ctx, shape, { ...args, scale: Float32Array.of(1, 1, Number.NaN, 1, 1, 1) }),
    "invalid_argument",
    "scale[2]",
  );
  assertKernelError(
    () => qconv2d(ctx, { ...shape, inC: 4 }, { ...args, input: new Uint8Array(64) }),
    "shape_mismatch",
    "packed weights",
  );
  const foreign = packedWeights.slice();
  foreign[0] ^= 0xff;
  assertKernelError(
    () => qconv2d(ctx, shape, { ...args, packedWeights: foreign }),
    "invalid_argument",
  );
  assertKernelError(
    () => qconv2d(ctx, shape, { ...args, packedWeights: packedWeights.subarray(0, 100) }),
    "buffer_too_small",
  );
  assertKernelError(
    () => qconv2dInt32(ctx, shape, { ...args, output: new Int32Array(5) }),
    "buffer_too_small",
  );
  assertKernelError(
    () =>
      qconv2dFloat(ctx, shape, {
        ...args,
        scale: new Float32Array(2),
        output: new Float32Array(96),
      }),
    "buffer_too_small",
    "scale",
  );
  assertKernelError(
    () => packQconvWeights(ctx, shape, c.weights.subarray(1)),
    "buffer_too_small",
    "weights",
  );
  assertKernelError(() => qconvPackedBytes(ctx, { ...shape, kernelH: 16 }), "limit_exceeded");
  assertKernelError(
    () =>
      conv2dF32(ctx, shape, {
        input: new Float32Array(80),
        weights: new Float32Array(6 * 9 * 5 - 1),
        output: new Float32Array(96),
      }),
    "buffer_too_small",
    "weights",
  );
  assert.ok(output.every((value) => value === 0xaa));
});
