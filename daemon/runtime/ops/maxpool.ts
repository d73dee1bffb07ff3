/**
 * Max pool of `u8`, `i8`, `i32` and `f32` activations (bits go to the binary max pool
 * kernel). Padded taps are ignored, so every window holds at least one real value (each pad
 * is below its kernel size). Per output value: the first real tap in (ky, kx) order,
 * replaced by every later tap that is greater (`>`). So a NaN never replaces a number, and
 * a NaN in the first tap is kept (`x > NaN` is false): deterministic, which is all this op
 * promises for NaN.
 *
 * @module
 */

import { spanBegin, spanEnd, type WindowGeometry } from "./window.ts";

/** A non-bits activation a max pool reads and writes (input and output of one type). */
export type MaxPoolArray = Uint8Array | Int8Array | Int32Array | Float32Array;

/**
 * Writes the max pool of `input` (NHWC, geometry `g`) into `output`
 * (`batch x outH x outW x channels`, same type as `input`).
 *
 * @example
 * ```ts
 * import { maxPool } from "./maxpool.ts";
 * import { windowGeometry } from "./window.ts";
 * const g = windowGeometry([1, 2, 2, 1], { kernel: [2, 2], stride: [1, 1], pads: [0, 0, 0, 0] });
 * const out = new Int8Array(1);
 * maxPool(Int8Array.of(-3, 4, 1, -9), out, g);
 * console.log(out[0]); // 4
 * ```
 */
export function maxPool<T extends MaxPoolArray>(input: T, output: T, g: WindowGeometry): void {
  const c = g.channels;
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outH; oy++) {
      const y0 = spanBegin(oy, g.strideH, g.padTop);
      const y1 = spanEnd(oy, g.strideH, g.padTop, g.kernelH, g.inH);
      for (let ox = 0; ox < g.outW; ox++) {
        const x0 = spanBegin(ox, g.strideW, g.padLeft);
        const x1 = spanEnd(ox, g.strideW, g.padLeft, g.kernelW, g.inW);
        const out = ((n * g.outH + oy) * g.outW + ox) * c;
        const first = ((n * g.inH + y0) * g.inW + x0) * c;
        for (let k = 0; k < c; k++) output[out + k] = input[first + k];
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = iy === y0 ? x0 + 1 : x0; ix < x1; ix++) {
            const at = ((n * g.inH + iy) * g.inW + ix) * c;
            for (let k = 0; k < c; k++) {
              const value = input[at + k];
              if (value > output[out + k]) output[out + k] = value;
            }
          }
        }
      }
    }
  }
}
