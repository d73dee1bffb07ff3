/**
 * The shape of a 2-D sliding-window op (convolution or pool) as it crosses the ABI: 13 `u32`
 * in the field order of `Window2d` in `kernels/src/shape.zig` (a test keeps them equal).
 * The library validates the values; this side only checks that each one fits a `u32`.
 *
 * @module
 */

import { KernelError } from "./errors.ts";

/**
 * NHWC input `batch x inH x inW x inC`, kernel `kernelH x kernelW`, explicit padding; the
 * output is `batch x outH x outW x outC` (see {@linkcode outH}, {@linkcode outW}).
 */
export interface Window2d {
  /** Images in the batch. */
  batch: number;
  /** Input height in pixels. */
  inH: number;
  /** Input width in pixels. */
  inW: number;
  /** Input channels. */
  inC: number;
  /** Output channels. */
  outC: number;
  /** Kernel height. */
  kernelH: number;
  /** Kernel width. */
  kernelW: number;
  /** Vertical stride. */
  strideH: number;
  /** Horizontal stride. */
  strideW: number;
  /** Rows of padding above the input. */
  padTop: number;
  /** Rows of padding below the input. */
  padBottom: number;
  /** Columns of padding left of the input. */
  padLeft: number;
  /** Columns of padding right of the input. */
  padRight: number;
}

/** The fields of {@linkcode Window2d} in ABI order. */
export const WINDOW2D_FIELDS = [
  "batch",
  "inH",
  "inW",
  "inC",
  "outC",
  "kernelH",
  "kernelW",
  "strideH",
  "strideW",
  "padTop",
  "padBottom",
  "padLeft",
  "padRight",
] as const satisfies readonly (keyof Window2d)[];

/** Length in `u32` of the ABI shape buffer. */
export const WINDOW2D_WORDS: number = WINDOW2D_FIELDS.length;

const u32Max = 0xffff_ffff;

/**
 * Writes `shape` as the 13-`u32` ABI buffer, into `into` when given (reuse one buffer per op
 * to avoid garbage), else into a new array. Throws `invalid_argument` for a field that is not
 * an integer in 0..2^32-1 and `buffer_too_small` when `into` holds fewer than 13 values.
 *
 * @example
 * ```ts
 * import { windowParams } from "./shape.ts";
 * const params = windowParams({
 *   batch: 1, inH: 56, inW: 56, inC: 64, outC: 64, kernelH: 3, kernelW: 3,
 *   strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1,
 * });
 * console.log(params.length); // 13
 * ```
 */
export function windowParams(shape: Window2d, into?: Uint32Array): Uint32Array {
  const params = into ?? new Uint32Array(WINDOW2D_WORDS);
  if (params.length < WINDOW2D_WORDS) {
    throw new KernelError(
      "buffer_too_small",
      `windowParams: into holds ${params.length} u32, needs ${WINDOW2D_WORDS}`,
    );
  }
  for (let index = 0; index < WINDOW2D_WORDS; index++) {
    const field = WINDOW2D_FIELDS[index];
    const value = shape[field];
    if (!Number.isInteger(value) || value < 0 || value > u32Max) {
      throw new KernelError(
        "invalid_argument",
        `shape.${field} is ${value}, must be an integer from 0 to ${u32Max}`,
      );
    }
    params[index] = value;
  }
  return params;
}

function outSize(
  input: number,
  padBefore: number,
  padAfter: number,
  kernel: number,
  stride: number,
  axis: "H" | "W",
): number {
  if (stride < 1) throw new KernelError("invalid_argument", `shape.stride${axis} is ${stride}`);
  const padded = input + padBefore + padAfter;
  if (padded < kernel) {
    throw new KernelError(
      "shape_mismatch",
      `kernel${axis} ${kernel} exceeds padded ${axis === "H" ? "height" : "width"} ${padded}`,
    );
  }
  return Math.floor((padded - kernel) / stride) + 1;
}

/**
 * Output height: `(inH + padTop + padBottom - kernelH) / strideH + 1`, rounded down.
 *
 * @example
 * ```ts
 * import { outH } from "./shape.ts";
 * console.log(outH({ inH: 56, padTop: 1, padBottom: 1, kernelH: 3, strideH: 2 })); // 28
 * ```
 */
export function outH(
  shape: Pick<Window2d, "inH" | "padTop" | "padBottom" | "kernelH" | "strideH">,
): number {
  return outSize(shape.inH, shape.padTop, shape.padBottom, shape.kernelH, shape.strideH, "H");
}

/**
 * Output width: `(inW + padLeft + padRight - kernelW) / strideW + 1`, rounded down.
 *
 * @example
 * ```ts
 * import { outW } from "./shape.ts";
 * console.log(outW({ inW: 55, padLeft: 1, padRight: 0, kernelW: 3, strideW: 2 })); // 27
 * ```
 */
export function outW(
  shape: Pick<Window2d, "inW" | "padLeft" | "padRight" | "kernelW" | "strideW">,
): number {
  return outSize(shape.inW, shape.padLeft, shape.padRight, shape.kernelW, shape.strideW, "W");
}

/**
 * Packed 64-bit words per pixel for `channels` binary channels (the tail word is padded).
 *
 * @example
 * ```ts
 * import { wordsFor } from "./shape.ts";
 * console.log(wordsFor(64), wordsFor(65)); // 1 2
 * ```
 */
export function wordsFor(channels: number): number {
  return Math.ceil(channels / 64);
}

/**
 * The ABI buffer of a window: `shape` itself when it is one already (built once by
 * {@linkcode windowParams}, as a runtime does for every op at load), else a new one.
 *
 * @example
 * ```ts
 * import { windowBuffer, windowParams } from "./shape.ts";
 * const params = windowParams({
 *   batch: 1, inH: 8, inW: 8, inC: 64, outC: 64, kernelH: 3, kernelW: 3,
 *   strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1,
 * });
 * console.log(windowBuffer(params) === params); // true
 * ```
 */
export function windowBuffer(shape: Window2d | Uint32Array): Uint32Array {
  return shape instanceof Uint32Array ? shape : windowParams(shape);
}
