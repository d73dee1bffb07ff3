/**
 * Logistic sigmoid, f32 in and out: `y = f32(1 / (1 + exp(-x)))` computed in double
 * precision (V8's portable `Math.exp`), so every machine gives the same bits.
 *
 * @module
 */

/**
 * Writes the sigmoid of every value of `input` to `output` (same length).
 *
 * @example
 * ```ts
 * import { sigmoid } from "./sigmoid.ts";
 * const out = new Float32Array(1);
 * sigmoid(Float32Array.of(0), out);
 * console.log(out[0]); // 0.5
 * ```
 */
export function sigmoid(input: Float32Array, output: Float32Array): void {
  const length = input.length;
  for (let i = 0; i < length; i++) output[i] = 1 / (1 + Math.exp(-input[i]));
}
