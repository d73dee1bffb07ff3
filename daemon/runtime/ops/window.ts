/**
 * The geometry of a 2-D window op (pool) over an NHWC activation, with the output size
 * computed once at bind time, and the span of real input rows or columns one output index
 * sees.
 *
 * @module
 */

import type { Shape4, WindowAttrs } from "../graph.ts";

/** An NHWC window op's sizes: input `batch x inH x inW x channels` to `outH x outW`. */
export interface WindowGeometry {
  /** Images. */
  readonly batch: number;
  /** Input height. */
  readonly inH: number;
  /** Input width. */
  readonly inW: number;
  /** Channels (pools keep them). */
  readonly channels: number;
  /** Output height. */
  readonly outH: number;
  /** Output width. */
  readonly outW: number;
  /** Kernel height. */
  readonly kernelH: number;
  /** Kernel width. */
  readonly kernelW: number;
  /** Vertical stride. */
  readonly strideH: number;
  /** Horizontal stride. */
  readonly strideW: number;
  /** Rows of padding above. */
  readonly padTop: number;
  /** Columns of padding left. */
  readonly padLeft: number;
}

/**
 * The geometry of a window with `attrs` over an input of `shape`; the output size is
 * `floor((in + pad_before + pad_after - k) / s) + 1` as in `graph.ts`.
 *
 * @example
 * ```ts
 * import { windowGeometry } from "./window.ts";
 * const g = windowGeometry([1, 8, 8, 4], { kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1] });
 * console.log(g.outH, g.outW); // 4 4
 * ```
 */
export function windowGeometry(shape: Shape4, attrs: WindowAttrs): WindowGeometry {
  const [batch, inH, inW, channels] = shape;
  const [kernelH, kernelW] = attrs.kernel;
  const [strideH, strideW] = attrs.stride;
  const [padTop, padBottom, padLeft, padRight] = attrs.pads;
  return Object.freeze({
    batch,
    inH,
    inW,
    channels,
    outH: Math.floor((inH + padTop + padBottom - kernelH) / strideH) + 1,
    outW: Math.floor((inW + padLeft + padRight - kernelW) / strideW) + 1,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padTop,
    padLeft,
  });
}

/**
 * The first real input index seen by output index `out` (clipped to 0): with `end` from
 * {@linkcode spanEnd}, the window's real taps are `[spanBegin, spanEnd)`.
 */
export function spanBegin(out: number, stride: number, pad: number): number {
  return Math.max(out * stride - pad, 0);
}

/** One past the last real input index seen by output index `out` (clipped to `size`). */
export function spanEnd(
  out: number,
  stride: number,
  pad: number,
  kernel: number,
  size: number,
): number {
  return Math.min(out * stride - pad + kernel, size);
}
