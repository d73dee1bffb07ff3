/**
 * Hamming matching of binary descriptors (`kernels/src/hamming/contract.zig`), e.g. the
 * 256- or 512-bit descriptors of an R2D2-style matcher: the full distance matrix, or for every
 * query its nearest train descriptor (ties go to the lowest index) with Lowe's ratio test and
 * an optional cross check, without storing the matrix.
 *
 * A descriptor set is `[count][bits/64]` u64 words: descriptor `i` is words
 * `i*bits/64 .. (i+1)*bits/64`.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { hammingMatch } from "./hamming.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 2 });
 * // Two 256-bit train descriptors: all zeros and all ones.
 * const train = new BigUint64Array(8).fill(0xffff_ffff_ffff_ffffn, 4);
 * const query = new BigUint64Array([1n, 0n, 0n, 0n]);
 * const matches = hammingMatch(ctx, { query, train, bits: 256 }, { ratio: 0.8, crossCheck: true });
 * console.log(matches.index[0], matches.best[0], matches.second[0]); // 0 1 255
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";

/** Distance reported for a missing neighbour (no train descriptor, or no second one). */
export const HAMMING_NONE = 0xffff_ffff;

/** Longest descriptor in bits. */
export const HAMMING_BITS_MAX = 1024;

/** Two descriptor sets of one length. */
export interface DescriptorSets {
  /** Query descriptors `[queries][bits/64]`. */
  query: BigUint64Array;
  /** Train descriptors `[trains][bits/64]`. */
  train: BigUint64Array;
  /** Bits per descriptor: a multiple of 64 from 64 to {@linkcode HAMMING_BITS_MAX}. */
  bits: number;
}

/** Per-query results of {@linkcode hammingMatch}. */
export interface HammingMatches {
  /** Index of the matched train descriptor, or -1 when rejected (or no train at all). */
  index: Int32Array;
  /** Distance to the nearest train descriptor ({@linkcode HAMMING_NONE} when there is none). */
  best: Uint32Array;
  /** Second smallest distance ({@linkcode HAMMING_NONE} with fewer than two trains). */
  second: Uint32Array;
}

/** Options of {@linkcode hammingMatch}. */
export interface HammingMatchOptions {
  /**
   * Lowe's ratio: a match is kept when `best < ratio * second` (f32 arithmetic). Must be
   * > 0; 1 or more disables the test. Default: 1 (disabled).
   */
  ratio?: number;
  /** Keep only mutual nearest neighbours (the train's nearest query is this one). Default: false. */
  crossCheck?: boolean;
  /** Arrays to write into (each at least one element per query). Default: new arrays. */
  out?: HammingMatches;
}

/** Options of {@linkcode hammingDistances}. */
export interface HammingDistancesOptions {
  /** Array to write into, at least `queries * trains` long. Default: a new array. */
  out?: Uint16Array;
}

/** Descriptor counts of two sets; throws `invalid_argument` for a bad length or `bits`. */
export function descriptorCounts(sets: DescriptorSets): { queries: number; trains: number } {
  const { bits } = sets;
  if (!Number.isInteger(bits) || bits < 64 || bits > HAMMING_BITS_MAX || bits % 64 !== 0) {
    throw new KernelError(
      "invalid_argument",
      `hamming: bits is ${bits}, must be a multiple of 64 from 64 to ${HAMMING_BITS_MAX}`,
    );
  }
  const words = bits / 64;
  for (const name of ["query", "train"] as const) {
    if (sets[name].length % words !== 0) {
      throw new KernelError(
        "invalid_argument",
        `hamming: ${name} holds ${sets[name].length} words, not a multiple of ${words} ` +
          `(${bits}-bit descriptors)`,
      );
    }
  }
  return { queries: sets.query.length / words, trains: sets.train.length / words };
}

/**
 * The distance matrix: `out[q * trains + t]` = distance(query q, train t), u16.
 * Throws {@linkcode KernelError} for bad sets or a short `out`.
 */
export function hammingDistances(
  ctx: KernelContext,
  sets: DescriptorSets,
  options: HammingDistancesOptions = {},
): Uint16Array {
  const { queries, trains } = descriptorCounts(sets);
  const out = options.out ?? new Uint16Array(queries * trains);
  const status = ctx.lib.symbols.ob_hamming_distances(
    ctx.handle,
    sets.bits,
    sets.query,
    sets.query.length,
    queries,
    sets.train,
    sets.train.length,
    trains,
    out,
    out.length,
  );
  ctx.check(status, "hamming distances");
  return out;
}

/**
 * For every query: the nearest train descriptor (ties: lowest index), accepted by the ratio
 * test and, when asked, the cross check. Throws {@linkcode KernelError} for bad sets,
 * a ratio that is not > 0, or short output arrays.
 */
export function hammingMatch(
  ctx: KernelContext,
  sets: DescriptorSets,
  options: HammingMatchOptions = {},
): HammingMatches {
  const { queries, trains } = descriptorCounts(sets);
  const out = options.out ?? {
    index: new Int32Array(queries),
    best: new Uint32Array(queries),
    second: new Uint32Array(queries),
  };
  const ratio = options.ratio ?? 1;
  const status = ctx.lib.symbols.ob_hamming_match(
    ctx.handle,
    sets.bits,
    sets.query,
    sets.query.length,
    queries,
    sets.train,
    sets.train.length,
    trains,
    ratio,
    options.crossCheck ? 1 : 0,
    out.index,
    out.index.length,
    out.best,
    out.best.length,
    out.second,
    out.second.length,
  );
  ctx.check(status, "hamming match");
  return out;
}
