/**
 * Elementwise kernels of the executor's non-conv ops (`kernels/src/elementwise/contract.zig`),
 * bit-exact with the TypeScript ops they replace:
 *
 * - {@linkcode quantizeF32}: f32 to u8 or i8 as ONNX Runtime's QuantizeLinear,
 *   `clamp(round_half_even(f32(x / scale)) + zeroPoint)`, NaN to `zeroPoint`.
 * - {@linkcode sigmoidF32}: `f32(1 / (1 + exp(-x)))` in f64 with fdlibm's `exp`, the one
 *   JavaScript's `Math.exp` runs in V8.
 * - {@linkcode argmaxF32}: per pixel, the first channel holding the maximum (`>`; NaN never
 *   chosen after channel 0).
 * - {@linkcode upsampleBilinearF32}: bilinear upsample of f32 NHWC by integer factors
 *   (PyTorch's `interpolate(mode="bilinear")`, f64 arithmetic rounded to f32 once).
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { quantizeF32 } from "./elementwise.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 1 });
 * const out = new Uint8Array(4);
 * quantizeF32(ctx, Float32Array.of(0.25, 0.75, -10, 10), out, { scale: 0.5, zeroPoint: 128 });
 * console.log(out); // Uint8Array [128, 130, 108, 148]
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";

/** Quantization parameters: `scale` > 0 (used as f32), integer `zeroPoint` in the range. */
export interface QuantizeParams {
  /** Step of one quantum. */
  scale: number;
  /** The integer that 0.0 maps to: 0..255 for u8, -128..127 for i8. */
  zeroPoint: number;
}

/** Sizes of a bilinear upsample: `batch x inH x inW x channels` by `scaleH x scaleW`. */
export interface BilinearSizes {
  /** Images. */
  batch: number;
  /** Input height. */
  inH: number;
  /** Input width. */
  inW: number;
  /** Channels. */
  channels: number;
  /** Vertical factor (integer >= 1). */
  scaleH: number;
  /** Horizontal factor (integer >= 1). */
  scaleW: number;
}

function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new KernelError("invalid_argument", `${what} is ${value}, must be an integer >= 0`);
  }
  return value;
}

/**
 * Quantizes `input` into `output` (same length; `Uint8Array` for u8, `Int8Array` for i8).
 * Throws `KernelError` for a scale that is not finite and > 0 as f32, a zero point out of
 * range, or lengths that differ.
 *
 * @example
 * ```ts ignore
 * quantizeF32(ctx, features, quantized, { scale: 1 / 32, zeroPoint: 128 });
 * ```
 */
export function quantizeF32(
  ctx: KernelContext,
  input: Float32Array,
  output: Uint8Array | Int8Array,
  params: QuantizeParams,
): void {
  if (!Number.isInteger(params.zeroPoint)) {
    throw new KernelError("invalid_argument", `zeroPoint is ${params.zeroPoint}, not an integer`);
  }
  ctx.check(
    ctx.lib.symbols.ob_quantize_f32(
      ctx.handle,
      input,
      input.length,
      params.scale,
      params.zeroPoint | 0,
      output instanceof Int8Array ? 1 : 0,
      output,
      output.length,
    ),
    "quantize_f32",
  );
}

/**
 * Sigmoid of every value of `input` into `output` (same length). Throws `KernelError` when
 * the lengths differ.
 *
 * @example
 * ```ts ignore
 * sigmoidF32(ctx, logits, heatmap);
 * ```
 */
export function sigmoidF32(ctx: KernelContext, input: Float32Array, output: Float32Array): void {
  ctx.check(
    ctx.lib.symbols.ob_sigmoid_f32(ctx.handle, input, input.length, output, output.length),
    "sigmoid_f32",
  );
}

/**
 * Writes, per pixel of `input` (`pixels x channels` f32), the channel of its first maximum to
 * `output` (`pixels` i32). Throws `KernelError` for a zero or too large size or a short
 * buffer.
 *
 * @example
 * ```ts ignore
 * argmaxF32(ctx, { pixels: 2, channels: 3 }, Float32Array.of(1, 3, 3, 7, 2, 7), mask); // [1, 0]
 * ```
 */
export function argmaxF32(
  ctx: KernelContext,
  sizes: { pixels: number; channels: number },
  input: Float32Array,
  output: Int32Array,
): void {
  ctx.check(
    ctx.lib.symbols.ob_argmax_f32(
      ctx.handle,
      checkU32(sizes.pixels, "pixels"),
      checkU32(sizes.channels, "channels"),
      input,
      input.length,
      output,
      output.length,
    ),
    "argmax_f32",
  );
}

/**
 * Bilinear upsample of f32 NHWC `input` (`batch*inH*inW*channels` values) into `output`
 * (`batch*inH*scaleH*inW*scaleW*channels` values). Throws `KernelError` for a zero or too
 * large size or a short buffer.
 *
 * @example
 * ```ts ignore
 * const sizes = { batch: 1, inH: 1, inW: 2, channels: 1, scaleH: 1, scaleW: 2 };
 * upsampleBilinearF32(ctx, sizes, false, Float32Array.of(0, 4), out); // [0, 1, 3, 4]
 * ```
 */
export function upsampleBilinearF32(
  ctx: KernelContext,
  sizes: BilinearSizes,
  alignCorners: boolean,
  input: Float32Array,
  output: Float32Array,
): void {
  ctx.check(
    ctx.lib.symbols.ob_upsample_bilinear_f32(
      ctx.handle,
      checkU32(sizes.batch, "batch"),
      checkU32(sizes.inH, "inH"),
      checkU32(sizes.inW, "inW"),
      checkU32(sizes.channels, "channels"),
      checkU32(sizes.scaleH, "scaleH"),
      checkU32(sizes.scaleW, "scaleW"),
      alignCorners ? 1 : 0,
      input,
      input.length,
      output,
      output.length,
    ),
    "upsample_bilinear_f32",
  );
}
