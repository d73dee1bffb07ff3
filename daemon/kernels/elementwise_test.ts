/**
 * The elementwise bindings (scalar reference and SIMD contexts, 1 and 2 threads) against the
 * executor's TypeScript ops they replace (`daemon/runtime/ops/argmax.ts`, `quantize.ts`,
 * `sigmoid.ts`, `upsample.ts`): byte for byte, special values included.
 */

import assert from "node:assert/strict";
import { argmax } from "../runtime/ops/argmax.ts";
import { quantize } from "../runtime/ops/quantize.ts";
import { sigmoid } from "../runtime/ops/sigmoid.ts";
import { bilinearAxis, upsampleBilinear } from "../runtime/ops/upsample.ts";
import {
  argmaxF32,
  type BilinearSizes,
  quantizeF32,
  sigmoidF32,
  upsampleBilinearF32,
} from "./elementwise.ts";
import { KernelError } from "./errors.ts";
import { KernelContext, openKernels } from "./library.ts";
import { rng } from "./test_support.ts";

const configs = [
  { threads: 1, forceScalar: true },
  { threads: 1, forceScalar: false },
  { threads: 2, forceScalar: false },
];

function floats(seed: number, length: number, scale: number): Float32Array {
  const random = rng(seed);
  return Float32Array.from({ length }, () => {
    const pick = Math.floor(random() * 16);
    if (pick === 0) return NaN;
    if (pick === 1) return Infinity;
    if (pick === 2) return -Infinity;
    if (pick === 3) return -0;
    if (pick < 6) return (Math.floor(random() * 600) - 300 + 0.5) * scale;
    if (pick === 6) return random() * 1e30 - 5e29;
    return (random() * 2 - 1) * 200 * scale;
  });
}

Deno.test("quantizeF32 matches the TypeScript quantize op byte for byte", () => {
  using lib = openKernels();
  let seed = 1;
  for (const config of configs) {
    using ctx = new KernelContext(lib, config);
    for (const length of [0, 1, 15, 64, 65, 1000, 70_001]) {
      for (const scale of [1 / 32, 0.1, 1 / 127, 3.7]) {
        for (
          const [signed, zeroPoint] of [[false, 0], [false, 128], [false, 255], [true, -128], [
            true,
            0,
          ], [true, 127]] as const
        ) {
          seed++;
          const input = floats(seed, length, scale);
          const make = () => (signed ? new Int8Array(length) : new Uint8Array(length));
          const expected = make();
          const actual = make();
          quantize(input, expected, { scale, zeroPoint });
          quantizeF32(ctx, input, actual, { scale, zeroPoint });
          assert.deepEqual(
            actual,
            expected,
            `seed ${seed} length ${length} scale ${scale} zp ${zeroPoint} ${
              JSON.stringify(config)
            }`,
          );
        }
      }
    }
  }
});

Deno.test("quantizeF32 refuses bad parameters and buffers", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const input = Float32Array.of(1, 2);
  const codeOf = (run: () => void) => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof KernelError);
      return error.code;
    }
    assert.fail("no error");
  };
  const u8 = new Uint8Array(2);
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, u8, { scale: 0, zeroPoint: 0 })),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, u8, { scale: NaN, zeroPoint: 0 })),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, u8, { scale: 1, zeroPoint: 256 })),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, u8, { scale: 1, zeroPoint: 0.5 })),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, new Int8Array(2), { scale: 1, zeroPoint: 128 })),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, new Uint8Array(1), { scale: 1, zeroPoint: 0 })),
    "buffer_too_small",
  );
  assert.equal(
    codeOf(() => quantizeF32(ctx, input, new Uint8Array(3), { scale: 1, zeroPoint: 0 })),
    "shape_mismatch",
  );
});

function bilinearCase(seed: number, sizes: BilinearSizes, alignCorners: boolean) {
  const random = rng(seed);
  const { batch, inH, inW, channels, scaleH, scaleW } = sizes;
  const input = Float32Array.from(
    { length: batch * inH * inW * channels },
    () => (random() * 2 - 1) * 100,
  );
  const expected = new Float32Array(batch * inH * scaleH * inW * scaleW * channels);
  upsampleBilinear(input, expected, sizes, {
    rows: bilinearAxis(inH, scaleH, alignCorners),
    cols: bilinearAxis(inW, scaleW, alignCorners),
  });
  return { input, expected };
}

Deno.test("upsampleBilinearF32 matches the TypeScript bilinear op bit for bit", () => {
  using lib = openKernels();
  let seed = 100;
  for (const config of configs) {
    using ctx = new KernelContext(lib, config);
    for (const [inH, inW] of [[1, 1], [2, 3], [7, 5], [16, 32]]) {
      for (const channels of [1, 3, 19, 64, 65]) {
        for (const [scaleH, scaleW] of [[1, 1], [2, 2], [8, 8], [3, 1]]) {
          for (const alignCorners of [false, true]) {
            seed++;
            const sizes = { batch: 2, inH, inW, channels, scaleH, scaleW };
            const { input, expected } = bilinearCase(seed, sizes, alignCorners);
            const actual = new Float32Array(expected.length);
            upsampleBilinearF32(ctx, sizes, alignCorners, input, actual);
            assert.deepEqual(
              new Uint32Array(actual.buffer),
              new Uint32Array(expected.buffer),
              `seed ${seed} ${JSON.stringify(sizes)} align ${alignCorners} ${
                JSON.stringify(config)
              }`,
            );
          }
        }
      }
    }
  }
});

Deno.test("upsampleBilinearF32 refuses bad sizes and short buffers", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const sizes = { batch: 1, inH: 1, inW: 2, channels: 1, scaleH: 2, scaleW: 2 };
  const input = Float32Array.of(1, 2);
  const codeOf = (run: () => void) => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof KernelError);
      return error.code;
    }
    assert.fail("no error");
  };
  const out = () => new Float32Array(8);
  assert.equal(
    codeOf(() => upsampleBilinearF32(ctx, { ...sizes, scaleH: 0 }, false, input, out())),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => upsampleBilinearF32(ctx, { ...sizes, channels: -1 }, false, input, out())),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => upsampleBilinearF32(ctx, { ...sizes, scaleW: 20_000 }, false, input, out())),
    "limit_exceeded",
  );
  assert.equal(
    codeOf(() => upsampleBilinearF32(ctx, sizes, false, input, new Float32Array(7))),
    "buffer_too_small",
  );
  assert.equal(
    codeOf(() => upsampleBilinearF32(ctx, sizes, false, new Float32Array(1), out())),
    "buffer_too_small",
  );
});

Deno.test("sigmoidF32 matches the TypeScript sigmoid op (Math.exp) bit for bit", () => {
  using lib = openKernels();
  const length = 1 << 18;
  const bits = new Uint32Array(length);
  const input = new Float32Array(bits.buffer);
  const expected = new Float32Array(length);
  const actual = new Float32Array(length);
  for (const config of configs) {
    using ctx = new KernelContext(lib, config);
    for (let pass = 0; pass < 4; pass++) {
      // A strided scan of every f32 bit pattern (NaNs, infinities, subnormals included),
      // then the range where sigmoid is neither 0 nor 1.
      const random = rng(pass + 11);
      for (let i = 0; i < length; i++) {
        bits[i] = pass < 2 ? (i * 16384 + pass * 8191 + 5) >>> 0 : 0;
        if (pass >= 2) input[i] = (random() * 2 - 1) * (pass === 2 ? 40 : 1e-3);
      }
      input.set([-1, 1, 0, -0, 0.3465735, 1.0397208, -1.0397208, 700, -709.78, 745.2], 0);
      sigmoid(input, expected);
      sigmoidF32(ctx, input, actual);
      const want = new Uint32Array(expected.buffer);
      const got = new Uint32Array(actual.buffer);
      for (let i = 0; i < length; i++) {
        if (want[i] !== got[i] && !(Number.isNaN(expected[i]) && Number.isNaN(actual[i]))) {
          assert.fail(
            `sigmoid(${input[i]}): expected ${expected[i]}, got ${actual[i]} (pass ${pass}, ` +
              `${JSON.stringify(config)})`,
          );
        }
      }
    }
  }
});

Deno.test("sigmoidF32 refuses buffers of different lengths", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  assert.throws(
    () => sigmoidF32(ctx, new Float32Array(2), new Float32Array(3)),
    (error) => error instanceof KernelError && error.code === "shape_mismatch",
  );
  assert.throws(
    () => sigmoidF32(ctx, new Float32Array(2), new Float32Array(1)),
    (error) => error instanceof KernelError && error.code === "buffer_too_small",
  );
});

Deno.test("argmaxF32 matches the TypeScript argmax op, ties and NaN included", () => {
  using lib = openKernels();
  let seed = 500;
  for (const config of configs) {
    using ctx = new KernelContext(lib, config);
    for (const pixels of [1, 15, 16, 17, 5000]) {
      for (const channels of [1, 2, 19, 64, 65]) {
        seed++;
        const random = rng(seed);
        const input = Float32Array.from({ length: pixels * channels }, () => {
          const pick = Math.floor(random() * 10);
          if (pick === 0) return NaN;
          if (pick === 1) return -0;
          if (pick < 4) return Math.floor(random() * 3);
          return random() * 2 - 1;
        });
        const expected = new Int32Array(pixels);
        const actual = new Int32Array(pixels).fill(-1);
        argmax(input, expected, { pixels, channels });
        argmaxF32(ctx, { pixels, channels }, input, actual);
        assert.deepEqual(actual, expected, `seed ${seed} ${pixels}x${channels}`);
      }
    }
  }
});

Deno.test("argmaxF32 refuses bad sizes and short buffers", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const input = new Float32Array(4);
  const fails = (run: () => void, code: string) =>
    assert.throws(run, (error) => error instanceof KernelError && error.code === code);
  fails(
    () => argmaxF32(ctx, { pixels: 0, channels: 2 }, input, new Int32Array(2)),
    "invalid_argument",
  );
  fails(
    () => argmaxF32(ctx, { pixels: 2, channels: -2 }, input, new Int32Array(2)),
    "invalid_argument",
  );
  fails(
    () => argmaxF32(ctx, { pixels: 2, channels: 2 }, input, new Int32Array(1)),
    "buffer_too_small",
  );
  fails(
    () => argmaxF32(ctx, { pixels: 3, channels: 2 }, input, new Int32Array(3)),
    "buffer_too_small",
  );
});
