/**
 * The popcount roofline (`kernels/src/roofline.zig`): a register-only `xor + popcount + add`
 * loop at the library level's vector width, run on every thread of a context. Timing a call
 * gives the most 64-bit word xor-popcounts per second this machine can execute, the ceiling
 * binary convolutions are measured against (DESIGN.md section 8).
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { BINARY_MACS_PER_WORD_OP, runRoofline } from "./roofline.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 1 });
 * const start = performance.now();
 * const wordOps = runRoofline(ctx, 1_000_000);
 * const seconds = (performance.now() - start) / 1000;
 * console.log(`${(wordOps * BINARY_MACS_PER_WORD_OP / seconds / 1e9).toFixed(1)} binary GMAC/s`);
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";

/** One 64-bit word xor-popcount computes 64 binary multiply-accumulates. */
export const BINARY_MACS_PER_WORD_OP = 64;

/** Largest iteration count of one call (the ABI takes a `u32`). */
export const ROOFLINE_ITERATIONS_MAX = 0xffff_ffff;

/**
 * Runs `iterations` iterations of the roofline loop on every thread of `ctx` and returns the
 * number of 64-bit word xor-popcounts executed over all threads (iterations x the level's
 * words per iteration x threads). The caller times the call. Throws `invalid_argument` for an
 * iteration count that is not an integer in 1..{@linkcode ROOFLINE_ITERATIONS_MAX}.
 */
export function runRoofline(ctx: KernelContext, iterations: number): number {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > ROOFLINE_ITERATIONS_MAX) {
    throw new KernelError(
      "invalid_argument",
      `roofline: iterations is ${iterations}, must be an integer from 1 to ${ROOFLINE_ITERATIONS_MAX}`,
    );
  }
  const out = new BigUint64Array(1);
  ctx.check(ctx.lib.symbols.ob_roofline_popcount(ctx.handle, iterations, out), "roofline");
  // At most 2^32 iterations x 64 words x 64 threads = 2^44: exact as a number.
  return Number(out[0]);
}
