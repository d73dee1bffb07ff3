/**
 * The codebook kernels against straightforward TypeScript: expansion bit by bit, and the
 * convolution with ±1 values read from the codebook (a zero-padded tap reads 0). Also checks
 * that the expanded weights run through `BinaryConv2d` give the gather kernel's outputs.
 */

import assert from "node:assert/strict";
import { BinaryConv2d, type OutputTransform, type PadValue } from "./bconv.ts";
import { CodebookConv2d, type CodebookLayer, expandCodebook, packCodebook } from "./codebook.ts";
import { KernelError } from "./errors.ts";
import { KernelContext, openKernels } from "./library.ts";
import { outH, outW, type Window2d, wordsFor } from "./shape.ts";
import { rng } from "./test_support.ts";

function randomLayer(random: () => number, tau: number, outC: number, inC: number): CodebookLayer {
  const codewords = 1 << tau;
  const codebook = Uint16Array.from({ length: codewords }, () => Math.floor(random() * 512));
  const indices = Uint8Array.from({ length: outC * inC }, () => Math.floor(random() * codewords));
  return { tau, outC, inC, codebook, indices };
}

function randomInput(random: () => number, shape: Window2d): BigUint64Array {
  const words = new BigUint64Array(shape.batch * shape.inH * shape.inW * wordsFor(shape.inC));
  const halves = new Uint32Array(words.buffer);
  for (let i = 0; i < halves.length; i++) halves[i] = Math.floor(random() * 2 ** 32);
  return words;
}

function bitOf(words: BigUint64Array, word: number, bit: number): number {
  return Number((words[word] >> BigInt(bit)) & 1n);
}

/** The expansion in TS: channel c of tap t is bit t of codeword indices[o][c]. */
function tsExpand(layer: CodebookLayer): BigUint64Array {
  const words = wordsFor(layer.inC);
  const out = new BigUint64Array(layer.outC * 9 * words);
  for (let o = 0; o < layer.outC; o++) {
    for (let c = 0; c < layer.inC; c++) {
      const code = layer.codebook[layer.indices[o * layer.inC + c]];
      for (let t = 0; t < 9; t++) {
        if ((code >> t) & 1) out[(o * 9 + t) * words + (c >> 6)] |= 1n << BigInt(c & 63);
      }
    }
  }
  return out;
}

/** The accumulators in TS with ±1 values (bit 1 = -1); padded taps read `padValue`. */
function tsConv(
  shape: Window2d,
  input: BigUint64Array,
  layer: CodebookLayer,
  padValue: number,
): Int32Array {
  const words = wordsFor(shape.inC);
  const pixels = shape.batch * shape.inH * shape.inW;
  // Unpacked once: x[pixel][c] in ±1, and w[j][tap] of every codeword in ±1.
  const x = new Int8Array(pixels * shape.inC);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < shape.inC; c++) {
      x[p * shape.inC + c] = 1 - 2 * bitOf(input, p * words + (c >> 6), c & 63);
    }
  }
  const w = Int8Array.from(
    { length: layer.codebook.length * 9 },
    (_, i) => 1 - 2 * ((layer.codebook[Math.floor(i / 9)] >> (i % 9)) & 1),
  );
  const oh = outH(shape);
  const ow = outW(shape);
  const out = new Int32Array(shape.batch * oh * ow * shape.outC);
  for (let n = 0; n < shape.batch; n++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < shape.outC; o++) {
          let acc = 0;
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const iy = oy * shape.strideH + ky - shape.padTop;
              const ix = ox * shape.strideW + kx - shape.padLeft;
              const inside = iy >= 0 && iy < shape.inH && ix >= 0 && ix < shape.inW;
              const pixel = (n * shape.inH + iy) * shape.inW + ix;
              for (let c = 0; c < shape.inC; c++) {
                const value = inside ? x[pixel * shape.inC + c] : padValue;
                acc += value * w[layer.indices[o * shape.inC + c] * 9 + ky * 3 + kx];
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

const lib = openKernels();
const pads: [PadValue, number][] = [["plus_one", 1], ["minus_one", -1], ["zero", 0]];

function window(inH: number, inW: number, inC: number, outC: number, stride: number): Window2d {
  return {
    batch: 1,
    inH,
    inW,
    inC,
    outC,
    kernelH: 3,
    kernelW: 3,
    strideH: stride,
    strideW: stride,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
  };
}

Deno.test("expandCodebook matches a TypeScript expansion bit for bit", () => {
  using ctx = new KernelContext(lib, { threads: 1 });
  let seed = 1;
  for (const tau of [1, 4, 6, 8]) {
    for (const [outC, inC] of [[1, 1], [5, 63], [3, 65], [2, 130]]) {
      seed++;
      const layer = randomLayer(rng(seed), tau, outC, inC);
      assert.deepEqual(expandCodebook(ctx, layer), tsExpand(layer), `tau ${tau} seed ${seed}`);
    }
  }
});

Deno.test("CodebookConv2d matches a TypeScript ±1 convolution on small shapes", () => {
  const contexts = [
    new KernelContext(lib, { threads: 1, forceScalar: true }),
    new KernelContext(lib, { threads: 2 }),
  ];
  try {
    let seed = 100;
    for (const inC of [1, 63, 64, 65]) {
      for (const [pad, padValue] of pads) {
        for (const stride of [1, 2]) {
          seed++;
          const random = rng(seed);
          const tau = [4, 5, 6][seed % 3];
          const shape = window(3 + (seed % 3), 4, inC, [1, 9, 66][(seed >> 1) % 3], stride);
          const layer = randomLayer(random, tau, shape.outC, inC);
          const input = randomInput(random, shape);
          const want = tsConv(shape, input, layer, padValue);
          for (const ctx of contexts) {
            const conv = new CodebookConv2d(
              ctx,
              { shape, pad, transform: { kind: "int32" } },
              layer,
            );
            const got = new Int32Array(conv.outputBytes / 4);
            conv.run(input, got);
            assert.deepEqual(
              got,
              want,
              `${ctx.variant} inC ${inC} tau ${tau} ${pad} stride ${stride} seed ${seed}`,
            );
          }
        }
      }
    }
  } finally {
    for (const ctx of contexts) ctx.destroy();
  }
});

Deno.test("CodebookConv2d and BinaryConv2d on expanded weights agree on every transform", () => {
  using ctx = new KernelContext(lib, { threads: 2 });
  const random = rng(7);
  const shape = window(5, 6, 70, 20, 1);
  const layer = randomLayer(random, 5, shape.outC, shape.inC);
  const input = randomInput(random, shape);
  const weights = expandCodebook(ctx, layer);
  const ints = (lo: number, hi: number) =>
    Int32Array.from({ length: shape.outC }, () => lo + Math.floor(random() * (hi - lo + 1)));
  const floats = (scale: number) =>
    Float32Array.from({ length: shape.outC }, () => (random() - 0.5) * scale);
  const transforms: OutputTransform[] = [
    { kind: "binary", thresholds: ints(-40, 40), flips: ints(0, 1) },
    { kind: "int32" },
    { kind: "float", mul: floats(2), bias: floats(4) },
    { kind: "int8", mul: floats(0.5), bias: floats(6) },
    { kind: "join", mul: floats(0.2), bias: floats(4), thresholds: ints(-8, 8), flips: ints(0, 1) },
  ];
  const residual = Int8Array.from({ length: 30 * shape.outC }, () => Math.floor(random() * 16) - 8);
  for (const transform of transforms) {
    for (const pad of ["plus_one", "zero"] as const) {
      const gather = new CodebookConv2d(ctx, { shape, pad, transform }, layer);
      const binary = new BinaryConv2d(ctx, { shape, pad, transform }, weights);
      const a = new Uint8Array(gather.outputBytes);
      const b = new Uint8Array(binary.outputBytes);
      gather.run(input, a, residual);
      binary.run(input, b, residual);
      assert.deepEqual(a, b, `${transform.kind} ${pad}`);
    }
  }
});

Deno.test("codebook rejects bad layers and buffers with a KernelError", () => {
  using ctx = new KernelContext(lib, { threads: 1 });
  const expectCode = (code: string, body: () => unknown, message?: RegExp) =>
    assert.throws(body, (error: unknown) => {
      assert.ok(error instanceof KernelError, `not a KernelError: ${error}`);
      assert.equal(error.code, code);
      if (message) assert.match(error.message, message);
      return true;
    });
  const good = randomLayer(rng(3), 4, 4, 8);
  expectCode("invalid_argument", () => expandCodebook(ctx, { ...good, tau: 0 }), /tau is 0/);
  expectCode("invalid_argument", () => expandCodebook(ctx, { ...good, tau: 9 }), /tau is 9/);
  expectCode("invalid_argument", () => packCodebook(ctx, { ...good, tau: 9 }), /tau 9/);
  const badIndex = { ...good, indices: good.indices.slice() };
  badIndex.indices[9] = 16;
  expectCode(
    "invalid_argument",
    () => packCodebook(ctx, badIndex),
    /index of kernel \(1, 1\) is 16, must be below 2\^tau = 16/,
  );
  const badCode = { ...good, codebook: good.codebook.slice() };
  badCode.codebook[3] = 512;
  expectCode("invalid_argument", () => expandCodebook(ctx, badCode), /codeword 3 is 512/);
  expectCode(
    "buffer_too_small",
    () => expandCodebook(ctx, { ...good, codebook: good.codebook.subarray(0, 15) }),
  );
  expectCode(
    "buffer_too_small",
    () => expandCodebook(ctx, { ...good, indices: good.indices.subarray(0, 31) }),
  );

  const shape = window(4, 4, 8, 4, 1);
  const conv = new CodebookConv2d(ctx, { shape, transform: { kind: "int32" } }, good);
  expectCode("buffer_too_small", () => conv.run(new BigUint64Array(16), new Int32Array(63)));
  expectCode("buffer_too_small", () => conv.run(new BigUint64Array(15), new Int32Array(64)));
  expectCode(
    "invalid_argument",
    () =>
      new CodebookConv2d(ctx, {
        shape: { ...shape, kernelW: 1, padLeft: 0, padRight: 0 },
        transform: { kind: "int32" },
      }, good).run(new BigUint64Array(16), new Int32Array(4 * 4 * 2 * 4)),
    /kernel is 3x1, must be 3x3/,
  );
  expectCode(
    "shape_mismatch",
    () =>
      new CodebookConv2d(ctx, { shape: { ...shape, inC: 9 }, transform: { kind: "int32" } }, good),
  );
});
