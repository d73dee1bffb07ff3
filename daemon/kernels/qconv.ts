/**
 * Int8 convolution (u8 activations x s8 weights) and the fp32 reference convolution
 * (`kernels/src/qconv/contract.zig`, `kernels/src/qconv/float.zig`).
 *
 * The int8 conv matches ONNX Runtime's QLinearConv (x u8, w s8 symmetric, y u8) bit for bit:
 *
 *     acc[p][o] = bias[o] + sum over taps and channels of (x - xZeroPoint) * w[o]
 *                 (padded taps read xZeroPoint; int32, wrapping like MLAS)
 *     y = clamp(roundHalfEven(f32(acc) * scale[o]), -yZeroPoint, 255 - yZeroPoint) + yZeroPoint
 *
 * with `scale[o]` = f32(xScale * wScale[o] / yScale) as ONNX Runtime computes it; build it
 * with {@linkcode requantScales}. Steps for a layer:
 *
 * 1. once at model load: `packed = packQconvWeights(ctx, shape, weights)` with `weights`
 *    s8 `[outC][kernelH][kernelW][inC]` (the ONNX `W` of QLinearConv transposed from OIHW to
 *    OHWI). The packed bytes belong to this library's CPU level.
 * 2. per frame: `qconv2d(ctx, shape, { input, packedWeights, bias, scale, xZeroPoint,
 *    yZeroPoint, output })`, `input` u8 NHWC `[batch][inH][inW][inC]`, `output` u8 NHWC
 *    `[batch][outH][outW][outC]` ({@linkcode qconvOutputLength} values).
 *
 * {@linkcode qconv2dInt32} writes the raw accumulator and {@linkcode qconv2dFloat} the
 * dequantized `f32(acc) * scale[o]` (use {@linkcode dequantScales}), for the last layer of a
 * network. {@linkcode conv2dF32} is the plain fp32 convolution (zero padding).
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { packQconvWeights, qconv2d, qconvOutputLength, requantScales } from "./qconv.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 2 });
 * const shape = { batch: 1, inH: 8, inW: 8, inC: 3, outC: 16, kernelH: 3, kernelW: 3,
 *   strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 };
 * const packedWeights = packQconvWeights(ctx, shape, new Int8Array(16 * 3 * 3 * 3).fill(1));
 * const output = new Uint8Array(qconvOutputLength(shape));
 * qconv2d(ctx, shape, {
 *   input: new Uint8Array(8 * 8 * 3).fill(130),
 *   packedWeights,
 *   scale: requantScales(0.02, 0.01, 0.05, shape.outC),
 *   xZeroPoint: 128,
 *   yZeroPoint: 0,
 *   output,
 * });
 * console.log(output[0]); // 0: 4 taps x 3 channels x (130 - 128) x 1 = 24 * 0.004 -> 0
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";
import { outH, outW, type Window2d, windowBuffer, windowParams } from "./shape.ts";

/** Values of the NHWC output of a conv of `shape`: `batch * outH * outW * outC`. */
export function qconvOutputLength(shape: Window2d): number {
  return shape.batch * outH(shape) * outW(shape) * shape.outC;
}

function checkZeroPoint(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new KernelError("invalid_argument", `${what} is ${value}, must be an integer 0..255`);
  }
  return value;
}

function perChannel(values: number | ArrayLike<number>, outC: number, what: string): number[] {
  if (typeof values === "number") return new Array<number>(outC).fill(values);
  if (values.length !== outC) {
    throw new KernelError(
      "invalid_argument",
      `${what} has ${values.length} values, expected 1 or outC ${outC}`,
    );
  }
  return Array.from(values);
}

/**
 * Per-channel requantization scales as ONNX Runtime's QLinearConv computes them in f32:
 * `fround(fround(xScale * wScale[o]) / yScale)`. `wScales` is one scale (per tensor) or one
 * per output channel.
 *
 * @example
 * ```ts
 * import { requantScales } from "./qconv.ts";
 * console.log(requantScales(0.5, [0.25, 0.5], 2, 2)); // Float32Array [0.0625, 0.125]
 * ```
 */
export function requantScales(
  xScale: number,
  wScales: number | ArrayLike<number>,
  yScale: number,
  outC: number,
): Float32Array {
  const w = perChannel(wScales, outC, "wScales");
  return Float32Array.from(
    w,
    (scale) =>
      Math.fround(Math.fround(Math.fround(xScale) * Math.fround(scale)) / Math.fround(yScale)),
  );
}

/**
 * Per-channel dequantization scales `fround(xScale * wScale[o])` for {@linkcode qconv2dFloat}.
 *
 * @example
 * ```ts
 * import { dequantScales } from "./qconv.ts";
 * console.log(dequantScales(0.5, 0.25, 3)); // Float32Array [0.125, 0.125, 0.125]
 * ```
 */
export function dequantScales(
  xScale: number,
  wScales: number | ArrayLike<number>,
  outC: number,
): Float32Array {
  return Float32Array.from(
    perChannel(wScales, outC, "wScales"),
    (scale) => Math.fround(Math.fround(xScale) * Math.fround(scale)),
  );
}

/**
 * Bytes of the packed weights of a conv of `shape` (its `outC`, `kernelH`, `kernelW`, `inC`;
 * the other fields must be valid too). Throws `KernelError` for an invalid shape.
 *
 * @example
 * ```ts ignore
 * const bytes = qconvPackedBytes(ctx, shape);
 * ```
 */
export function qconvPackedBytes(ctx: KernelContext, shape: Window2d): number {
  const out = new Uint32Array(1);
  ctx.check(
    ctx.lib.symbols.ob_qconv2d_pack_weights_size(ctx.handle, windowParams(shape), out),
    "qconv2d packed weight size",
  );
  return out[0];
}

/**
 * Packs s8 weights `[outC][kernelH][kernelW][inC]` into the layout the int8 conv reads
 * (once per layer, at model load). Throws `KernelError` (`buffer_too_small` when `weights`
 * holds fewer than `outC * kernelH * kernelW * inC` values, `invalid_argument`,
 * `limit_exceeded` for an invalid shape).
 *
 * @example
 * ```ts ignore
 * const packed = packQconvWeights(ctx, shape, weights); // Uint8Array, opaque
 * ```
 */
export function packQconvWeights(
  ctx: KernelContext,
  shape: Window2d,
  weights: Int8Array,
): Uint8Array {
  const packed = new Uint8Array(qconvPackedBytes(ctx, shape));
  ctx.check(
    ctx.lib.symbols.ob_qconv2d_pack_weights(
      ctx.handle,
      windowParams(shape),
      weights,
      weights.length,
      packed,
      packed.length,
    ),
    "qconv2d weight packing",
  );
  return packed;
}

/** Arguments shared by the int8 conv calls. */
export interface QconvInputs {
  /** u8 NHWC `[batch][inH][inW][inC]`. */
  input: Uint8Array;
  /** Made by {@linkcode packQconvWeights} for this shape with the same library. */
  packedWeights: Uint8Array;
  /** i32 bias per output channel. Default: none (0). */
  bias?: Int32Array;
  /** Zero point of `input`, 0..255 (padded taps read it). */
  xZeroPoint: number;
  /** Names the call in error messages, e.g. the model op. Default: the function's name. */
  label?: string;
}

/** Arguments of {@linkcode qconv2d}. */
export interface Qconv2dArgs extends QconvInputs {
  /** Per output channel, f32(xScale * wScale[o] / yScale): see {@linkcode requantScales}. */
  scale: Float32Array;
  /** Zero point of `output`, 0..255. */
  yZeroPoint: number;
  /** u8 NHWC `[batch][outH][outW][outC]`. */
  output: Uint8Array;
}

/**
 * Int8 conv requantized to u8, exactly as ONNX Runtime's QLinearConv (u8 x s8 -> u8).
 * Throws `KernelError`: `invalid_argument` (zero point outside 0..255, non-finite scale,
 * foreign packed weights), `shape_mismatch` (packed for another shape), `buffer_too_small`
 * (a buffer shorter than the shape needs), `null_pointer`, `limit_exceeded`.
 *
 * @example
 * ```ts ignore
 * qconv2d(ctx, shape, { input, packedWeights, bias, scale, xZeroPoint: 128, yZeroPoint: 0, output });
 * ```
 */
export function qconv2d(
  ctx: KernelContext,
  shape: Window2d | Uint32Array,
  args: Qconv2dArgs,
): void {
  const { input, packedWeights, bias, scale, output } = args;
  ctx.check(
    ctx.lib.symbols.ob_qconv2d_u8(
      ctx.handle,
      windowBuffer(shape),
      input,
      input.length,
      checkZeroPoint(args.xZeroPoint, "xZeroPoint"),
      packedWeights,
      packedWeights.length,
      bias ?? null,
      bias?.length ?? 0,
      scale,
      scale.length,
      checkZeroPoint(args.yZeroPoint, "yZeroPoint"),
      output,
      output.length,
    ),
    args.label ?? "qconv2d",
  );
}

/** Arguments of {@linkcode qconv2dInt32}. */
export interface Qconv2dInt32Args extends QconvInputs {
  /** i32 NHWC `[batch][outH][outW][outC]`: the accumulator, bias included. */
  output: Int32Array;
}

/**
 * Int8 conv writing the int32 accumulator (bias included). Throws like {@linkcode qconv2d}.
 *
 * @example
 * ```ts ignore
 * qconv2dInt32(ctx, shape, { input, packedWeights, xZeroPoint: 128, output: new Int32Array(n) });
 * ```
 */
export function qconv2dInt32(
  ctx: KernelContext,
  shape: Window2d | Uint32Array,
  args: Qconv2dInt32Args,
): void {
  const { input, packedWeights, bias, output } = args;
  ctx.check(
    ctx.lib.symbols.ob_qconv2d_i32(
      ctx.handle,
      windowBuffer(shape),
      input,
      input.length,
      checkZeroPoint(args.xZeroPoint, "xZeroPoint"),
      packedWeights,
      packedWeights.length,
      bias ?? null,
      bias?.length ?? 0,
      output,
      output.length,
    ),
    args.label ?? "qconv2d (int32)",
  );
}

/** Arguments of {@linkcode qconv2dFloat}. */
export interface Qconv2dFloatArgs extends QconvInputs {
  /** Per output channel, f32(xScale * wScale[o]): see {@linkcode dequantScales}. */
  scale: Float32Array;
  /** f32 NHWC `[batch][outH][outW][outC]`: `f32(acc) * scale[o]`. */
  output: Float32Array;
}

/**
 * Int8 conv dequantized to f32: `f32(acc) * scale[o]`. Throws like {@linkcode qconv2d}.
 *
 * @example
 * ```ts ignore
 * qconv2dFloat(ctx, shape, { input, packedWeights, scale: dequantScales(xs, ws, outC),
 *   xZeroPoint: 128, output });
 * ```
 */
export function qconv2dFloat(
  ctx: KernelContext,
  shape: Window2d | Uint32Array,
  args: Qconv2dFloatArgs,
): void {
  const { input, packedWeights, bias, scale, output } = args;
  ctx.check(
    ctx.lib.symbols.ob_qconv2d_f32(
      ctx.handle,
      windowBuffer(shape),
      input,
      input.length,
      checkZeroPoint(args.xZeroPoint, "xZeroPoint"),
      packedWeights,
      packedWeights.length,
      bias ?? null,
      bias?.length ?? 0,
      scale,
      scale.length,
      output,
      output.length,
    ),
    args.label ?? "qconv2d (float)",
  );
}

/** Arguments of {@linkcode conv2dF32}. */
export interface Conv2dF32Args {
  /** f32 NHWC `[batch][inH][inW][inC]`. */
  input: Float32Array;
  /** f32 `[outC][kernelH][kernelW][inC]`. */
  weights: Float32Array;
  /** f32 per output channel. Default: none (0). */
  bias?: Float32Array;
  /** f32 NHWC `[batch][outH][outW][outC]`. */
  output: Float32Array;
}

/**
 * The fp32 reference convolution with zero padding: per output value
 * `acc = sum in (ky, kx, c) order of x * w` (f32, no FMA), `out = acc + bias[o]`.
 * Throws `KernelError` for an invalid shape or a short buffer.
 *
 * @example
 * ```ts ignore
 * conv2dF32(ctx, shape, { input, weights, bias, output });
 * ```
 */
export function conv2dF32(ctx: KernelContext, shape: Window2d, args: Conv2dF32Args): void {
  const { input, weights, bias, output } = args;
  ctx.check(
    ctx.lib.symbols.ob_conv2d_f32(
      ctx.handle,
      windowBuffer(shape),
      input,
      input.length,
      weights,
      weights.length,
      bias ?? null,
      bias?.length ?? 0,
      output,
      output.length,
    ),
    "conv2d_f32",
  );
}
