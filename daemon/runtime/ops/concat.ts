/**
 * Concatenation along channels, NHWC. Byte dtypes copy each input's pixel run within the
 * arena (exact, NaN payloads kept); `bits` moves each input's channel bits to their offset
 * in the output's packed words (channel tail 0 bits, as every bits activation).
 *
 * @module
 */

/**
 * Concatenates non-bits activations by copying bytes within `arena` (the one buffer every
 * activation lives in). `inputs[i]` has `inputBytes[i]` bytes per pixel at byte
 * `inputOffsets[i]`; the output has their sum per pixel at `outOffset`. Allocates nothing.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./concat.ts";
 * const arena = Uint8Array.of(1, 2, 3, 0, 0, 0);
 * concatBytes(arena, { inputOffsets: [0, 2], inputBytes: [2, 1], outOffset: 3 }, 1);
 * console.log(arena); // Uint8Array [1, 2, 3, 1, 2, 3]
 * ```
 */
export function concatBytes(
  arena: Uint8Array,
  layout: {
    inputOffsets: ArrayLike<number>;
    inputBytes: ArrayLike<number>;
    outOffset: number;
  },
  pixels: number,
): void {
  const { inputOffsets, inputBytes, outOffset } = layout;
  const count = inputOffsets.length;
  let outPixelBytes = 0;
  for (let i = 0; i < count; i++) outPixelBytes += inputBytes[i];
  let column = 0;
  for (let i = 0; i < count; i++) {
    const size = inputBytes[i];
    const base = inputOffsets[i];
    for (let p = 0; p < pixels; p++) {
      const from = base + p * size;
      const to = outOffset + p * outPixelBytes + column;
      if (size <= 16) {
        for (let b = 0; b < size; b++) arena[to + b] = arena[from + b];
      } else {
        arena.copyWithin(to, from, from + size);
      }
    }
    column += size;
  }
}

/**
 * Concatenates `bits` activations: `inputs[i]` (packed words viewed as u32 halves,
 * `2 * ceil(channels[i] / 64)` per pixel) into `output` (halves for the summed channels).
 *
 * @example
 * ```ts
 * import { concatBits } from "./concat.ts";
 * const a = Uint32Array.of(0b1, 0); // 1 channel: -1
 * const b = Uint32Array.of(0b10, 0); // 2 channels: +1, -1
 * const out = new Uint32Array(2);
 * concatBits([a, b], [1, 2], out, 1);
 * console.log(out[0].toString(2)); // "101"
 * ```
 */
export function concatBits(
  inputs: readonly Uint32Array[],
  channels: ArrayLike<number>,
  output: Uint32Array,
  pixels: number,
): void {
  let total = 0;
  for (let i = 0; i < inputs.length; i++) total += channels[i];
  const outStride = 2 * Math.ceil(total / 64);
  output.fill(0);
  let column = 0;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    const c = channels[i];
    const stride = 2 * Math.ceil(c / 64);
    const halves = Math.ceil(c / 32);
    const shift = column & 31;
    for (let p = 0; p < pixels; p++) {
      const from = p * stride;
      const to = p * outStride + (column >>> 5);
      for (let h = 0; h < halves; h++) {
        // Tail bits of the input are 0, so whole halves can be ORed in.
        const value = input[from + h];
        output[to + h] |= value << shift;
        if (shift !== 0) output[to + h + 1] |= value >>> (32 - shift);
      }
    }
    column += c;
  }
}
