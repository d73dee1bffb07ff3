import assert from "node:assert/strict";
import type { Window2d } from "../kernels/shape.ts";
import { OnnxError } from "./errors.ts";
import {
  chainModel,
  convModel,
  convOutput,
  type QLinearConvLayer,
  qlinearConvModel,
} from "./model_writer.ts";
import { cpuHasVnni, createSession, exactWeightRange, type OrtSession } from "./ort.ts";
import {
  convReference,
  qlinearConvReference,
  requantize,
  requantScale,
  roundHalfEven,
} from "./reference.ts";
import { randomFloats, randomInts, seededRandom } from "./test_data.ts";

function window(
  inC: number,
  outC: number,
  size: number,
  kernel: number,
  stride: number,
  pads: [number, number, number, number],
  batch = 1,
): Window2d {
  const [padTop, padBottom, padLeft, padRight] = pads;
  return {
    batch,
    inH: size,
    inW: size + 1, // non-square, so H and W mix-ups show
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

const shapes: Window2d[] = [
  window(8, 8, 6, 3, 1, [1, 1, 1, 1]),
  window(5, 7, 9, 3, 2, [1, 1, 1, 1]),
  window(3, 16, 11, 7, 2, [3, 3, 3, 3]),
  window(17, 9, 5, 1, 1, [0, 0, 0, 0], 2),
  window(4, 6, 8, 5, 2, [2, 0, 1, 3]),
  window(65, 3, 4, 3, 1, [0, 2, 2, 0]),
];

function label(shape: Window2d): string {
  return `${shape.inC}->${shape.outC} ${shape.kernelH}x${shape.kernelW} s${shape.strideH} @${shape.inH}x${shape.inW} pads ${
    [shape.padTop, shape.padBottom, shape.padLeft, shape.padRight].join(",")
  } batch ${shape.batch}`;
}

function randomQLinearLayer(shape: Window2d, seed: number): QLinearConvLayer {
  const random = seededRandom(seed);
  const taps = shape.inC * shape.kernelH * shape.kernelW;
  return {
    ...shape,
    weights: randomInts(Int8Array, shape.outC * taps, { random, ...exactWeightRange() }),
    weightScales: randomFloats(shape.outC, { random, min: 0.002, max: 0.02 }),
    bias: randomInts(Int32Array, shape.outC, { random, min: -5000, max: 5000 }),
    xScale: 0.01 + random() * 0.05,
    xZeroPoint: randomInts(Uint8Array, 1, { random })[0],
    // Spread outputs over the whole u8 range, with some clamping at both ends.
    yScale: 0.02 + random() * 0.02 * Math.sqrt(taps),
    yZeroPoint: randomInts(Uint8Array, 1, { random, min: 30, max: 225 })[0],
  };
}

async function runOnce(
  session: OrtSession,
  x: { type: "uint8"; data: Uint8Array; dims: number[] },
) {
  const outputs = await session.run({ x });
  return outputs.y;
}

function firstMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string {
  for (let index = 0; index < expected.length; index++) {
    if (actual[index] !== expected[index]) {
      return `index ${index}: ORT ${actual[index]}, reference ${expected[index]}`;
    }
  }
  return "none";
}

Deno.test("QLinearConv on ONNX Runtime equals the TypeScript reference bit for bit", async () => {
  for (const [index, shape] of shapes.entries()) {
    const seed = 1000 + index;
    const layer = randomQLinearLayer(shape, seed);
    const x = randomInts(Uint8Array, shape.batch * shape.inC * shape.inH * shape.inW, {
      random: seededRandom(seed + 1),
    });
    const expected = qlinearConvReference(shape, layer, x);
    const model = qlinearConvModel(shape, layer);
    for (const threads of [1, 2]) {
      const session = await createSession(model, { threads });
      try {
        const y = await runOnce(session, {
          type: "uint8",
          data: x,
          dims: [shape.batch, shape.inC, shape.inH, shape.inW],
        });
        const out = convOutput(shape, layer);
        assert.deepEqual(y.dims, [out.batch, out.inC, out.inH, out.inW]);
        assert.equal(y.type, "uint8");
        assert.ok(
          y.data.every((value, i) => value === expected[i]),
          `${label(shape)} threads ${threads} seed ${seed}: first mismatch ${
            firstMismatch(y.data, expected)
          }`,
        );
      } finally {
        await session.dispose();
      }
    }
  }
});

/**
 * A 1x1 conv over one input channel with weight 1 makes `acc = bias[o] + (x - xZeroPoint)`:
 * the test feeds chosen accumulators straight into the requantization.
 */
async function requantizeOnOrt(
  accs: readonly number[],
  channels: { scale: number; bias: number }[],
  quant: { xScale: number; yScale: number; yZeroPoint: number },
): Promise<Uint8Array> {
  const xZeroPoint = 128;
  const shape = window(1, channels.length, 1, 1, 1, [0, 0, 0, 0]);
  shape.inW = accs.length;
  const layer: QLinearConvLayer = {
    ...shape,
    weights: new Int8Array(channels.length).fill(1),
    weightScales: Float32Array.from(channels, (c) => c.scale),
    bias: Int32Array.from(channels, (c) => c.bias),
    xScale: quant.xScale,
    xZeroPoint,
    yScale: quant.yScale,
    yZeroPoint: quant.yZeroPoint,
  };
  const x = Uint8Array.from(accs, (acc) => acc + xZeroPoint);
  const session = await createSession(qlinearConvModel(shape, layer), { threads: 1 });
  try {
    const y = await runOnce(session, { type: "uint8", data: x, dims: [1, 1, 1, accs.length] });
    return y.data as Uint8Array;
  } finally {
    await session.dispose();
  }
}

Deno.test("QLinearConv on ONNX Runtime rounds halves to even after an f32 multiply", async () => {
  // x_scale * w_scale / y_scale = 0.5 exactly, so every odd accumulator lands on a half.
  const deltas = [-7, -5, -3, -1, 0, 1, 3, 5, 7, 9, 11];
  const y = await requantizeOnOrt(deltas, [{ scale: 0.5, bias: 0 }], {
    xScale: 1,
    yScale: 1,
    yZeroPoint: 100,
  });
  // -3.5 -> -4, -2.5 -> -2, -1.5 -> -2, -0.5 -> 0, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4 ...
  assert.deepEqual(Array.from(y), [96, 98, 98, 100, 100, 100, 102, 102, 104, 104, 106]);
  assert.deepEqual(Array.from(y), deltas.map((acc) => requantize(acc, 0.5, 100)));
});

Deno.test("QLinearConv on ONNX Runtime clamps to 0..255 around the output zero point", async () => {
  const deltas = [-128, -100, -1, 0, 1, 100, 127];
  const y = await requantizeOnOrt(deltas, [{ scale: 1, bias: 0 }, { scale: 4, bias: 50 }], {
    xScale: 1,
    yScale: 1,
    yZeroPoint: 20,
  });
  // channel 0: acc + 20 clamped; channel 1: 4 * (acc + 50) + 20 clamped
  assert.deepEqual(Array.from(y.slice(0, 7)), [0, 0, 19, 20, 21, 120, 147]);
  assert.deepEqual(Array.from(y.slice(7)), [0, 0, 216, 220, 224, 255, 255]);
});

Deno.test("QLinearConv on ONNX Runtime computes the multiplier in f32, not f64", async () => {
  // Find accumulators where an f64 multiplier (rounded once) and the f32 one that ORT uses
  // give different u8 outputs, then check ORT sides with the f32 one on every such value.
  const random = seededRandom(77);
  const channels: { scale: number; bias: number }[] = [];
  const quant = { xScale: 0.0137, yScale: 0.0911, yZeroPoint: 0 };
  const f64Outputs: number[] = [];
  while (channels.length < 8) {
    const wScale = Math.fround(0.001 + random() * 0.05);
    const f32Scale = requantScale(quant.xScale, wScale, quant.yScale);
    const f64Scale = (Math.fround(quant.xScale) * wScale) / Math.fround(quant.yScale);
    for (let acc = 0; acc < 200_000; acc++) {
      const viaF64 = Math.min(255, roundHalfEven(acc * f64Scale));
      if (viaF64 !== requantize(acc, f32Scale, 0) && viaF64 < 255) {
        channels.push({ scale: wScale, bias: acc });
        f64Outputs.push(viaF64);
        break;
      }
    }
  }
  const y = await requantizeOnOrt([0], channels, quant);
  const expected = channels.map((c) =>
    requantize(c.bias, requantScale(quant.xScale, c.scale, quant.yScale), 0)
  );
  assert.deepEqual(Array.from(y), expected);
  assert.notDeepEqual(Array.from(y), f64Outputs);
});

Deno.test({
  name: "QLinearConv on ONNX Runtime does not saturate u8*s8 pairs on a VNNI CPU",
  // Without VNNI, MLAS adds u8*s8 pairs in saturating int16 (see `exactWeightRange`): this
  // case is built to saturate there, so it only holds where ORT takes the VNNI path.
  ignore: cpuHasVnni() === false,
  fn: async () => {
    // 64 channels of x = 255 (zero point 0) against w = 127 and w = -128: every vpmaddubsw
    // pair would clip (64770 -> 32767, -65280 -> -32768), halving the accumulator.
    const inC = 64;
    const shape = window(inC, 2, 2, 1, 1, [0, 0, 0, 0]);
    const exact = [inC * 255 * 127, inC * 255 * -128];
    const layer: QLinearConvLayer = {
      ...shape,
      weights: Int8Array.from({ length: 2 * inC }, (_, i) => (i < inC ? 127 : -128)),
      weightScales: Float32Array.of(100 / exact[0], -100 / exact[1]),
      xScale: 1,
      xZeroPoint: 0,
      yScale: 1,
      yZeroPoint: 128, // exact: 128 + 100 and 128 - 100; saturated: 128 + 50 and 128 - 50
    };
    const x = new Uint8Array(inC * shape.inH * shape.inW).fill(255);
    const session = await createSession(qlinearConvModel(shape, layer), { threads: 1 });
    try {
      const y = await runOnce(session, { type: "uint8", data: x, dims: [1, inC, 2, 3] });
      const expected = qlinearConvReference(shape, layer, x);
      assert.deepEqual(Array.from(new Set(expected)), [228, 28]);
      assert.deepEqual(y.data, expected);
    } finally {
      await session.dispose();
    }
  },
});

Deno.test("fp32 Conv on ONNX Runtime matches the TypeScript reference within rounding", async () => {
  for (const [index, shape] of shapes.entries()) {
    const random = seededRandom(2000 + index);
    const taps = shape.inC * shape.kernelH * shape.kernelW;
    const layer = {
      ...shape,
      weights: randomFloats(shape.outC * taps, { random }),
      bias: randomFloats(shape.outC, { random }),
    };
    const x = randomFloats(shape.batch * shape.inC * shape.inH * shape.inW, { random });
    const expected = convReference(shape, layer, x);
    const session = await createSession(convModel(shape, layer), { threads: 2 });
    try {
      const { y } = await session.run({
        x: { type: "float32", data: x, dims: [shape.batch, shape.inC, shape.inH, shape.inW] },
      });
      assert.equal(y.data.length, expected.length);
      // Values are sums of `taps` products in [-1, 1]: f32 error grows at most with taps.
      const tolerance = 1e-6 * taps + 1e-6;
      y.data.forEach((value, i) =>
        assert.ok(
          Math.abs(value - expected[i]) <= tolerance,
          `${label(shape)} index ${i}: ORT ${value}, reference ${expected[i]}`,
        )
      );
    } finally {
      await session.dispose();
    }
  }
});

Deno.test("a chain of Conv, Relu and QLinearConv runs on ONNX Runtime like its references", async () => {
  const random = seededRandom(31);
  const input = { batch: 1, inH: 6, inW: 5, inC: 3 };
  const geometry = {
    kernelH: 3,
    kernelW: 3,
    strideH: 1,
    strideW: 1,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
  };
  const conv = { ...geometry, inC: 3, outC: 4, weights: randomFloats(4 * 3 * 9, { random }) };
  const qconv = { ...randomQLinearLayer({ ...input, ...geometry, inC: 4, outC: 5 }, 32) };
  qconv.xZeroPoint = 0;
  const x = randomFloats(input.batch * input.inC * input.inH * input.inW, { random });
  const session = await createSession(
    chainModel(input, [{ kind: "conv", ...conv }, { kind: "relu" }, {
      kind: "qlinear_conv",
      ...qconv,
    }]),
  );
  try {
    const { y } = await session.run({ x: { type: "float32", data: x, dims: [1, 3, 6, 5] } });
    // QuantizeLinear after a ReLU: u8 = clamp(rne(v / xScale) + 0), v >= 0.
    const hidden = convReference(input, conv, x).map((v) => Math.max(v, 0));
    const quantized = Uint8Array.from(
      hidden,
      (v) => Math.min(255, roundHalfEven(Math.fround(v / Math.fround(qconv.xScale)))),
    );
    const expected = qlinearConvReference({ ...input, inC: 4 }, qconv, quantized);
    // The fp32 conv may differ from the f64 reference in the last bit, which can move a
    // quantized value by one step; allow that and nothing more.
    let off = 0;
    y.data.forEach((value, i) => {
      const diff = Math.abs(value - expected[i]);
      assert.ok(diff <= 1, `index ${i}: ORT ${value}, reference ${expected[i]}`);
      off += diff;
    });
    assert.ok(off <= 2, `${off} outputs off by one`);
  } finally {
    await session.dispose();
  }
});

Deno.test("createSession refuses a bad thread count and bytes that are not a model", async () => {
  await assert.rejects(
    () => createSession(new Uint8Array(4), { threads: 0 }),
    (error: unknown) =>
      error instanceof OnnxError && error.code === "invalid_argument" &&
      error.message.includes("threads is 0"),
  );
  await assert.rejects(
    () => createSession(Uint8Array.of(1, 2, 3, 4, 5)),
    (error: unknown) => error instanceof OnnxError && error.code === "session_failed",
  );
});

Deno.test("OrtSession refuses mis-sized feeds and use after dispose", async () => {
  const shape = window(2, 2, 3, 1, 1, [0, 0, 0, 0]);
  const session = await createSession(convModel(shape, { weights: new Float32Array(4) }));
  await assert.rejects(
    () => session.run({ x: { type: "float32", data: new Float32Array(5), dims: [1, 2, 3, 4] } }),
    (error: unknown) =>
      error instanceof OnnxError && error.code === "shape_mismatch" &&
      error.message.includes("holds 5 values"),
  );
  await assert.rejects(
    () => session.run({ x: { type: "uint8", data: new Uint8Array(24), dims: [1, 2, 3, 4] } }),
    (error: unknown) => error instanceof OnnxError && error.code === "session_failed",
  );
  assert.deepEqual(session.inputNames, ["x"]);
  await session.dispose();
  await session.dispose();
  await assert.rejects(
    () => session.run({ x: { type: "float32", data: new Float32Array(24), dims: [1, 2, 3, 4] } }),
    (error: unknown) => error instanceof OnnxError && error.code === "disposed",
  );
});
