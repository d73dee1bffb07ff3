/**
 * onebit's int8 conv (daemon/kernels/qconv.ts) against ONNX Runtime's QLinearConv on the same
 * data: every output byte must be equal. The data is laid out for each side explicitly
 * (NHWC / OHWI for onebit, NCHW / OIHW for ONNX) with daemon/onnx/layout.ts.
 *
 * Weights span the full s8 range where ONNX Runtime is exact, i.e. where MLAS takes its VNNI
 * path (see `exactWeightRange` in daemon/onnx/ort.ts); on x86 CPUs without VNNI, MLAS adds
 * u8*s8 pairs in saturating int16 and the weights are restricted to -64..64, where it is exact.
 */

import assert from "node:assert/strict";
import { KernelContext, openKernels } from "../daemon/kernels/library.ts";
import {
  packQconvWeights,
  qconv2d,
  qconvOutputLength,
  requantScales,
} from "../daemon/kernels/qconv.ts";
import type { Window2d } from "../daemon/kernels/shape.ts";
import { nchwToNhwc, nhwcToNchw, ohwiToOihw } from "../daemon/onnx/layout.ts";
import {
  convOutput,
  type QLinearConvLayer,
  qlinearConvModel,
} from "../daemon/onnx/model_writer.ts";
import { cpuHasVnni, createSession, exactWeightRange } from "../daemon/onnx/ort.ts";
import { requantScale } from "../daemon/onnx/reference.ts";
import { randomFloats, randomInts, seededRandom } from "../daemon/onnx/test_data.ts";

interface Case {
  name: string;
  shape: Window2d;
}

function conv(
  name: string,
  dims: { inC: number; outC: number; h: number; w: number; batch?: number },
  kernel: number,
  stride: number,
  pads: [top: number, bottom: number, left: number, right: number],
): Case {
  return {
    name,
    shape: {
      batch: dims.batch ?? 1,
      inH: dims.h,
      inW: dims.w,
      inC: dims.inC,
      outC: dims.outC,
      kernelH: kernel,
      kernelW: kernel,
      strideH: stride,
      strideW: stride,
      padTop: pads[0],
      padBottom: pads[1],
      padLeft: pads[2],
      padRight: pads[3],
    },
  };
}

const cases: Case[] = [
  conv("3x3 s1 pad 1, 64 -> 64", { inC: 64, outC: 64, h: 10, w: 9 }, 3, 1, [1, 1, 1, 1]),
  conv("3x3 s2 pad 1, 32 -> 48", { inC: 32, outC: 48, h: 11, w: 12 }, 3, 2, [1, 1, 1, 1]),
  conv("3x3 s1 pad 1, odd 63 -> 65", { inC: 63, outC: 65, h: 7, w: 6 }, 3, 1, [1, 1, 1, 1]),
  conv("3x3 s2 uneven pads, odd 5 -> 3", { inC: 5, outC: 3, h: 9, w: 8 }, 3, 2, [0, 2, 1, 0]),
  conv("1x1 s1, 128 -> 96, batch 2", { inC: 128, outC: 96, h: 5, w: 7, batch: 2 }, 1, 1, [
    0,
    0,
    0,
    0,
  ]),
  conv("1x1 s2, odd 17 -> 9", { inC: 17, outC: 9, h: 9, w: 9 }, 1, 2, [0, 0, 0, 0]),
  conv("7x7 s2 pad 3, 3 -> 64 (first layer)", { inC: 3, outC: 64, h: 32, w: 30 }, 7, 2, [
    3,
    3,
    3,
    3,
  ]),
  conv("5x5 s1 pad 2, odd 7 -> 1", { inC: 7, outC: 1, h: 6, w: 6 }, 5, 1, [2, 2, 2, 2]),
  conv("3x3 s1 no pad, 200 -> 16 on 3x3", { inC: 200, outC: 16, h: 3, w: 3 }, 3, 1, [0, 0, 0, 0]),
];

/** Random int8 layer data in both layouts: `ohwi` for onebit, `layer` (OIHW) for ONNX. */
function randomLayer(shape: Window2d, seed: number): { ohwi: Int8Array; layer: QLinearConvLayer } {
  const random = seededRandom(seed);
  const taps = shape.inC * shape.kernelH * shape.kernelW;
  const ohwi = randomInts(Int8Array, shape.outC * taps, { random, ...exactWeightRange() });
  const layer: QLinearConvLayer = {
    ...shape,
    weights: ohwiToOihw(ohwi, shape),
    weightScales: randomFloats(shape.outC, { random, min: 0.001, max: 0.03 }),
    bias: randomInts(Int32Array, shape.outC, { random, min: -20_000, max: 20_000 }),
    xScale: 0.005 + random() * 0.05,
    xZeroPoint: randomInts(Uint8Array, 1, { random })[0],
    // About one output step per standard deviation of the accumulator: the outputs use the
    // whole u8 range, with some clamping at both ends.
    yScale: 0.01 + random() * 0.02 * Math.sqrt(taps),
    yZeroPoint: randomInts(Uint8Array, 1, { random, min: 20, max: 235 })[0],
  };
  return { ohwi, layer };
}

async function ortQLinearConv(shape: Window2d, layer: QLinearConvLayer, nhwc: Uint8Array) {
  const session = await createSession(qlinearConvModel(shape, layer), { threads: 1 });
  try {
    const { y } = await session.run({
      x: {
        type: "uint8",
        data: nhwcToNchw(nhwc, {
          batch: shape.batch,
          height: shape.inH,
          width: shape.inW,
          channels: shape.inC,
        }),
        dims: [shape.batch, shape.inC, shape.inH, shape.inW],
      },
    });
    const out = convOutput(shape, layer);
    assert.deepEqual(y.dims, [out.batch, out.inC, out.inH, out.inW]);
    return nchwToNhwc(y.data as Uint8Array, {
      batch: out.batch,
      height: out.inH,
      width: out.inW,
      channels: out.inC,
    });
  } finally {
    await session.dispose();
  }
}

function onebitQconv(
  ctx: KernelContext,
  shape: Window2d,
  data: { ohwi: Int8Array; layer: QLinearConvLayer; input: Uint8Array },
): Uint8Array {
  const { layer } = data;
  const output = new Uint8Array(qconvOutputLength(shape));
  qconv2d(ctx, shape, {
    input: data.input,
    packedWeights: packQconvWeights(ctx, shape, data.ohwi),
    bias: layer.bias,
    scale: requantScales(layer.xScale, layer.weightScales, layer.yScale, shape.outC),
    xZeroPoint: layer.xZeroPoint,
    yZeroPoint: layer.yZeroPoint,
    output,
  });
  return output;
}

function firstMismatch(shape: Window2d, actual: Uint8Array, expected: Uint8Array): string {
  const index = expected.findIndex((value, i) => actual[i] !== value);
  if (index < 0) return "none";
  const outW = convOutput(shape, shape).inW;
  const o = index % shape.outC;
  const pixel = Math.floor(index / shape.outC);
  return `pixel (y ${Math.floor(pixel / outW)}, x ${pixel % outW}) channel ${o}: onebit ${
    actual[index]
  }, ONNX Runtime ${expected[index]}`;
}

Deno.test("requantScales rounds the multiplier like ONNX Runtime's QLinearConv", () => {
  const { layer } = randomLayer(cases[0].shape, 5);
  const ours = requantScales(layer.xScale, layer.weightScales, layer.yScale, layer.outC);
  layer.weightScales.forEach((wScale, o) =>
    assert.equal(ours[o], requantScale(layer.xScale, wScale, layer.yScale), `channel ${o}`)
  );
});

for (const [index, { name, shape }] of cases.entries()) {
  Deno.test(`qconv2d equals ONNX Runtime QLinearConv bit for bit: ${name}`, async () => {
    const seed = 4242 + index;
    const data = randomLayer(shape, seed);
    const input = randomInts(Uint8Array, shape.batch * shape.inH * shape.inW * shape.inC, {
      random: seededRandom(seed + 1),
    });
    const expected = await ortQLinearConv(shape, data.layer, input);
    using lib = openKernels();
    for (const options of [{ threads: 1 }, { threads: 2 }, { threads: 1, forceScalar: true }]) {
      using ctx = new KernelContext(lib, options);
      const actual = onebitQconv(ctx, shape, { ...data, input });
      assert.ok(
        actual.every((value, i) => value === expected[i]),
        `${name}, ${ctx.variant} x${ctx.threads}, seed ${seed}: first mismatch at ${
          firstMismatch(shape, actual, expected)
        }`,
      );
    }
  });
}

Deno.test({
  name: "qconv2d equals ONNX Runtime QLinearConv where int16 pair sums would saturate",
  // Only meaningful where ORT is exact for such weights: see `exactWeightRange`.
  ignore: cpuHasVnni() === false,
  fn: async () => {
    const { shape } = conv("3x3 s1 pad 1, 64 -> 4", { inC: 64, outC: 4, h: 4, w: 4 }, 3, 1, [
      1,
      1,
      1,
      1,
    ]);
    // x = 255 (zero point 3) against weights of -128 and 127: every u8*s8 pair is beyond int16.
    const taps = shape.inC * 9;
    const ohwi = Int8Array.from({ length: shape.outC * taps }, (_, i) => {
      const o = Math.floor(i / taps);
      return o % 2 === 0 ? 127 : -128;
    });
    // Scale so that the centre pixel (all 9 taps inside) maps to +-100 or +-50 around the
    // output zero point; border pixels see 4 or 6 taps. Saturated pairs would halve them.
    const centre = taps * (255 - 3);
    const layer: QLinearConvLayer = {
      ...shape,
      weights: ohwiToOihw(ohwi, shape),
      weightScales: Float32Array.of(
        100 / (centre * 127),
        100 / (centre * 128),
        50 / (centre * 127),
        50 / (centre * 128),
      ),
      xScale: 1,
      xZeroPoint: 3,
      yScale: 1,
      yZeroPoint: 128,
    };
    const input = new Uint8Array(shape.inH * shape.inW * shape.inC).fill(255);
    const expected = await ortQLinearConv(shape, layer, input);
    using lib = openKernels();
    using ctx = new KernelContext(lib, { threads: 1 });
    const actual = onebitQconv(ctx, shape, { ohwi, layer, input });
    assert.deepEqual(actual, expected);
    const centrePixel = (1 * shape.inW + 1) * shape.outC;
    assert.deepEqual(Array.from(expected.subarray(centrePixel, centrePixel + 4)), [
      228,
      28,
      178,
      78,
    ]);
  },
});
