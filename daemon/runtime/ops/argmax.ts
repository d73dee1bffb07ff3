/**
 * Argmax over the channels of each pixel: the index of the first maximum (a later value
 * replaces the best only when it is greater, `>`; so a NaN is never chosen after channel 0).
 *
 * @module
 */

/**
 * Writes, per pixel, the channel of the first maximum of `input` (`pixels x channels`) to
 * i32 `output` (`pixels`).
 *
 * @example
 * ```ts
 * import { argmax } from "./argmax.ts";
 * const out = new Int32Array(2);
 * argmax(Float32Array.of(1, 3, 3, 7, 2, 7), out, { pixels: 2, channels: 3 });
 * console.log(out); // Int32Array [1, 0]
 * ```
 */
export function argmax(
  input: Float32Array | Int32Array | Uint8Array | Int8Array,
  output: Int32Array,
  sizes: { pixels: number; channels: number },
): void {
  const { pixels, channels: c } = sizes;
  for (let p = 0; p < pixels; p++) {
    const at = p * c;
    // Track the index, not the value: a double local here made V8 box it on every pixel.
    let best = at;
    for (let k = at + 1; k < at + c; k++) if (input[k] > input[best]) best = k;
    output[p] = best - at;
  }
}
