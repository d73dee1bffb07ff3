/**
 * Plain-loop TypeScript implementations of ONNX `QLinearConv` and `Conv` in ONNX layout
 * (NCHW activations, OIHW weights): what ONNX Runtime's output is checked against, and so
 * the definition of the exact arithmetic onebit's int8 kernels must reproduce.
 *
 * `QLinearConv` follows the ONNX spec with ONNX Runtime's (MLAS) requantization on x86:
 *
 *     acc   = bias[o] + sum (x - x_zp) * w              int32
 *     scale = f32(f32(x_scale * w_scale[o]) / y_scale)  computed in f32, in that order
 *     f     = f32(f32(acc) * scale)                     one f32 multiply
 *     f     = min(max(f, -y_zp), 255 - y_zp)            clamp in float, before the zero point
 *     y     = round_half_to_even(f) + y_zp
 *
 * @module
 */

import { OnnxError } from "./errors.ts";
import type { ConvLayer, ModelInput, QLinearConvLayer } from "./model_writer.ts";
import { convOutput } from "./model_writer.ts";

const f32 = Math.fround;

/**
 * Round to nearest, ties to even (IEEE default rounding, what `cvtps2dq` and MLAS's
 * `+ 1.5 * 2^23` trick do).
 *
 * @example
 * ```ts
 * import { roundHalfEven } from "./reference.ts";
 * console.log(roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(-2.5)); // 2 4 -2
 * ```
 */
export function roundHalfEven(value: number): number {
  const below = Math.floor(value);
  const fraction = value - below;
  if (fraction > 0.5) return below + 1;
  if (fraction < 0.5) return below;
  return below % 2 === 0 ? below : below + 1;
}

/**
 * The f32 requantization multiplier of output channel `o`, rounded as ONNX Runtime
 * computes it: `f32(f32(xScale * wScale) / yScale)`.
 *
 * @example
 * ```ts
 * import { requantScale } from "./reference.ts";
 * console.log(requantScale(0.02, 0.01, 0.05)); // 0.004000000189989805 (f32)
 * ```
 */
export function requantScale(xScale: number, wScale: number, yScale: number): number {
  return f32(f32(f32(xScale) * f32(wScale)) / f32(yScale));
}

/**
 * MLAS `MlasRequantizeOutput` for one accumulator: f32 multiply, clamp in float to the range
 * that stays inside u8 after the zero point, round half to even, add the zero point.
 *
 * @example
 * ```ts
 * import { requantize } from "./reference.ts";
 * console.log(requantize(5, 2.5, 126)); // 138 (12.5 rounds to 12)
 * ```
 */
export function requantize(acc: number, scale: number, yZeroPoint: number): number {
  const scaled = f32(f32(acc) * f32(scale));
  const clamped = Math.min(Math.max(scaled, -yZeroPoint), 255 - yZeroPoint);
  return roundHalfEven(clamped) + yZeroPoint;
}

function accumulate<T extends Uint8Array | Float32Array>(
  input: ModelInput,
  layer: QLinearConvLayer | ConvLayer,
  x: T,
  tap: (acc: number, xValue: number, weightIndex: number) => number,
  init: (o: number) => number,
  store: (index: number, acc: number, o: number) => void,
): void {
  const out = convOutput(input, layer);
  const { inH, inW, inC } = input;
  const { kernelH, kernelW, strideH, strideW, padTop, padLeft } = layer;
  for (let n = 0; n < input.batch; n++) {
    for (let o = 0; o < layer.outC; o++) {
      for (let oy = 0; oy < out.inH; oy++) {
        for (let ox = 0; ox < out.inW; ox++) {
          let acc = init(o);
          for (let c = 0; c < inC; c++) {
            for (let ky = 0; ky < kernelH; ky++) {
              const iy = oy * strideH + ky - padTop;
              if (iy < 0 || iy >= inH) continue;
              for (let kx = 0; kx < kernelW; kx++) {
                const ix = ox * strideW + kx - padLeft;
                if (ix < 0 || ix >= inW) continue;
                const xValue = x[((n * inC + c) * inH + iy) * inW + ix];
                acc = tap(acc, xValue, ((o * inC + c) * kernelH + ky) * kernelW + kx);
              }
            }
          }
          store(((n * layer.outC + o) * out.inH + oy) * out.inW + ox, acc, o);
        }
      }
    }
  }
}

function checkLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new OnnxError("shape_mismatch", `${what} holds ${actual} values, expected ${expected}`);
  }
}

/**
 * `QLinearConv` on u8 NCHW `x` (padding reads `xZeroPoint`, so it adds nothing), returning
 * u8 NCHW. The int32 accumulator wraps like MLAS's.
 *
 * @example
 * ```ts
 * import { qlinearConvReference } from "./reference.ts";
 * const y = qlinearConvReference({ batch: 1, inH: 1, inW: 1, inC: 1 }, {
 *   inC: 1, outC: 1, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1,
 *   padTop: 0, padBottom: 0, padLeft: 0, padRight: 0,
 *   weights: Int8Array.of(3), weightScales: Float32Array.of(1),
 *   xScale: 1, xZeroPoint: 10, yScale: 1, yZeroPoint: 0,
 * }, Uint8Array.of(12));
 * console.log(y); // Uint8Array [6]
 * ```
 */
export function qlinearConvReference(
  input: ModelInput,
  layer: QLinearConvLayer,
  x: Uint8Array,
): Uint8Array {
  const out = convOutput(input, layer);
  checkLength("x", x.length, input.batch * input.inC * input.inH * input.inW);
  checkLength(
    "weights",
    layer.weights.length,
    layer.outC * layer.inC * layer.kernelH * layer.kernelW,
  );
  const y = new Uint8Array(out.batch * out.inC * out.inH * out.inW);
  const scales = Array.from(
    layer.weightScales,
    (wScale) => requantScale(layer.xScale, wScale, layer.yScale),
  );
  accumulate(
    input,
    layer,
    x,
    (acc, xValue, w) => (acc + (xValue - layer.xZeroPoint) * layer.weights[w]) | 0,
    (o) => layer.bias?.[o] ?? 0,
    (index, acc, o) => {
      y[index] = requantize(acc, scales[o], layer.yZeroPoint);
    },
  );
  return y;
}

/**
 * fp32 `Conv` on NCHW `x` (zero padding), accumulated in f64: a reference within rounding
 * of any f32 implementation.
 *
 * @example
 * ```ts
 * import { convReference } from "./reference.ts";
 * const y = convReference({ batch: 1, inH: 1, inW: 1, inC: 2 }, {
 *   inC: 2, outC: 1, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1,
 *   padTop: 0, padBottom: 0, padLeft: 0, padRight: 0,
 *   weights: Float32Array.of(0.5, 2), bias: Float32Array.of(1),
 * }, Float32Array.of(2, 3));
 * console.log(y); // Float32Array [8]
 * ```
 */
export function convReference(input: ModelInput, layer: ConvLayer, x: Float32Array): Float32Array {
  const out = convOutput(input, layer);
  checkLength("x", x.length, input.batch * input.inC * input.inH * input.inW);
  checkLength(
    "weights",
    layer.weights.length,
    layer.outC * layer.inC * layer.kernelH * layer.kernelW,
  );
  const y = new Float32Array(out.batch * out.inC * out.inH * out.inW);
  accumulate(
    input,
    layer,
    x,
    (acc, xValue, w) => acc + xValue * layer.weights[w],
    (o) => layer.bias?.[o] ?? 0,
    (index, acc) => {
      y[index] = acc;
    },
  );
  return y;
}
