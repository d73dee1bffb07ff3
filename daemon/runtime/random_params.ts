/**
 * Seeded random parameters for models built in code (the builder and zoo, and the test
 * fixtures): the same values for the same seed on every machine.
 *
 * @module
 */

/**
 * A seeded random source (mulberry32): numbers in [0, 1), the same sequence for a seed.
 *
 * @example
 * ```ts
 * import { seededRandom } from "./random_params.ts";
 * const random = seededRandom(42);
 * console.log(random() === seededRandom(42)()); // true
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A random integer in `min..max`. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/**
 * `rows` packed rows of `channels` random bits each (`ceil(channels/64)` words per row), with
 * the tail bits of each row 0 as the format requires.
 */
export function packedBits(random: () => number, rows: number, channels: number): BigUint64Array {
  const words = Math.ceil(channels / 64);
  const data = new BigUint64Array(rows * words);
  const halves = new Uint32Array(data.buffer);
  for (let index = 0; index < halves.length; index++) {
    halves[index] = Math.floor(random() * 2 ** 32);
  }
  const used = channels % 64;
  if (used !== 0) {
    const mask = (1n << BigInt(used)) - 1n;
    for (let row = 0; row < rows; row++) data[row * words + words - 1] &= mask;
  }
  return data;
}
