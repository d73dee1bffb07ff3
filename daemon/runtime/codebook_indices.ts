/**
 * Packed codebook indices of a `codebook_conv2d` (sparse kernel selection, Wang et al.,
 * CVPR 2023): each kernel's index into the layer's 2^tau codewords is stored in exactly tau
 * bits, so a 3x3 kernel costs tau/9 bits per weight.
 *
 * ## Layout (the model file's `indices` tensor, U8 `[ceil(O * C * tau / 8)]`)
 *
 * The indices of kernel `k = o * C + c` (row-major `[O][C]`, `O` out and `C` in channels)
 * are concatenated into one little-endian bit stream: index k occupies stream bits
 * `k * tau .. k * tau + tau - 1`, its least significant bit first, and stream bit `j` is bit
 * `j % 8` (value `1 << (j % 8)`) of byte `floor(j / 8)`. Fields may straddle bytes; rows are
 * not padded. The bits past the last index in the last byte must be 0, and the tensor holds
 * exactly `ceil(O * C * tau / 8)` bytes. A tau-bit field can only hold values below 2^tau,
 * so every stored index is inside the codebook. At tau 8 the layout is one byte per index.
 *
 * The kernel library's codebook API takes one u8 per index (`[O][C]`); the runtime unpacks
 * at load with {@linkcode unpackIndices}.
 *
 * @example
 * ```ts
 * import { packIndices, unpackIndices } from "./codebook_indices.ts";
 * const packed = packIndices(Uint8Array.of(1, 2, 3), 3); // 9 bits in 2 bytes
 * console.log(packed); // Uint8Array(2) [ 209, 0 ]
 * console.log(unpackIndices(packed, 3, 3)); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 *
 * @module
 */

function checkTau(tau: number, what: string): void {
  if (!Number.isInteger(tau) || tau < 1 || tau > 8) {
    throw new RangeError(`${what}: tau ${tau}, expected an integer 1..8`);
  }
}

function checkCount(count: number, what: string): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`${what}: count ${count}, expected an integer >= 0`);
  }
}

/** Bytes of `count` packed tau-bit indices: `ceil(count * tau / 8)`. */
export function packedIndexBytes(count: number, tau: number): number {
  checkTau(tau, "packedIndexBytes");
  checkCount(count, "packedIndexBytes");
  return Math.ceil((count * tau) / 8);
}

/**
 * Packs indices (each below 2^tau) into the layout of the module doc. Throws a RangeError
 * naming the first index that does not fit.
 */
export function packIndices(indices: ArrayLike<number>, tau: number): Uint8Array {
  checkTau(tau, "packIndices");
  const out = new Uint8Array(Math.ceil((indices.length * tau) / 8));
  const limit = 1 << tau;
  let bit = 0;
  for (let k = 0; k < indices.length; k++, bit += tau) {
    const value = indices[k];
    if (!Number.isInteger(value) || value < 0 || value >= limit) {
      throw new RangeError(`packIndices: index ${value} at ${k} is not below 2^${tau}`);
    }
    // A field spans at most two bytes (tau <= 8).
    const byte = bit >>> 3;
    const shifted = value << (bit & 7);
    out[byte] |= shifted & 0xff;
    if (shifted > 0xff) out[byte + 1] |= shifted >>> 8;
  }
  return out;
}

/**
 * What is wrong with `packed` as `count` packed tau-bit indices (its length or its trailing
 * bits), or undefined when it is well formed.
 */
export function packedIndicesProblem(
  packed: Uint8Array,
  count: number,
  tau: number,
): string | undefined {
  const bytes = packedIndexBytes(count, tau);
  if (packed.length !== bytes) {
    return `holds ${packed.length} bytes, ${count} indices of ${tau} bits need ${bytes}`;
  }
  const used = (count * tau) % 8;
  if (used !== 0 && (packed[bytes - 1] >>> used) !== 0) {
    return `has bits set past index ${count} in its last byte (0x${
      packed[bytes - 1].toString(16).padStart(2, "0")
    }); the ${8 - used} trailing bits must be 0`;
  }
  return undefined;
}

/**
 * The `count` indices packed in `packed`, one u8 each (the kernel library's layout).
 * Throws a RangeError when `packed` is not well formed (see {@linkcode packedIndicesProblem}).
 */
export function unpackIndices(packed: Uint8Array, count: number, tau: number): Uint8Array {
  const problem = packedIndicesProblem(packed, count, tau);
  if (problem !== undefined) throw new RangeError(`unpackIndices: packed indices ${problem}`);
  if (tau === 8) return packed.slice();
  const out = new Uint8Array(count);
  const mask = (1 << tau) - 1;
  let bit = 0;
  for (let k = 0; k < count; k++, bit += tau) {
    const byte = bit >>> 3;
    // Two bytes cover any field; the byte past the end reads as undefined -> 0.
    const window = packed[byte] | ((packed[byte + 1] ?? 0) << 8);
    out[k] = (window >>> (bit & 7)) & mask;
  }
  return out;
}
