/**
 * Nearest and bilinear upsampling by integer factors, NHWC.
 *
 * - Nearest (any dtype, bits included: a pixel is copied whole): output pixel (y, x) is
 *   input pixel (floor(y / sh), floor(x / sw)). Copies bytes, so values (NaN payloads too)
 *   are kept exactly.
 * - Bilinear (f32), PyTorch's `interpolate(mode="bilinear")` with `scale_factor`: per output
 *   row y (and likewise per column) the source coordinate is
 *     `align_corners = false`: `src = max((y + 0.5) / sh - 0.5, 0)`;
 *     `align_corners = true`:  `src = y * (H - 1) / (outH - 1)` (0 when `outH` is 1);
 *   `y0 = floor(src)`, `y1 = min(y0 + 1, H - 1)`, `ly = src - y0`, and
 *     `out = f32((1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * c + lx * d))`
 *   with `a, b, c, d` the inputs at (y0, x0), (y0, x1), (y1, x0), (y1, x1), all computed in
 *   double precision and rounded to f32 once.
 *
 * @module
 */

/** Source indices and weights of one axis of a bilinear upsample, computed once. */
export interface BilinearAxis {
  /** Lower source index per output index. */
  readonly lo: Int32Array;
  /** Upper source index per output index. */
  readonly hi: Int32Array;
  /** Weight of the upper index per output index. */
  readonly frac: Float64Array;
}

/**
 * The source indices and weights of an axis of `size` input values upsampled by `scale`.
 *
 * @example
 * ```ts
 * import { bilinearAxis } from "./upsample.ts";
 * const axis = bilinearAxis(2, 2, false);
 * console.log([...axis.lo], [...axis.hi], [...axis.frac]); // [0, 0, 0, 1] [1, 1, 1, 1] [0, 0.25, 0.75, 0.25]
 * ```
 */
export function bilinearAxis(size: number, scale: number, alignCorners: boolean): BilinearAxis {
  const outSize = size * scale;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let src: number;
    if (alignCorners) {
      src = outSize > 1 ? o * (size - 1) / (outSize - 1) : 0;
    } else {
      src = Math.max((o + 0.5) / scale - 0.5, 0);
    }
    const low = Math.min(Math.floor(src), size - 1);
    lo[o] = low;
    hi[o] = Math.min(low + 1, size - 1);
    frac[o] = src - low;
  }
  return Object.freeze({ lo, hi, frac });
}

/** Sizes of an upsample: `batch x inH x inW x channels` by `scaleH x scaleW`. */
export interface UpsampleSizes {
  /** Images. */
  readonly batch: number;
  /** Input height. */
  readonly inH: number;
  /** Input width. */
  readonly inW: number;
  /** Channels. */
  readonly channels: number;
  /** Vertical factor. */
  readonly scaleH: number;
  /** Horizontal factor. */
  readonly scaleW: number;
}

/**
 * Bilinear upsample of f32 `input` into `output` with the axes from {@linkcode bilinearAxis}.
 *
 * @example
 * ```ts
 * import { bilinearAxis, upsampleBilinear } from "./upsample.ts";
 * const sizes = { batch: 1, inH: 1, inW: 2, channels: 1, scaleH: 1, scaleW: 2 };
 * const out = new Float32Array(4);
 * upsampleBilinear(Float32Array.of(0, 4), out, sizes, {
 *   rows: bilinearAxis(1, 1, false),
 *   cols: bilinearAxis(2, 2, false),
 * });
 * console.log(out); // Float32Array [0, 1, 3, 4]
 * ```
 */
export function upsampleBilinear(
  input: Float32Array,
  output: Float32Array,
  sizes: UpsampleSizes,
  axes: { rows: BilinearAxis; cols: BilinearAxis },
): void {
  const { batch, inH, inW, channels: c } = sizes;
  const outH = inH * sizes.scaleH;
  const outW = inW * sizes.scaleW;
  const { rows, cols } = axes;
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      const top = (n * inH + rows.lo[oy]) * inW;
      const bottom = (n * inH + rows.hi[oy]) * inW;
      const ly = rows.frac[oy];
      for (let ox = 0; ox < outW; ox++) {
        const lx = cols.frac[ox];
        const a = (top + cols.lo[ox]) * c;
        const b = (top + cols.hi[ox]) * c;
        const d0 = (bottom + cols.lo[ox]) * c;
        const d1 = (bottom + cols.hi[ox]) * c;
        const out = ((n * outH + oy) * outW + ox) * c;
        for (let k = 0; k < c; k++) {
          const upper = (1 - lx) * input[a + k] + lx * input[b + k];
          const lower = (1 - lx) * input[d0 + k] + lx * input[d1 + k];
          output[out + k] = (1 - ly) * upper + ly * lower;
        }
      }
    }
  }
}

/**
 * Nearest upsample by copying bytes within `arena` (the one buffer every activation lives
 * in): input pixels of `pixelBytes` bytes at byte `inOffset`, output at `outOffset` (the two
 * ranges must not overlap). Allocates nothing.
 *
 * @example
 * ```ts
 * import { upsampleNearest } from "./upsample.ts";
 * const arena = Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0);
 * const sizes = { batch: 1, inH: 1, inW: 2, channels: 1, scaleH: 2, scaleW: 1 };
 * upsampleNearest(arena, { inOffset: 0, outOffset: 4, pixelBytes: 1 }, sizes);
 * console.log(arena); // Uint8Array [1, 2, 0, 0, 1, 2, 1, 2]
 * ```
 */
export function upsampleNearest(
  arena: Uint8Array,
  layout: { inOffset: number; outOffset: number; pixelBytes: number },
  sizes: UpsampleSizes,
): void {
  const { batch, inH, inW, scaleH, scaleW } = sizes;
  const { inOffset, outOffset, pixelBytes } = layout;
  const outW = inW * scaleW;
  const rowBytes = outW * pixelBytes;
  for (let n = 0; n < batch; n++) {
    for (let iy = 0; iy < inH; iy++) {
      const row = outOffset + (n * inH + iy) * scaleH * rowBytes;
      const source = inOffset + (n * inH + iy) * inW * pixelBytes;
      for (let ix = 0; ix < inW; ix++) {
        const from = source + ix * pixelBytes;
        for (let sx = 0; sx < scaleW; sx++) {
          const to = row + (ix * scaleW + sx) * pixelBytes;
          if (pixelBytes <= 16) {
            for (let b = 0; b < pixelBytes; b++) arena[to + b] = arena[from + b];
          } else {
            arena.copyWithin(to, from, from + pixelBytes);
          }
        }
      }
      for (let sy = 1; sy < scaleH; sy++) {
        arena.copyWithin(row + sy * rowBytes, row, row + rowBytes);
      }
    }
  }
}
