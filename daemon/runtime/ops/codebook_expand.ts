/**
 * Expands a codebook conv's weights (a codebook of `2^tau` codewords, codeword bit
 * `ky*kw + kx` = tap, bit 1 = -1, and a u8 index per (out, in) kernel) into binary conv
 * weights in the ABI layout `[O][kh][kw][ceil(C/64)]` u64, tail bits 0 (graph.ts). The
 * kernel library's `ob_codebook_expand` does the same for 3x3 kernels; this covers every
 * kernel size a codebook conv may have (up to 16 taps).
 *
 * @module
 */

/** Sizes of a codebook conv's weights. */
export interface CodebookDims {
  /** Output channels. */
  readonly outC: number;
  /** Kernel height. */
  readonly kernelH: number;
  /** Kernel width. */
  readonly kernelW: number;
  /** Input channels. */
  readonly inC: number;
}

/**
 * The binary conv weights of a codebook layer.
 *
 * @example
 * ```ts
 * import { expandCodebook } from "./codebook_expand.ts";
 * // One 1x2 kernel, codeword 0b10: tap 0 is +1, tap 1 is -1.
 * const w = expandCodebook(Uint16Array.of(0b10), Uint8Array.of(0), {
 *   outC: 1, kernelH: 1, kernelW: 2, inC: 1,
 * });
 * console.log(w); // BigUint64Array [0n, 1n]
 * ```
 */
export function expandCodebook(
  codebook: Uint16Array,
  indices: Uint8Array,
  dims: CodebookDims,
): BigUint64Array {
  const { outC, kernelH, kernelW, inC } = dims;
  const taps = kernelH * kernelW;
  const words = Math.ceil(inC / 64);
  const weights = new BigUint64Array(outC * taps * words);
  const halves = new Uint32Array(weights.buffer);
  for (let o = 0; o < outC; o++) {
    for (let c = 0; c < inC; c++) {
      const codeword = codebook[indices[o * inC + c]];
      for (let t = 0; t < taps; t++) {
        if (((codeword >>> t) & 1) === 0) continue;
        const word = (o * taps + t) * words + (c >>> 6);
        halves[word * 2 + ((c >>> 5) & 1)] |= 1 << (c & 31);
      }
    }
  }
  return weights;
}
