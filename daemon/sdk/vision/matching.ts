/**
 * Descriptor matching through the kernel library's Hamming matcher (daemon/kernels/hamming.ts):
 * nearest neighbours with Lowe's ratio test and a cross check, as a list of matches.
 *
 * @module
 */

import { hammingMatch } from "../../kernels/hamming.ts";
import type { KernelContext } from "../../kernels/library.ts";
import { VisionError } from "./errors.ts";

/** One accepted match. */
export interface Match {
  /** Index of the query descriptor. */
  readonly query: number;
  /** Index of its nearest train descriptor. */
  readonly train: number;
  /** Their Hamming distance, bits. */
  readonly distance: number;
}

/** Options of {@linkcode matchDescriptors}. */
export interface MatchOptions {
  /** Bits per descriptor: a multiple of 64 up to 1024. */
  bits: number;
  /** Lowe's ratio (keep when best < ratio * second); 1 disables it. Default 0.9. */
  ratio?: number;
  /** Keep only mutual nearest neighbours. Default true. */
  crossCheck?: boolean;
  /** Drop matches farther than this many bits. Default: no limit. */
  distanceMax?: number;
}

/**
 * Matches `query` against `train` descriptors (`[count][bits/64]` u64 words each) with the
 * kernel library's Hamming matcher on `kernels`, and returns the accepted matches, closest
 * first. Empty sets give no matches. Throws `bad_argument` for a bad ratio or bit count,
 * and the kernel's `KernelError` for descriptor sets it refuses.
 *
 * @example
 * ```ts ignore
 * const matches = matchDescriptors(ctx.kernels, a, b, { bits: 128, ratio: 0.9 });
 * ```
 */
export function matchDescriptors(
  kernels: KernelContext,
  sets: { query: BigUint64Array; train: BigUint64Array },
  options: MatchOptions,
): Match[] {
  const { bits } = options;
  const ratio = options.ratio ?? 0.9;
  if (!(ratio > 0)) {
    throw new VisionError("bad_argument", `matchDescriptors: ratio is ${ratio}, expected > 0`);
  }
  if (!Number.isInteger(bits) || bits < 64 || bits % 64 !== 0) {
    throw new VisionError(
      "bad_argument",
      `matchDescriptors: bits is ${bits}, expected a multiple of 64`,
    );
  }
  if (sets.query.length === 0 || sets.train.length === 0) return [];
  const result = hammingMatch(kernels, { query: sets.query, train: sets.train, bits }, {
    ratio,
    crossCheck: options.crossCheck ?? true,
  });
  const limit = options.distanceMax ?? Infinity;
  const matches: Match[] = [];
  for (let q = 0; q < result.index.length; q++) {
    const train = result.index[q];
    if (train < 0 || result.best[q] > limit) continue;
    matches.push({ query: q, train, distance: result.best[q] });
  }
  matches.sort((a, b) => a.distance - b.distance || a.query - b.query);
  return matches;
}
