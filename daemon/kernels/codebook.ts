/**
 * Codebook convolution layers (sparse kernel selection, Wang et al., CVPR 2023;
 * `kernels/src/codebook/contract.zig`): every 3x3 binary kernel of a layer is one of 2^tau
 * codewords, stored as a tau-bit index per (output, input) channel pair.
 *
 * Such a layer runs two ways with the same outputs: {@linkcode expandCodebook} turns it into
 * ordinary binary weights for `BinaryConv2d` (`bconv.ts`), and {@linkcode CodebookConv2d} runs the
 * gather kernel, which computes each codeword's response once per input channel and sums
 * the responses the indices select. Which one is faster depends on the CPU level and tau; the
 * runtime measures.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { CodebookConv2d } from "./codebook.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 1 });
 * const shape = { batch: 1, inH: 8, inW: 8, inC: 64, outC: 64, kernelH: 3, kernelW: 3,
 *   strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 };
 * const layer = { tau: 4, outC: 64, inC: 64, codebook: Uint16Array.from({ length: 16 }, (_, j) => j * 31),
 *   indices: new Uint8Array(64 * 64) };
 * const conv = new CodebookConv2d(ctx, { shape, transform: { kind: "int32" } }, layer);
 * const out = new Int32Array(conv.outputBytes / 4);
 * conv.run(new BigUint64Array(conv.inputWords), out);
 * ```
 *
 * @module
 */

import {
  type BinaryConvSpec,
  channelParams,
  outputBytes,
  type OutputTransform,
  type PadValue,
  TRANSFORM_KINDS,
} from "./bconv.ts";
import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";
import { outH, outW, windowParams, wordsFor } from "./shape.ts";

/** Largest tau: a codebook of 256 codewords (u8 indices). */
export const CODEBOOK_TAU_MAX = 8;

/** A layer of codeword indices. */
export interface CodebookLayer {
  /** log2 of the codebook size, 1 to {@linkcode CODEBOOK_TAU_MAX} (the paper uses 4 to 6). */
  tau: number;
  /** Output channels. */
  outC: number;
  /** Input channels. */
  inC: number;
  /**
   * 2^tau codewords: 9-bit 3x3 patterns, bit t = tap `ky*3 + kx`, bit 1 = -1 (as packed
   * activations).
   */
  codebook: Uint16Array;
  /** `[outC][inC]` codeword indices, each below 2^tau. */
  indices: Uint8Array;
}

const padCodes: Record<PadValue, number> = { plus_one: 0, minus_one: 1, zero: 2 };

function clampRange(transform: OutputTransform): [number, number] {
  if (transform.kind === "int8") return [transform.qmin ?? -128, transform.qmax ?? 127];
  if (transform.kind === "join") return [transform.qmin ?? -8, transform.qmax ?? 7];
  return [0, 0];
}

/**
 * The layer as binary conv weights `[outC][3][3][ceil(inC/64)]` u64 (channel c of tap t is
 * bit t of codeword `indices[o][c]`), for `BinaryConv2d`. Throws
 * {@linkcode KernelError} `invalid_argument` for a tau outside 1..8, an index or codeword
 * out of range, `buffer_too_small` for a short codebook or index array.
 */
export function expandCodebook(ctx: KernelContext, layer: CodebookLayer): BigUint64Array {
  const weights = new BigUint64Array(layer.outC * 9 * wordsFor(layer.inC));
  const status = ctx.lib.symbols.ob_codebook_expand(
    ctx.handle,
    layer.tau,
    layer.outC,
    layer.inC,
    layer.codebook,
    layer.codebook.length,
    layer.indices,
    layer.indices.length,
    weights,
    weights.length,
  );
  ctx.check(status, "codebook expand");
  return weights;
}

/**
 * The layer packed for the gather kernel (response table, tap sums, blocked indices): done
 * once per layer at model load. Throws like {@linkcode expandCodebook}.
 */
export function packCodebook(ctx: KernelContext, layer: CodebookLayer): BigUint64Array {
  const { ob_codebook_packed_words, ob_codebook_pack } = ctx.lib.symbols;
  const words = ob_codebook_packed_words(layer.tau, layer.outC, layer.inC);
  if (words === 0) {
    throw new KernelError(
      "invalid_argument",
      `Cannot pack a codebook layer with tau ${layer.tau}, outC ${layer.outC}, inC ` +
        `${layer.inC}: tau must be 1 to ${CODEBOOK_TAU_MAX}, channels 1 to 16384`,
    );
  }
  const packed = new BigUint64Array(words);
  const status = ob_codebook_pack(
    ctx.handle,
    layer.tau,
    layer.outC,
    layer.inC,
    layer.codebook,
    layer.codebook.length,
    layer.indices,
    layer.indices.length,
    packed,
    packed.length,
  );
  ctx.check(status, "codebook pack");
  return packed;
}

type Output = Uint8Array | Int8Array | Int32Array | Float32Array | BigUint64Array;

/**
 * A 3x3 codebook conv layer bound to a context: the gather kernel over a packed layer, with
 * the binary conv's pads and output transforms (`spec`; `shape.kernelH/W` must be 3).
 */
export class CodebookConv2d {
  readonly spec: BinaryConvSpec;
  /** Bytes `run` writes to its output. */
  readonly outputBytes: number;
  /** Words `run` reads from its input. */
  readonly inputWords: number;
  readonly #ctx: KernelContext;
  readonly #params: Uint32Array;
  readonly #packed: BigUint64Array;
  readonly #channel: Uint32Array;
  readonly #kind: number;
  readonly #pad: number;
  readonly #qmin: number;
  readonly #qmax: number;

  /** Packs `layer` (its `outC`/`inC` must equal the shape's) and lays out the parameters. */
  constructor(ctx: KernelContext, spec: BinaryConvSpec, layer: CodebookLayer) {
    const { shape } = spec;
    if (layer.outC !== shape.outC || layer.inC !== shape.inC) {
      throw new KernelError(
        "shape_mismatch",
        `Codebook layer is ${layer.outC}x${layer.inC} (outC x inC), shape is ` +
          `${shape.outC}x${shape.inC}`,
      );
    }
    this.spec = spec;
    this.#ctx = ctx;
    this.#params = windowParams(shape);
    this.#packed = packCodebook(ctx, layer);
    this.#channel = channelParams(spec.transform, shape.outC);
    this.#kind = TRANSFORM_KINDS.indexOf(spec.transform.kind);
    this.#pad = padCodes[spec.pad ?? "plus_one"];
    [this.#qmin, this.#qmax] = clampRange(spec.transform);
    const pixels = shape.batch * outH(shape) * outW(shape);
    this.outputBytes = outputBytes(spec.transform.kind, pixels, shape.outC);
    this.inputWords = shape.batch * shape.inH * shape.inW * wordsFor(shape.inC);
  }

  /**
   * Runs the layer: `input` packed NHWC words, `output` of `outputBytes` bytes, `residual`
   * (i8, one per output value) for the join transform.
   */
  run(input: BigUint64Array, output: Output, residual?: Int8Array): void {
    const status = this.#ctx.lib.symbols.ob_codebook_conv2d(
      this.#ctx.handle,
      this.#params,
      this.#pad,
      input,
      input.length,
      this.#packed,
      this.#packed.length,
      this.#kind,
      this.#channel,
      this.#channel.length,
      this.#qmin,
      this.#qmax,
      residual ?? null,
      residual?.length ?? 0,
      output,
      output.byteLength,
    );
    this.#ctx.check(status, "codebook conv2d");
  }
}
