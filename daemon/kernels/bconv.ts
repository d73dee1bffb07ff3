/**
 * Binary convolution and dense layers over packed bits (`kernels/src/bconv/contract.zig`):
 * weights are packed once into the kernels' blocked layout, per-channel transform parameters
 * are laid out once, and `run` is one FFI call with buffers the caller reuses.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * import { BinaryConv2d } from "./bconv.ts";
 * const lib = openKernels();
 * const ctx = new KernelContext(lib, { threads: 1 });
 * const shape = { batch: 1, inH: 8, inW: 8, inC: 64, outC: 64, kernelH: 3, kernelW: 3,
 *   strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 };
 * const conv = new BinaryConv2d(ctx, { shape, transform: { kind: "int32" } },
 *   new BigUint64Array(64 * 9));
 * const out = new Int32Array(conv.outputBytes / 4);
 * conv.run(new BigUint64Array(64), out);
 * ctx.destroy();
 * lib.close();
 * ```
 *
 * @module
 */

import { KernelError } from "./errors.ts";
import type { KernelContext } from "./library.ts";
import { outH, outW, type Window2d, windowParams, wordsFor } from "./shape.ts";

/** Value read by taps outside the image: +1 and -1 are free, `zero` costs a correction. */
export type PadValue = "plus_one" | "minus_one" | "zero";

const padCodes: Record<PadValue, number> = { plus_one: 0, minus_one: 1, zero: 2 };

/** Output transform of a binary conv or dense layer, per output channel `o`. */
export type OutputTransform =
  /** bit = flip[o] ? acc > threshold[o] : acc < threshold[o] (bit 1 = -1). */
  | { kind: "binary"; thresholds: Int32Array; flips?: Int32Array }
  /** The accumulator (dot product of ±1 vectors). */
  | { kind: "int32" }
  /** f32(acc) * mul[o] + bias[o]. */
  | { kind: "float"; mul: Float32Array; bias: Float32Array }
  /** round-half-even(clamp(f32(acc) * mul[o] + bias[o], qmin, qmax)); default -128..127. */
  | { kind: "int8"; mul: Float32Array; bias: Float32Array; qmin?: number; qmax?: number }
  /**
   * BiNeal join: s = clamp(int8-transform(acc) + residual, qmin, qmax) (default -8..7, the
   * INT4 saturating add), then the binary threshold on s.
   */
  | {
    kind: "join";
    mul: Float32Array;
    bias: Float32Array;
    thresholds: Int32Array;
    flips?: Int32Array;
    qmin?: number;
    qmax?: number;
  };

/** The kind names in ABI order (`contract.Kind`). */
export const TRANSFORM_KINDS = ["binary", "int32", "float", "int8", "join"] as const;

/** Output element type of each transform. */
export type TransformKind = OutputTransform["kind"];

/** Bytes of the output of `pixels` pixels of `outC` channels under `kind`. */
export function outputBytes(kind: TransformKind, pixels: number, outC: number): number {
  switch (kind) {
    case "binary":
    case "join":
      return pixels * wordsFor(outC) * 8;
    case "int32":
    case "float":
      return pixels * outC * 4;
    case "int8":
      return pixels * outC;
  }
}

function checkLength(what: string, array: { length: number }, expected: number): void {
  if (array.length !== expected) {
    throw new KernelError(
      "invalid_argument",
      `${what} has ${array.length} values, expected ${expected} (one per output channel)`,
    );
  }
}

/**
 * Lays out a transform's per-channel parameters in the one 4-byte-value buffer the kernel
 * reads (`contract.channelParams`), checking each array has `outC` values.
 */
export function channelParams(transform: OutputTransform, outC: number): Uint32Array {
  const flips = (t: { flips?: Int32Array }) => t.flips ?? new Int32Array(outC);
  const parts: (Int32Array | Float32Array)[] = [];
  const names: string[] = [];
  switch (transform.kind) {
    case "binary":
      parts.push(transform.thresholds, flips(transform));
      names.push("thresholds", "flips");
      break;
    case "int32":
      break;
    case "float":
    case "int8":
      parts.push(transform.mul, transform.bias);
      names.push("mul", "bias");
      break;
    case "join":
      parts.push(transform.mul, transform.bias, transform.thresholds, flips(transform));
      names.push("mul", "bias", "thresholds", "flips");
      break;
  }
  const params = new Uint32Array(Math.max(parts.length * outC, 1));
  parts.forEach((part, index) => {
    checkLength(names[index], part, outC);
    params.set(new Uint32Array(part.buffer, part.byteOffset, outC), index * outC);
  });
  return params;
}

function clampRange(transform: OutputTransform): [number, number] {
  if (transform.kind === "int8") return [transform.qmin ?? -128, transform.qmax ?? 127];
  if (transform.kind === "join") return [transform.qmin ?? -8, transform.qmax ?? 7];
  return [0, 0];
}

/** Sizes of a binary weight tensor `[outC][kernelH][kernelW][ceil(inC/64)]` words. */
export interface WeightDims {
  outC: number;
  kernelH: number;
  kernelW: number;
  inC: number;
}

/**
 * Packs ABI-layout binary weights into the kernels' blocked layout (once per layer).
 * Throws `invalid_argument` when a weight has bits set past `inC`.
 */
export function packBinaryWeights(
  ctx: KernelContext,
  dims: WeightDims,
  weights: BigUint64Array,
): BigUint64Array {
  const { ob_bconv2d_packed_words, ob_bconv2d_pack_weights } = ctx.lib.symbols;
  const words = ob_bconv2d_packed_words(dims.outC, dims.kernelH, dims.kernelW, dims.inC);
  if (words === 0) {
    throw new KernelError(
      "invalid_argument",
      `Cannot pack binary weights of ${dims.outC}x${dims.kernelH}x${dims.kernelW}x${dims.inC}`,
    );
  }
  const packed = new BigUint64Array(words);
  ctx.check(
    ob_bconv2d_pack_weights(
      ctx.handle,
      dims.outC,
      dims.kernelH,
      dims.kernelW,
      dims.inC,
      weights,
      weights.length,
      packed,
      packed.length,
    ),
    "bconv2d weight packing",
  );
  return packed;
}

/** What a binary conv layer computes. */
export interface BinaryConvSpec {
  /** Shape; `outC` output channels. */
  shape: Window2d;
  /** Value of padded taps. Default: `plus_one` (free, and what the trainer uses). */
  pad?: PadValue;
  transform: OutputTransform;
}

type Output = Uint8Array | Int8Array | Int32Array | Float32Array | BigUint64Array;

/** A binary conv2d layer bound to a context, with packed weights and parameters. */
export class BinaryConv2d {
  readonly spec: BinaryConvSpec;
  /** Bytes `run` writes to its output. */
  readonly outputBytes: number;
  /** Words `run` reads from its input. */
  readonly inputWords: number;
  readonly #ctx: KernelContext;
  readonly #params: Uint32Array;
  readonly #weights: BigUint64Array;
  readonly #channel: Uint32Array;
  readonly #kind: number;
  readonly #pad: number;
  readonly #qmin: number;
  readonly #qmax: number;

  /** Packs `weights` (`[outC][kh][kw][ceil(inC/64)]` u64) and lays out the parameters. */
  constructor(ctx: KernelContext, spec: BinaryConvSpec, weights: BigUint64Array) {
    const { shape } = spec;
    this.spec = spec;
    this.#ctx = ctx;
    this.#params = windowParams(shape);
    this.#weights = packBinaryWeights(ctx, shape, weights);
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
    const { ob_bconv2d } = this.#ctx.lib.symbols;
    const status = ob_bconv2d(
      this.#ctx.handle,
      this.#params,
      this.#pad,
      input,
      input.length,
      this.#weights,
      this.#weights.length,
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
    this.#ctx.check(status, "bconv2d");
  }
}

/** A binary dense layer: `batch x inFeatures` packed rows to `outFeatures` channels. */
export class BinaryDense {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly transform: OutputTransform;
  readonly #ctx: KernelContext;
  readonly #weights: BigUint64Array;
  readonly #channel: Uint32Array;
  readonly #kind: number;
  readonly #qmin: number;
  readonly #qmax: number;

  /** Packs `weights` (`[outFeatures][ceil(inFeatures/64)]` u64). */
  constructor(
    ctx: KernelContext,
    options: { inFeatures: number; outFeatures: number; transform: OutputTransform },
    weights: BigUint64Array,
  ) {
    this.#ctx = ctx;
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.transform = options.transform;
    this.#weights = packBinaryWeights(ctx, {
      outC: options.outFeatures,
      kernelH: 1,
      kernelW: 1,
      inC: options.inFeatures,
    }, weights);
    this.#channel = channelParams(options.transform, options.outFeatures);
    this.#kind = TRANSFORM_KINDS.indexOf(options.transform.kind);
    [this.#qmin, this.#qmax] = clampRange(options.transform);
  }

  /** Bytes of the output for `batch` rows. */
  outputBytes(batch: number): number {
    return outputBytes(this.transform.kind, batch, this.outFeatures);
  }

  /** Runs `batch` rows of `input` into `output`. */
  run(batch: number, input: BigUint64Array, output: Output, residual?: Int8Array): void {
    const { ob_bdense } = this.#ctx.lib.symbols;
    const status = ob_bdense(
      this.#ctx.handle,
      batch,
      this.inFeatures,
      this.outFeatures,
      input,
      input.length,
      this.#weights,
      this.#weights.length,
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
    this.#ctx.check(status, "bdense");
  }
}
