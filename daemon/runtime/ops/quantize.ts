/**
 * Quantize f32 to u8 or i8 as ONNX Runtime's QuantizeLinear does (MLAS): in f32,
 *   `q = clamp(round_half_even(f32(x / f32(scale))) + zero_point, lo, hi)`
 * with `lo..hi` = 0..255 (u8) or -128..127 (i8). A NaN input gives `zero_point`
 * (ONNX leaves it undefined; this keeps it deterministic).
 *
 * @module
 */

/** Rounds to the nearest integer, ties to even. */
export function roundHalfEven(value: number): number {
  const rounded = Math.round(value); // ties toward +infinity
  return rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

/**
 * Quantizes every value of `input` into `output` (same length; `Uint8Array` for u8,
 * `Int8Array` for i8).
 *
 * @example
 * ```ts
 * import { quantize } from "./quantize.ts";
 * const out = new Uint8Array(4);
 * quantize(Float32Array.of(0.25, 0.75, -10, 10), out, { scale: 0.5, zeroPoint: 128 });
 * console.log(out); // Uint8Array [128, 130, 108, 148]: 0.5 -> 0, 1.5 -> 2
 * ```
 */
export function quantize(
  input: Float32Array,
  output: Uint8Array | Int8Array,
  params: { scale: number; zeroPoint: number },
): void {
  const scale = Math.fround(params.scale);
  const { zeroPoint } = params;
  // Clamping before rounding gives the same result (the bounds are integers) and keeps the
  // value small enough for the magic-number rounding below.
  const lo = (output instanceof Uint8Array ? 0 : -128) - zeroPoint;
  const hi = (output instanceof Uint8Array ? 255 : 127) - zeroPoint;
  const length = input.length;
  for (let i = 0; i < length; i++) {
    // f32(x / scale): the double quotient of two f32 values rounds to the f32 quotient.
    let v = Math.fround(input[i] / scale);
    if (v !== v) v = 0; // NaN
    v = v < lo ? lo : v > hi ? hi : v;
    // Adding and subtracting 1.5 * 2^52 rounds a double below 2^51 to an integer, ties to
    // even (as round_half_even; much faster than Math.round and a fix-up).
    output[i] = (v + ROUND_MAGIC) - ROUND_MAGIC + zeroPoint;
  }
}

const ROUND_MAGIC = 6755399441055744;
