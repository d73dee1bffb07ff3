/**
 * The BiNeal block join of two INT4 branches (`bineal_join`): per value
 *   `s = clamp(a + b, qmin, qmax)`, `bit = flip[c] ? s > t[c] : s < t[c]`
 * (bit 1 = -1), the same join the bconv `join` transform applies after its int8 step.
 *
 * @module
 */

/**
 * Joins i8 `a` and `b` (`pixels x channels`) into packed bits `output` (u32 halves,
 * `2 * ceil(channels/64)` per pixel; cleared first, tail bits left 0). `flips` may be
 * omitted (all 0).
 *
 * @example
 * ```ts
 * import { binealJoin } from "./bineal_join.ts";
 * const out = new Uint32Array(2);
 * binealJoin(Int8Array.of(3, -5), Int8Array.of(2, -6), out, {
 *   pixels: 1, channels: 2, qmin: -8, qmax: 7, thresholds: Int32Array.of(0, 0),
 * });
 * console.log(out[0]); // 2: channel 1 is -8 < 0, so -1
 * ```
 */
export function binealJoin(
  a: Int8Array,
  b: Int8Array,
  output: Uint32Array,
  params: {
    pixels: number;
    channels: number;
    qmin: number;
    qmax: number;
    thresholds: Int32Array;
    flips?: Int32Array;
  },
): void {
  const { pixels, channels: c, qmin, qmax, thresholds, flips } = params;
  const stride = 2 * Math.ceil(c / 64);
  output.fill(0);
  for (let p = 0; p < pixels; p++) {
    const at = p * c;
    const to = p * stride;
    for (let k = 0; k < c; k++) {
      let s = a[at + k] + b[at + k];
      s = s < qmin ? qmin : s > qmax ? qmax : s;
      const t = thresholds[k];
      const bit = flips !== undefined && flips[k] !== 0 ? s > t : s < t;
      if (bit) output[to + (k >>> 5)] |= 1 << (k & 31);
    }
  }
}
