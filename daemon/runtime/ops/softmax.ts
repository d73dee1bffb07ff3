/**
 * Softmax over the channels of each pixel, f32 in and out. Computed in double precision and
 * rounded to f32 once per value, the same way on every machine (V8's `Math.exp` is one
 * portable implementation):
 *   `m = max_c x[c]`, `e[c] = exp(x[c] - m)`, `s = sum_c e[c]` (channel order),
 *   `y[c] = f32(e[c] / s)`.
 *
 * @module
 */

/**
 * Softmax of `pixels` rows of `channels` values. `scratch` holds at least `channels` values
 * (allocated once by the caller).
 *
 * @example
 * ```ts
 * import { softmax } from "./softmax.ts";
 * const out = new Float32Array(2);
 * softmax(Float32Array.of(0, 0), out, { pixels: 1, channels: 2 }, new Float64Array(2));
 * console.log(out); // Float32Array [0.5, 0.5]
 * ```
 */
export function softmax(
  input: Float32Array,
  output: Float32Array,
  sizes: { pixels: number; channels: number },
  scratch: Float64Array,
): void {
  const { pixels, channels: c } = sizes;
  for (let p = 0; p < pixels; p++) {
    const at = p * c;
    let max = input[at];
    for (let k = 1; k < c; k++) if (input[at + k] > max) max = input[at + k];
    let sum = 0;
    for (let k = 0; k < c; k++) {
      const e = Math.exp(input[at + k] - max);
      scratch[k] = e;
      sum += e;
    }
    for (let k = 0; k < c; k++) output[at + k] = scratch[k] / sum;
  }
}
