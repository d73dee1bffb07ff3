/**
 * The bconv kernels (scalar reference and SIMD) against an independent TypeScript model of
 * the contract written with ±1 floats: unpack bits to ±1, convolve with the pad value, apply
 * the transform with f32 rounding. Checks the reference itself, not only SIMD against it.
 */

import assert from "node:assert/strict";
import { BinaryConv2d, BinaryDense, type OutputTransform, type PadValue } from "./bconv.ts";
import { bitpack } from "./bitpack.ts";
import { KernelError } from "./errors.ts";
import { KernelContext, openKernels } from "./library.ts";
import { outH, outW, type Window2d, wordsFor } from "./shape.ts";
import { rng } from "./test_support.ts";

/** Random ±1 values. */
function randomSigns(random: () => number, count: number): Float32Array {
  return Float32Array.from({ length: count }, () => (random() < 0.5 ? 1 : -1));
}

/** Packs ±1 floats `[rows][channels]` into words by the contract (bit 1 = -1), in TS. */
function packSigns(values: Float32Array, rows: number, channels: number): BigUint64Array {
  const words = wordsFor(channels);
  const out = new BigUint64Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) {
      if (values[r * channels + c] < 0) out[r * words + (c >> 6)] |= 1n << BigInt(c & 63);
    }
  }
  return out;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The float accumulators of a conv over ±1 values, NHWC, padded taps = `padValue`. */
function floatConv(
  shape: Window2d,
  input: Float32Array,
  weights: Float32Array,
  padValue: number,
): Float64Array {
  const oh = outH(shape);
  const ow = outW(shape);
  const out = new Float64Array(shape.batch * oh * ow * shape.outC);
  for (let n = 0; n < shape.batch; n++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < shape.outC; o++) {
          let acc = 0;
          for (let ky = 0; ky < shape.kernelH; ky++) {
            for (let kx = 0; kx < shape.kernelW; kx++) {
              const iy = oy * shape.strideH + ky - shape.padTop;
              const ix = ox * shape.strideW + kx - shape.padLeft;
              const inside = iy >= 0 && iy < shape.inH && ix >= 0 && ix < shape.inW;
              for (let c = 0; c < shape.inC; c++) {
                const x = inside
                  ? input[((n * shape.inH + iy) * shape.inW + ix) * shape.inC + c]
                  : padValue;
                const w = weights[((o * shape.kernelH + ky) * shape.kernelW + kx) * shape.inC + c];
                acc += x * w;
              }
            }
          }
          out[((n * oh + oy) * ow + ox) * shape.outC + o] = acc;
        }
      }
    }
  }
  return out;
}

/** The contract's output transform applied in TS to float accumulators. */
function expectedOutput(
  transform: OutputTransform,
  accs: Float64Array,
  pixels: number,
  outC: number,
  residual?: Int8Array,
): Uint8Array {
  const f = Math.fround;
  const quant = (
    acc: number,
    o: number,
    lo: number,
    hi: number,
    t: { mul: Float32Array; bias: Float32Array },
  ) => {
    const real = f(f(f(acc) * t.mul[o]) + t.bias[o]);
    return roundHalfEven(Math.min(Math.max(real, lo), hi));
  };
  switch (transform.kind) {
    case "int32":
      return new Uint8Array(Int32Array.from(accs).buffer);
    case "float":
      return new Uint8Array(
        Float32Array.from(
          accs,
          (acc, i) => f(f(f(acc) * transform.mul[i % outC]) + transform.bias[i % outC]),
        ).buffer,
      );
    case "int8": {
      const lo = transform.qmin ?? -128;
      const hi = transform.qmax ?? 127;
      return new Uint8Array(
        Int8Array.from(accs, (acc, i) => quant(acc, i % outC, lo, hi, transform)).buffer,
      );
    }
    case "binary":
    case "join": {
      const signs = new Float32Array(pixels * outC);
      for (let i = 0; i < accs.length; i++) {
        const o = i % outC;
        let value = accs[i];
        if (transform.kind === "join") {
          const lo = transform.qmin ?? -8;
          const hi = transform.qmax ?? 7;
          value = Math.min(Math.max(quant(value, o, lo, hi, transform) + residual![i], lo), hi);
        }
        const flip = transform.flips?.[o] ?? 0;
        const bit = flip ? value > transform.thresholds[o] : value < transform.thresholds[o];
        signs[i] = bit ? -1 : 1;
      }
      return new Uint8Array(packSigns(signs, pixels, outC).buffer);
    }
  }
}

function randomTransform(
  kind: OutputTransform["kind"],
  random: () => number,
  outC: number,
  kBits: number,
): OutputTransform {
  const ints = (lo: number, hi: number) =>
    Int32Array.from({ length: outC }, () => lo + Math.floor(random() * (hi - lo + 1)));
  const floats = (scale: number) =>
    Float32Array.from({ length: outC }, () => (random() - 0.5) * scale);
  switch (kind) {
    case "binary":
      return { kind, thresholds: ints(-kBits, kBits), flips: ints(0, 1) };
    case "int32":
      return { kind };
    case "float":
      return { kind, mul: floats(2), bias: floats(4) };
    case "int8":
      return { kind, mul: floats(8 / kBits), bias: floats(6) };
    case "join":
      return {
        kind,
        mul: floats(16 / kBits),
        bias: floats(4),
        thresholds: ints(-8, 8),
        flips: ints(0, 1),
      };
  }
}

const lib = openKernels();
const kinds = ["binary", "int32", "float", "int8", "join"] as const;
const pads: [PadValue, number][] = [["plus_one", 1], ["minus_one", -1], ["zero", 0]];

Deno.test("bconv2d scalar reference and simd match ±1 float convolution on small shapes", () => {
  const contexts = [
    new KernelContext(lib, { threads: 1, forceScalar: true }),
    new KernelContext(lib, { threads: 2 }),
  ];
  try {
    let seed = 1;
    for (const inC of [1, 63, 64, 65, 127]) {
      for (const [kernel, stride] of [[1, 1], [3, 1], [3, 2], [2, 2]]) {
        for (const [pad, padValue] of pads) {
          seed++;
          const random = rng(seed);
          const side = 1 + (seed % 5);
          const p = kernel > 1 ? 1 : 0;
          const shape: Window2d = {
            batch: 1 + (seed % 2),
            inH: side + 1,
            inW: side + 2,
            inC,
            outC: [1, 8, 13, 65][seed % 4],
            kernelH: kernel,
            kernelW: kernel,
            strideH: stride,
            strideW: stride,
            padTop: p,
            padBottom: kernel > 2 ? p : 0,
            padLeft: p,
            padRight: 0,
          };
          const kind = kinds[seed % kinds.length];
          const inputSigns = randomSigns(random, shape.batch * shape.inH * shape.inW * inC);
          const weightSigns = randomSigns(random, shape.outC * kernel * kernel * inC);
          const accs = floatConv(shape, inputSigns, weightSigns, padValue);
          const pixels = shape.batch * outH(shape) * outW(shape);
          const transform = randomTransform(kind, random, shape.outC, kernel * kernel * inC);
          const residual = Int8Array.from(
            { length: pixels * shape.outC },
            () => Math.floor(random() * 16) - 8,
          );
          const expected = expectedOutput(transform, accs, pixels, shape.outC, residual);
          const input = packSigns(inputSigns, shape.batch * shape.inH * shape.inW, inC);
          const weights = packSigns(weightSigns, shape.outC * kernel * kernel, inC);
          for (const ctx of contexts) {
            const conv = new BinaryConv2d(ctx, { shape, pad, transform }, weights);
            const output = new Uint8Array(conv.outputBytes + 8).subarray(0, conv.outputBytes);
            const aligned = new Uint8Array(
              new BigUint64Array(Math.ceil(conv.outputBytes / 8)).buffer,
              0,
              conv.outputBytes,
            );
            conv.run(input, aligned, kind === "join" ? residual : undefined);
            assert.equal(output.length, expected.length);
            assert.deepEqual(
              aligned,
              expected,
              `bconv2d ${ctx.variant} differs: seed ${seed} kind ${kind} pad ${pad} shape ${
                JSON.stringify(shape)
              }`,
            );
          }
        }
      }
    }
  } finally {
    for (const ctx of contexts) ctx.destroy();
  }
});

Deno.test("bdense matches a ±1 float dot product on 200 features", () => {
  const ctx = new KernelContext(lib, { threads: 2 });
  try {
    const random = rng(99);
    const batch = 3;
    const inFeatures = 200;
    const outFeatures = 19;
    const x = randomSigns(random, batch * inFeatures);
    const w = randomSigns(random, outFeatures * inFeatures);
    const dense = new BinaryDense(
      ctx,
      { inFeatures, outFeatures, transform: { kind: "int32" } },
      packSigns(w, outFeatures, inFeatures),
    );
    const out = new Int32Array(batch * outFeatures);
    dense.run(batch, packSigns(x, batch, inFeatures), out);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outFeatures; o++) {
        let dot = 0;
        for (let i = 0; i < inFeatures; i++) dot += x[b * inFeatures + i] * w[o * inFeatures + i];
        assert.equal(out[b * outFeatures + o], dot, `row ${b} channel ${o}`);
      }
    }
  } finally {
    ctx.destroy();
  }
});

Deno.test("bitpack packs sign bits and thresholds like the TypeScript model", () => {
  const ctx = new KernelContext(lib, { threads: 1 });
  try {
    const random = rng(5);
    const channels = 70;
    const pixels = 9;
    const values = Float32Array.from({ length: pixels * channels }, () => random() - 0.5);
    const thresholds = Float32Array.from({ length: channels }, () => (random() - 0.5) / 2);
    const words = new BigUint64Array(pixels * 2);
    bitpack(ctx, values, { pixels, channels }, words);
    assert.deepEqual(words, packSigns(values, pixels, channels));
    bitpack(ctx, values, { pixels, channels }, words, thresholds);
    const shifted = values.map((v, i) => v - thresholds[i % channels]);
    assert.deepEqual(words, packSigns(shifted.map((v) => (v < 0 ? -1 : 1)), pixels, channels));
    assert.throws(
      () => bitpack(ctx, new Uint8Array(10), { pixels: 1, channels: 10 }, words),
      (error: unknown) =>
        error instanceof KernelError && error.code === "invalid_argument" &&
        /thresholds are required/.test(error.message),
    );
  } finally {
    ctx.destroy();
  }
});

Deno.test("bconv2d refuses short buffers and bad weights with KernelError", () => {
  const ctx = new KernelContext(lib, { threads: 1 });
  try {
    const shape: Window2d = {
      batch: 1,
      inH: 4,
      inW: 4,
      inC: 65,
      outC: 8,
      kernelH: 3,
      kernelW: 3,
      strideH: 1,
      strideW: 1,
      padTop: 1,
      padBottom: 1,
      padLeft: 1,
      padRight: 1,
    };
    const weights = new BigUint64Array(8 * 9 * 2);
    const conv = new BinaryConv2d(ctx, { shape, transform: { kind: "int32" } }, weights);
    assert.throws(
      () => conv.run(new BigUint64Array(31), new Int32Array(16 * 8)),
      (error: unknown) =>
        error instanceof KernelError && error.code === "buffer_too_small" &&
        /input holds 31 elements, needs 32/.test(error.message),
    );
    assert.throws(
      () => conv.run(new BigUint64Array(32), new Int32Array(10)),
      (error: unknown) => error instanceof KernelError && error.code === "buffer_too_small",
    );
    weights[1] = 2n; // bit 1 of the tail word: channel 65, past inC
    assert.throws(
      () => new BinaryConv2d(ctx, { shape, transform: { kind: "int32" } }, weights),
      (error: unknown) =>
        error instanceof KernelError && /bits set past in_c 65/.test(error.message),
    );
    assert.throws(
      () =>
        new BinaryConv2d(ctx, {
          shape,
          transform: { kind: "binary", thresholds: new Int32Array(7) },
        }, new BigUint64Array(8 * 9 * 2)),
      (error: unknown) =>
        error instanceof KernelError && /thresholds has 7 values, expected 8/.test(error.message),
    );
    assert.throws(
      () =>
        new BinaryConv2d(
          ctx,
          { shape: { ...shape, strideH: 0 }, transform: { kind: "int32" } },
          new BigUint64Array(8 * 9 * 2),
        ).run(new BigUint64Array(32), new Int32Array(128)),
      (error: unknown) => error instanceof KernelError && /stride_?[hH] is 0/.test(error.message),
    );
  } finally {
    ctx.destroy();
  }
});
