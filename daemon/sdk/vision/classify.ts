/**
 * Classification post-processing: {@linkcode softmax} and {@linkcode topK}.
 *
 * @module
 */

import { VisionError } from "./errors.ts";

/**
 * Softmax of `scores` (numerically stable: the maximum is subtracted first). Returns a new
 * array summing to 1. Throws `bad_argument` for an empty or non-finite input.
 *
 * @example
 * ```ts
 * import { softmax } from "./classify.ts";
 * console.log([...softmax([0, 0])]); // [0.5, 0.5]
 * ```
 */
export function softmax(scores: ArrayLike<number>): Float32Array {
  if (scores.length === 0) throw new VisionError("bad_argument", "softmax: no scores");
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new VisionError("bad_argument", `softmax: score ${i} is ${scores[i]}, expected finite`);
    }
    if (scores[i] > max) max = scores[i];
  }
  const out = new Float32Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const e = Math.exp(scores[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** One entry of {@linkcode topK}. */
export interface Ranked {
  /** Index into the scores. */
  readonly index: number;
  /** Its score. */
  readonly score: number;
}

/**
 * The `k` largest scores, largest first (ties: the lower index first). `k` larger than the
 * array gives all of them. Throws `bad_argument` for `k` < 1 or not an integer.
 *
 * @example
 * ```ts
 * import { topK } from "./classify.ts";
 * console.log(topK([0.1, 0.7, 0.2], 2)); // [{ index: 1, score: 0.7 }, { index: 2, score: 0.2 }]
 * ```
 */
export function topK(scores: ArrayLike<number>, k: number): Ranked[] {
  if (!Number.isInteger(k) || k < 1) {
    throw new VisionError("bad_argument", `topK: k is ${k}, expected an integer ≥ 1`);
  }
  const order = Array.from({ length: scores.length }, (_, index) => index);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, score: scores[index] }));
}
