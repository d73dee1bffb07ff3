/**
 * Helpers shared by the kernel tests.
 *
 * @module
 */

/**
 * A small deterministic PRNG (mulberry32) returning floats in [0, 1), so a failure can name
 * the seed that reproduces it.
 *
 * @example
 * ```ts
 * import { rng } from "./test_support.ts";
 * const random = rng(7);
 * console.log(random() < 1); // true
 * ```
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
