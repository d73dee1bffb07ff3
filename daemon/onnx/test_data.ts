/**
 * Seeded random tensors for the ONNX comparisons (tests and benchmarks): the same seed gives
 * the same data on every machine, so a failure names a seed that reproduces it.
 *
 * @module
 */

/**
 * A seeded generator of uniform numbers in [0, 1) (mulberry32: small, fast, good enough for
 * test data; not for anything secret).
 *
 * @example
 * ```ts
 * import { seededRandom } from "./test_data.ts";
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
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@linkcode randomInts} and {@linkcode randomFloats}. */
export interface RandomOptions {
  /** The generator, e.g. from {@linkcode seededRandom}. */
  random: () => number;
  /** Smallest value. Default: the type's minimum for ints, -1 for floats. */
  min?: number;
  /** Largest value (inclusive for ints, exclusive for floats). Default: the type's maximum
   * for ints, 1 for floats. */
  max?: number;
}

/**
 * A new `Uint8Array` / `Int8Array` / `Int32Array` of `length` uniform integers.
 *
 * @example
 * ```ts
 * import { randomInts, seededRandom } from "./test_data.ts";
 * const weights = randomInts(Int8Array, 9, { random: seededRandom(1), min: -64, max: 63 });
 * ```
 */
export function randomInts<T extends Uint8Array | Int8Array | Int32Array>(
  type: { new (length: number): T },
  length: number,
  options: RandomOptions,
): T {
  const data = new type(length);
  const defaults = data instanceof Uint8Array
    ? [0, 255]
    : data instanceof Int8Array
    ? [-128, 127]
    : [-(2 ** 31), 2 ** 31 - 1];
  const min = options.min ?? defaults[0];
  const max = options.max ?? defaults[1];
  for (let index = 0; index < length; index++) {
    data[index] = min + Math.floor(options.random() * (max - min + 1));
  }
  return data;
}

/**
 * A new `Float32Array` of `length` uniform values in [min, max).
 *
 * @example
 * ```ts
 * import { randomFloats, seededRandom } from "./test_data.ts";
 * const x = randomFloats(16, { random: seededRandom(7), min: -1, max: 1 });
 * ```
 */
export function randomFloats(length: number, options: RandomOptions): Float32Array {
  const min = options.min ?? -1;
  const max = options.max ?? 1;
  const data = new Float32Array(length);
  for (let index = 0; index < length; index++) data[index] = min + options.random() * (max - min);
  return data;
}
