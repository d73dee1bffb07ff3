/**
 * Average pools computed in TypeScript: every case the pool kernels do not cover (`u8`,
 * `i8`, `i32` and `bits` inputs, and `count_include_pad`). The output is always f32.
 *
 * Arithmetic, per output value, over the real (unpadded) taps in (ky, kx) order, or over the
 * pixels in row-major order for the global pool:
 * - f32 input: `sum = f32(sum + x)` from 0, as the f32 pool kernel does, so both agree bit for
 *   bit;
 * - integer input: the exact integer sum (bits count as +1 / -1);
 * - then `out = f32(sum / divisor)`, `divisor` = the number of real taps, or `kh * kw` with
 *   `count_include_pad` (padded taps then count as zeros).
 *
 * @module
 */

import { spanBegin, spanEnd, type WindowGeometry } from "./window.ts";

/** A non-bits activation an average pool reads. */
export type AvgPoolInput = Uint8Array | Int8Array | Int32Array | Float32Array;

/**
 * Average pool of `input` (NHWC, geometry `g`) into f32 `output`. `scratch` holds at least
 * `g.channels` values (allocated once by the caller).
 *
 * @example
 * ```ts
 * import { avgPool } from "./avgpool.ts";
 * import { windowGeometry } from "./window.ts";
 * const g = windowGeometry([1, 1, 2, 1], { kernel: [1, 2], stride: [1, 1], pads: [0, 0, 0, 1] });
 * const out = new Float32Array(2);
 * avgPool(Uint8Array.of(3, 4), out, g, { countIncludePad: true, scratch: new Float64Array(1) });
 * console.log(out); // Float32Array [3.5, 2]
 * ```
 */
export function avgPool(
  input: AvgPoolInput,
  output: Float32Array,
  g: WindowGeometry,
  options: { countIncludePad: boolean; scratch: Float64Array },
): void {
  const { scratch } = options;
  const c = g.channels;
  const f32 = input instanceof Float32Array;
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outH; oy++) {
      const y0 = spanBegin(oy, g.strideH, g.padTop);
      const y1 = spanEnd(oy, g.strideH, g.padTop, g.kernelH, g.inH);
      for (let ox = 0; ox < g.outW; ox++) {
        const x0 = spanBegin(ox, g.strideW, g.padLeft);
        const x1 = spanEnd(ox, g.strideW, g.padLeft, g.kernelW, g.inW);
        scratch.fill(0, 0, c);
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const at = ((n * g.inH + iy) * g.inW + ix) * c;
            if (f32) {
              for (let k = 0; k < c; k++) scratch[k] = Math.fround(scratch[k] + input[at + k]);
            } else {
              for (let k = 0; k < c; k++) scratch[k] += input[at + k];
            }
          }
        }
        const divisor = options.countIncludePad ? g.kernelH * g.kernelW : (y1 - y0) * (x1 - x0);
        const out = ((n * g.outH + oy) * g.outW + ox) * c;
        for (let k = 0; k < c; k++) output[out + k] = scratch[k] / divisor;
      }
    }
  }
}

/**
 * Average pool of a `bits` activation (`halves`: the packed words as u32 pairs, little-endian,
 * `2 * ceil(C/64)` per pixel), each bit read as +1 (0) or -1 (1), into f32 `output`.
 */
export function avgPoolBits(
  halves: Uint32Array,
  output: Float32Array,
  g: WindowGeometry,
  options: { countIncludePad: boolean; scratch: Float64Array },
): void {
  const { scratch } = options;
  const c = g.channels;
  const stride = 2 * Math.ceil(c / 64);
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outH; oy++) {
      const y0 = spanBegin(oy, g.strideH, g.padTop);
      const y1 = spanEnd(oy, g.strideH, g.padTop, g.kernelH, g.inH);
      for (let ox = 0; ox < g.outW; ox++) {
        const x0 = spanBegin(ox, g.strideW, g.padLeft);
        const x1 = spanEnd(ox, g.strideW, g.padLeft, g.kernelW, g.inW);
        scratch.fill(0, 0, c);
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const at = ((n * g.inH + iy) * g.inW + ix) * stride;
            for (let k = 0; k < c; k++) {
              scratch[k] += 1 - 2 * ((halves[at + (k >>> 5)] >>> (k & 31)) & 1);
            }
          }
        }
        const divisor = options.countIncludePad ? g.kernelH * g.kernelW : (y1 - y0) * (x1 - x0);
        const out = ((n * g.outH + oy) * g.outW + ox) * c;
        for (let k = 0; k < c; k++) output[out + k] = scratch[k] / divisor;
      }
    }
  }
}

/** Sizes of a global pool: `batch` images of `pixels` pixels of `channels` channels. */
export interface GlobalPoolSizes {
  /** Images. */
  readonly batch: number;
  /** Pixels per image (height x width). */
  readonly pixels: number;
  /** Channels. */
  readonly channels: number;
}

/**
 * Global average pool of a non-bits activation into f32 `output` (`batch x channels`),
 * pixels summed in row-major order. `scratch` holds at least `channels` values.
 *
 * @example
 * ```ts
 * import { globalAvgPool } from "./avgpool.ts";
 * const out = new Float32Array(1);
 * globalAvgPool(Int32Array.of(1, 2, 4), out, { batch: 1, pixels: 3, channels: 1 }, new Float64Array(1));
 * console.log(out[0]); // 2.3333332538604736
 * ```
 */
export function globalAvgPool(
  input: AvgPoolInput,
  output: Float32Array,
  sizes: GlobalPoolSizes,
  scratch: Float64Array,
): void {
  const { batch, pixels, channels: c } = sizes;
  const f32 = input instanceof Float32Array;
  for (let n = 0; n < batch; n++) {
    scratch.fill(0, 0, c);
    for (let p = 0; p < pixels; p++) {
      const at = (n * pixels + p) * c;
      if (f32) {
        for (let k = 0; k < c; k++) scratch[k] = Math.fround(scratch[k] + input[at + k]);
      } else {
        for (let k = 0; k < c; k++) scratch[k] += input[at + k];
      }
    }
    for (let k = 0; k < c; k++) output[n * c + k] = scratch[k] / pixels;
  }
}

/** Global average pool of a `bits` activation (see {@linkcode avgPoolBits}). */
export function globalAvgPoolBits(
  halves: Uint32Array,
  output: Float32Array,
  sizes: GlobalPoolSizes,
  scratch: Float64Array,
): void {
  const { batch, pixels, channels: c } = sizes;
  const stride = 2 * Math.ceil(c / 64);
  for (let n = 0; n < batch; n++) {
    scratch.fill(0, 0, c);
    for (let p = 0; p < pixels; p++) {
      const at = (n * pixels + p) * stride;
      for (let k = 0; k < c; k++) scratch[k] += 1 - 2 * ((halves[at + (k >>> 5)] >>> (k & 31)) & 1);
    }
    for (let k = 0; k < c; k++) output[n * c + k] = scratch[k] / pixels;
  }
}
