/**
 * Pooling kernels (`kernels/src/pool/contract.zig`), all NHWC:
 *
 * - {@linkcode maxPool2dBits}: max pool over packed bits (bit 1 = -1, bit 0 = +1, `ceil(C/64)`
 *   u64 words per pixel, tail bits 0). An output word is the AND of the window's words;
 *   padded positions are skipped.
 * - {@linkcode avgPool2d}: average pool of f32 or int8, padded positions excluded from the
 *   count. f32: `sum / count`, summed in (ky, kx) order. int8 (same quantization in and out):
 *   the exact sum divided by the count, rounded half away from zero
 *   (`sign(sum) * floor((2|sum| + count) / (2 count))`).
 * - {@linkcode globalAvgPool}: the same means over the whole image, `[N][H][W][C]` ->
 *   `[N][C]`.
 *
 * A pooling window is a `Window2d` whose `outC` is `inC`; {@linkcode PoolWindow} lets it be
 * left out.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { avgPool2d } from "./pool.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 1 });
 * const window = { batch: 1, inH: 2, inW: 2, inC: 1, kernelH: 2, kernelW: 2, strideH: 1,
 *   strideW: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0 };
 * const output = new Int8Array(1);
 * avgPool2d(ctx, window, Int8Array.of(1, 2, 2, 0), output);
 * console.log(output[0]); // 5 / 4 = 1.25 -> 1
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";
import { outH, outW, type Window2d, windowParams, wordsFor } from "./shape.ts";

/** A pooling window: a `Window2d` whose `outC`, when given, must equal `inC`. */
export type PoolWindow = Omit<Window2d, "outC"> & { outC?: number };

/** The ABI buffer of a pool window; a prebuilt one (see `windowBuffer`) is used as is. */
function params(window: PoolWindow | Uint32Array): Uint32Array {
  if (window instanceof Uint32Array) return window;
  return windowParams({ ...window, outC: window.outC ?? window.inC });
}

/** Options of the pool calls. */
export interface PoolCallOptions {
  /** Names the call in error messages, e.g. the model op. Default: the kernel's name. */
  label?: string;
}

/** Output pixels of a window: `batch * outH * outW`. */
export function poolOutputPixels(window: PoolWindow): number {
  return window.batch * outH(window) * outW(window);
}

/**
 * Binary max pool over packed words: `input` `[batch][inH][inW][ceil(inC/64)]` u64,
 * `output` `[batch][outH][outW][ceil(inC/64)]`. Throws `KernelError` for an invalid window
 * or a short buffer.
 *
 * @example
 * ```ts ignore
 * const output = new BigUint64Array(poolOutputPixels(window) * wordsFor(window.inC));
 * maxPool2dBits(ctx, window, input, output);
 * ```
 */
export function maxPool2dBits(
  ctx: KernelContext,
  window: PoolWindow | Uint32Array,
  input: BigUint64Array,
  output: BigUint64Array,
  options: PoolCallOptions = {},
): void {
  ctx.check(
    ctx.lib.symbols.ob_maxpool2d_bits(
      ctx.handle,
      params(window),
      input,
      input.length,
      output,
      output.length,
    ),
    options.label ?? "maxpool2d_bits",
  );
}

/** Elements a pooling output holds: `poolOutputPixels * inC` (`* words` for bits). */
export function poolOutputLength(window: PoolWindow, kind: "bits" | "values" = "values"): number {
  return poolOutputPixels(window) * (kind === "bits" ? wordsFor(window.inC) : window.inC);
}

function checkSameType(input: Float32Array | Int8Array, output: Float32Array | Int8Array) {
  if (input.constructor !== output.constructor) {
    throw new KernelError(
      "invalid_argument",
      `pool input is ${input.constructor.name} but output is ${output.constructor.name}: ` +
        `both must be Float32Array or both Int8Array`,
    );
  }
}

/**
 * Average pool of f32 (`Float32Array` in and out) or int8 (`Int8Array` in and out), padded
 * positions excluded from the count. Throws `KernelError`: `invalid_argument` for mixed
 * types or an invalid window, `shape_mismatch` when `outC` differs from `inC`,
 * `buffer_too_small` for a short buffer.
 *
 * @example
 * ```ts ignore
 * avgPool2d(ctx, window, new Float32Array(n), new Float32Array(poolOutputLength(window)));
 * ```
 */
export function avgPool2d<T extends Float32Array | Int8Array>(
  ctx: KernelContext,
  window: PoolWindow | Uint32Array,
  input: T,
  output: T,
  options: PoolCallOptions = {},
): void {
  checkSameType(input, output);
  const { ob_avgpool2d_f32, ob_avgpool2d_i8 } = ctx.lib.symbols;
  const run = input instanceof Float32Array ? ob_avgpool2d_f32 : ob_avgpool2d_i8;
  ctx.check(
    run(ctx.handle, params(window), input, input.length, output, output.length),
    options.label ?? (input instanceof Float32Array ? "avgpool2d_f32" : "avgpool2d_i8"),
  );
}

/** Sizes of a global pool's NHWC input. */
export interface GlobalPoolDims {
  batch: number;
  height: number;
  width: number;
  channels: number;
}

function checkDim(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new KernelError("invalid_argument", `${what} is ${value}, must be an integer >= 0`);
  }
  return value;
}

/**
 * Global average pool of f32 or int8 (same type in and out): `[batch][height][width][channels]`
 * -> `[batch][channels]`, int8 rounded half away from zero. Throws `KernelError` for a zero
 * or too large size, mixed types or a short buffer.
 *
 * @example
 * ```ts ignore
 * const features = new Float32Array(dims.batch * dims.channels);
 * globalAvgPool(ctx, dims, activations, features);
 * ```
 */
export function globalAvgPool<T extends Float32Array | Int8Array>(
  ctx: KernelContext,
  dims: GlobalPoolDims,
  input: T,
  output: T,
): void {
  checkSameType(input, output);
  const { ob_global_avgpool_f32, ob_global_avgpool_i8 } = ctx.lib.symbols;
  const run = input instanceof Float32Array ? ob_global_avgpool_f32 : ob_global_avgpool_i8;
  ctx.check(
    run(
      ctx.handle,
      checkDim(dims.batch, "batch"),
      checkDim(dims.height, "height"),
      checkDim(dims.width, "width"),
      checkDim(dims.channels, "channels"),
      input,
      input.length,
      output,
      output.length,
    ),
    input instanceof Float32Array ? "global_avgpool_f32" : "global_avgpool_i8",
  );
}
