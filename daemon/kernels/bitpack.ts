/**
 * Bit packing (`kernels/src/bitpack/bitpack.zig`): f32 / i8 / u8 NHWC values to packed
 * binary activations, by sign bit or by per-channel threshold (`x < t[c]` packs to 1, i.e.
 * -1).
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { bitpack } from "./bitpack.ts";
 * const lib = openKernels();
 * const ctx = new KernelContext(lib, { threads: 1 });
 * const words = new BigUint64Array(1);
 * bitpack(ctx, new Float32Array([1, -1, 0.5]), { pixels: 1, channels: 3 }, words);
 * console.log(words[0]); // 2n
 * ctx.destroy();
 * lib.close();
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";
import { wordsFor } from "./shape.ts";

/** Values to pack: f32, i8 (sign bit or thresholds) or u8 (thresholds required). */
export type PackInput = Float32Array | Int8Array | Uint8Array;

/**
 * Packs `pixels x channels` values into `output` (`pixels * ceil(channels/64)` words).
 * `thresholds` has one value per channel: f32 for f32 input, i32 for i8 and u8.
 */
export function bitpack(
  ctx: KernelContext,
  input: PackInput,
  sizes: { pixels: number; channels: number },
  output: BigUint64Array,
  thresholds?: Float32Array | Int32Array,
): void {
  const dtype = input instanceof Float32Array ? 0 : input instanceof Int8Array ? 1 : 2;
  if (thresholds !== undefined && (dtype === 0) !== (thresholds instanceof Float32Array)) {
    throw new KernelError(
      "invalid_argument",
      `bitpack thresholds must be ${dtype === 0 ? "Float32Array" : "Int32Array"} for ` +
        `${input.constructor.name} input`,
    );
  }
  const { ob_bitpack } = ctx.lib.symbols;
  const status = ob_bitpack(
    ctx.handle,
    dtype,
    sizes.pixels,
    sizes.channels,
    input,
    input.byteLength,
    thresholds ?? null,
    thresholds?.length ?? 0,
    output,
    output.length,
  );
  ctx.check(status, "bitpack");
}

/** Words needed to pack `pixels x channels` values. */
export function packedWordsFor(pixels: number, channels: number): number {
  return pixels * wordsFor(channels);
}
