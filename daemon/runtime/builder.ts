/**
 * Builds onebit graphs in code: a {@linkcode GraphBuilder} with one method per op that tracks
 * every activation's dtype and shape, names ops, activations and tensors, and fills every
 * parameter with seeded random but *valid* values, then writes a model file.
 *
 * What "valid" means for the random parameters (so that the executor sees realistic data, not
 * only what the loader accepts):
 * - packed binary weights have 0 bits past the last real input channel;
 * - a binary conv's accumulator over `K = kh*kw*C` taps of random ±1 values has a standard
 *   deviation of about `sqrt(K)`; thresholds are drawn within about ±sqrt(K)/2 of 0, so each
 *   output channel is a mix of both signs rather than all +1 or all -1, and about one channel
 *   in eight gets a flip (a negative batch-norm scale, as trained models have);
 * - `int8` and `join` transforms map about ±2 standard deviations of the accumulator onto
 *   `qmin..qmax` (the BiNeal INT4 range -8..7 by default), `float` maps it to about N(0, 1);
 * - join thresholds lie near the middle of the INT4 sum, `binarize` thresholds near the
 *   centre of the value they read (the zero point of a u8 tensor, 0 for f32 and i8);
 * - int8 weights are in -64..64 (exact on every ONNX Runtime CPU path too, see
 *   `daemon/onnx/ort.ts`) and requantization scales keep u8 outputs spread around their
 *   zero point; every float is finite.
 * - codebooks (sparse kernel selection) hold 2^tau distinct codewords drawn from a power law
 *   over the 2^(kh*kw) kernel patterns, and each (out, in) kernel index follows the same
 *   power law, so a few codewords dominate, as Wang et al. (CVPR 2023) observe in trained
 *   binary networks. The indices are written packed at tau bits each (`codebook_indices.ts`).
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./builder.ts";
 * import { loadModel } from "./model_file.ts";
 * const b = new GraphBuilder({ seed: 7 });
 * const image = b.input("image", "u8", [1, 32, 32, 3]);
 * const stem = b.qconv2d(image, { outChannels: 32, kernel: 3, stride: 2 });
 * let x = b.binarize(stem);
 * x = b.binealBlock(x, { channels: 64, stride: 2 });
 * const logits = b.qconv2d(b.quantize(b.globalAvgpool(x)), {
 *   outChannels: 10, kernel: 1, output: "f32",
 * });
 * b.output(logits);
 * const model = loadModel(b.build({ name: "tiny", task: "classify" }));
 * console.log(model.activations.get(logits)); // { dtype: "f32", shape: [1, 1, 1, 10] }
 * ```
 *
 * @module
 */

import { packedIndexBytes, packIndices } from "./codebook_indices.ts";
import { ModelError, type ModelErrorCode } from "./errors.ts";
import {
  type Activation,
  type ActivationDType,
  type BinaryTransform,
  type Graph,
  GRAPH_LIMITS,
  type GraphInput,
  type OpAttrs,
  type OpNode,
  type OpType,
  type PadValue,
  type Shape4,
  type ValidatedGraph,
  validateGraph,
  type WindowAttrs,
  wordsFor,
} from "./graph.ts";
import { writeModel, type WriteModelOptions } from "./model_file.ts";
import type { DType, DTypeArrays, Tensor } from "./safetensors.ts";
import { packedBits, seededRandom } from "./random_params.ts";

/** One size for both axes, or `[height, width]`. */
export type Pair = number | readonly [number, number];

/** One padding for all four sides, or `[top, bottom, left, right]`. */
export type Pads = number | readonly [number, number, number, number];

/** Options of every op method: the op's name, which is also its output activation's name. */
export interface NameOptions {
  /** Op and output name; unique. Default: `<op type><counter>`, e.g. `bconv2d3`. */
  name?: string;
}

/** A sliding window. */
export interface WindowOptions extends NameOptions {
  /** Kernel size, 1..15. */
  kernel: Pair;
  /** Stride, 1..8. Default 1. */
  stride?: Pair;
  /**
   * Padding, each below the kernel size. Default: `floor((k - 1) / 2)` on every side, which
   * keeps the size for odd kernels at stride 1 (and is 0 for even kernels).
   */
  pads?: Pads;
}

/** The output transform of a binary conv or dense op. */
export interface TransformOptions extends NameOptions {
  /** Output channels, 1..16384. */
  outChannels: number;
  /** Output transform. Default `"binary"`. */
  transform?: BinaryTransform;
  /** Clamp low bound of `int8` and `join`. Default -8 (the BiNeal INT4 range). */
  qmin?: number;
  /** Clamp high bound of `int8` and `join`. Default 7. */
  qmax?: number;
  /** The i8 residual activation a `join` transform adds; required for `join` only. */
  residual?: string;
  /** Whether `binary` and `join` get a random `flips` param (1 channel in 8). Default true. */
  flips?: boolean;
}

/** Options of {@linkcode GraphBuilder.bconv2d}. */
export interface BConv2dOptions extends WindowOptions, TransformOptions {
  /** Value of padded taps. Default `"plus_one"` (free, what the trainer uses). */
  padValue?: PadValue;
}

/** Options of {@linkcode GraphBuilder.codebookConv2d}. */
export interface CodebookConv2dOptions extends BConv2dOptions {
  /** Bits per kernel index: 2^tau codewords, 1..8 and at most kh*kw. Default 5. */
  tau?: number;
  /** Exponent of the power law of codeword popularity, > 0. Default 1 (Zipf). */
  alpha?: number;
}

/** Options of {@linkcode GraphBuilder.qconv2d}. */
export interface QConv2dOptions extends WindowOptions {
  /** Output channels, 1..16384. */
  outChannels: number;
  /** Output kind. Default `"u8"`. */
  output?: "u8" | "i32" | "f32";
  /** Zero point of the u8 input. Default: the input's centre (128 unless known). */
  xZeroPoint?: number;
  /** Zero point of a u8 output. Default 128. */
  yZeroPoint?: number;
  /** Whether the op gets a random i32 `bias`. Default true. */
  bias?: boolean;
}

/** Options of {@linkcode GraphBuilder.quantize}. */
export interface QuantizeOptions extends NameOptions {
  /** Output dtype. Default `"u8"`. */
  dtype?: "u8" | "i8";
  /** Step, finite and > 0. Default 1/32 (a N(0, 1) value spans about ±128 steps / 4). */
  scale?: number;
  /** Zero point. Default 128 for u8, 0 for i8. */
  zeroPoint?: number;
}

/** Options of {@linkcode GraphBuilder.binarize}. */
export interface BinarizeOptions extends NameOptions {
  /**
   * `"random"`: thresholds near the input's centre (required for u8 input); `"sign"`: no
   * thresholds param, the sign bit (f32 and i8 only). Default `"random"`.
   */
  thresholds?: "random" | "sign";
}

/** Options of {@linkcode GraphBuilder.avgpool}. */
export interface AvgPoolOptions extends WindowOptions {
  /** Whether padded taps count in the divisor. Default false. */
  countIncludePad?: boolean;
}

/** Options of the upsample methods. */
export interface UpsampleOptions extends NameOptions {
  /** Integer factor per axis, 1..8. Default 2. */
  scale?: Pair;
}

/** Options of {@linkcode GraphBuilder.upsampleBilinear}. */
export interface UpsampleBilinearOptions extends UpsampleOptions {
  /** Corner pixels aligned (true) or half-pixel centres (false). Default false. */
  alignCorners?: boolean;
}

/** Options of {@linkcode GraphBuilder.depthToSpace}. */
export interface DepthToSpaceOptions extends NameOptions {
  /** Block size, 1..8. */
  block: number;
  /** Channel order as ONNX. Default `"dcr"`. */
  mode?: "dcr" | "crd";
}

/** Options of {@linkcode GraphBuilder.binealJoin}. */
export interface BinealJoinOptions extends NameOptions {
  /** Clamp low bound of the sum. Default -8. */
  qmin?: number;
  /** Clamp high bound of the sum. Default 7. */
  qmax?: number;
  /** Whether the op gets a random `flips` param. Default true. */
  flips?: boolean;
}

/** Options of {@linkcode GraphBuilder.binealBlock}. */
export interface BinealBlockOptions extends NameOptions {
  /** Output channels of both branches. */
  channels: number;
  /** Stride of both branches (the shortcut is stride-matched). Default 1. */
  stride?: number;
  /**
   * `"fused"`: the 3x3 conv's `join` transform adds the shortcut's INT4 output; `"separate"`:
   * both convs output INT4 (`int8` transform, -8..7) and a `bineal_join` adds them. Same
   * arithmetic, one op fewer when fused. Default `"fused"`.
   */
  join?: "fused" | "separate";
  /** Build the 3x3 conv as a `codebook_conv2d` (sparse kernel selection). Default false. */
  sparse?: boolean;
  /** Codebook bits when `sparse`, 4..6 in the paper. Default 5. */
  tau?: number;
  /** Power-law exponent of the codebook when `sparse`. Default 1. */
  alpha?: number;
  /** Pad value of the 3x3 conv. Default `"plus_one"`. */
  padValue?: PadValue;
}

/** Options of the {@linkcode GraphBuilder} constructor. */
export interface GraphBuilderOptions {
  /** Seed of the random parameters: the same seed and calls give the same model. Default 1. */
  seed?: number;
  /** Name used in error messages. Default `"<builder>"`. */
  file?: string;
}

type Window = WindowAttrs;

function pair(value: Pair): [number, number] {
  return typeof value === "number" ? [value, value] : [value[0], value[1]];
}

/**
 * Builds one onebit graph and its tensors. Every op method takes the names of the activations
 * it reads and returns the name of the activation it defines.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./builder.ts";
 * const b = new GraphBuilder({ seed: 1 });
 * const x = b.binarize(b.input("x", "f32", [1, 8, 8, 16]), { thresholds: "sign" });
 * const y = b.bconv2d(x, { outChannels: 32, kernel: 3, transform: "float" });
 * b.output(b.sigmoid(y));
 * const bytes = b.build({ name: "example" });
 * ```
 */
export class GraphBuilder {
  /** The seeded source every parameter is drawn from. */
  readonly random: () => number;
  readonly #file: string;
  readonly #inputs: GraphInput[] = [];
  readonly #outputs: string[] = [];
  readonly #ops: OpNode[] = [];
  readonly #tensors = new Map<string, Tensor>();
  readonly #activations = new Map<string, Activation>();
  /** The value around which an activation's numbers lie, for sensible thresholds. */
  readonly #centres = new Map<string, number>();
  readonly #opNames = new Set<string>();
  #counter = 0;

  /** An empty graph whose parameters come from `options.seed`. */
  constructor(options: GraphBuilderOptions = {}) {
    this.random = seededRandom(options.seed ?? 1);
    this.#file = options.file ?? "<builder>";
  }

  #fail(code: ModelErrorCode, problem: string): never {
    throw new ModelError(code, problem, { file: this.#file, action: "write" });
  }

  /** The dtype and shape of activation `name`; throws `graph_invalid` for an unknown name. */
  activation(name: string): Activation {
    const activation = this.#activations.get(name);
    if (activation === undefined) {
      this.#fail("graph_invalid", `activation '${name}' is not defined in the builder`);
    }
    return activation;
  }

  /** `[batch, height, width, channels]` of activation `name`. */
  shape(name: string): Shape4 {
    return this.activation(name).shape;
  }

  /** Every activation defined so far, graph inputs first, then in op order. */
  activations(): ReadonlyMap<string, Activation> {
    return new Map(this.#activations);
  }

  /** Declares a graph input and returns its name. */
  input(name: string, dtype: ActivationDType, shape: Shape4): string {
    if (this.#activations.has(name)) {
      this.#fail("graph_invalid", `activation '${name}' is defined twice`);
    }
    const copy: Shape4 = [shape[0], shape[1], shape[2], shape[3]];
    this.#inputs.push({ name, dtype, shape: copy });
    this.#activations.set(name, { dtype, shape: copy });
    this.#centres.set(name, dtype === "u8" ? 128 : 0);
    return name;
  }

  /** Marks activations as graph outputs, in order. */
  output(...names: string[]): void {
    for (const name of names) {
      this.activation(name);
      if (this.#outputs.includes(name)) {
        this.#fail("graph_invalid", `activation '${name}' is already a graph output`);
      }
      this.#outputs.push(name);
    }
  }

  /** The graph built so far (a copy). */
  graph(): Graph {
    return {
      inputs: this.#inputs.map((input) => ({ ...input })),
      outputs: [...this.#outputs],
      ops: [...this.#ops],
    };
  }

  /** The tensors created so far (a new map over the same tensors). */
  tensors(): Map<string, Tensor> {
    return new Map(this.#tensors);
  }

  /** Validates the graph against the tensors as the loader would (throws a `ModelError`). */
  validate(): ValidatedGraph {
    return validateGraph(this.graph(), this.#tensors);
  }

  /**
   * Writes the model file (see `model_file.ts`); `producer` defaults to `"onebit builder"`.
   * Throws a `ModelError` (action `write`) for anything the loader would refuse, such as an
   * activation that nothing uses.
   */
  build(meta: WriteModelOptions = {}): Uint8Array {
    return writeModel(this.graph(), this.#tensors, {
      producer: "onebit builder",
      file: this.#file,
      ...meta,
    });
  }

  // ---- naming, shapes and parameters ---------------------------------------------------

  #name(type: OpType, options: NameOptions): string {
    const name = options.name ?? `${type}${this.#counter++}`;
    if (this.#opNames.has(name) || this.#activations.has(name)) {
      this.#fail("graph_invalid", `name '${name}' is already used by an op or activation`);
    }
    return name;
  }

  #add<O extends OpType>(
    op: O,
    name: string,
    inputs: readonly string[],
    attrs: OpAttrs[O],
    params: Record<string, string>,
    output: Activation,
    centre = 0,
  ): string {
    for (const input of inputs) this.activation(input);
    this.#ops.push({ op, name, inputs: [...inputs], outputs: [name], attrs, params } as OpNode);
    this.#opNames.add(name);
    this.#activations.set(name, output);
    this.#centres.set(name, centre);
    return name;
  }

  #input(name: string, allowed: readonly ActivationDType[], what: string): Activation {
    const activation = this.activation(name);
    if (!allowed.includes(activation.dtype)) {
      this.#fail(
        "shape_mismatch",
        `${what} reads '${name}', which is ${activation.dtype}; expected ${allowed.join(" or ")}`,
      );
    }
    return activation;
  }

  #tensor<D extends DType>(name: string, dtype: D, shape: number[], data: DTypeArrays[D]): string {
    if (this.#tensors.has(name)) this.#fail("param_invalid", `tensor '${name}' is defined twice`);
    this.#tensors.set(name, { dtype, shape, data } as Tensor);
    return name;
  }

  #f32(name: string, length: number, value: () => number): string {
    const data = new Float32Array(length);
    for (let index = 0; index < length; index++) data[index] = value();
    return this.#tensor(name, "F32", [length], data);
  }

  #i32(name: string, length: number, value: () => number): string {
    const data = new Int32Array(length);
    for (let index = 0; index < length; index++) data[index] = value();
    return this.#tensor(name, "I32", [length], data);
  }

  /** Uniform in [-1, 1). */
  #symmetric(): number {
    return this.random() * 2 - 1;
  }

  #window(options: WindowOptions, what: string): Window {
    const kernel = pair(options.kernel);
    const stride = pair(options.stride ?? 1);
    const pads: [number, number, number, number] = options.pads === undefined
      ? [(kernel[0] - 1) >> 1, (kernel[0] - 1) >> 1, (kernel[1] - 1) >> 1, (kernel[1] - 1) >> 1]
      : typeof options.pads === "number"
      ? [options.pads, options.pads, options.pads, options.pads]
      : [options.pads[0], options.pads[1], options.pads[2], options.pads[3]];
    const ok = (value: number, min: number, max: number) =>
      Number.isInteger(value) && value >= min && value <= max;
    if (!kernel.every((k) => ok(k, 1, GRAPH_LIMITS.kernelMax))) {
      this.#fail("graph_invalid", `${what} has kernel ${kernel}, expected 1..15`);
    }
    if (!stride.every((s) => ok(s, 1, GRAPH_LIMITS.strideMax))) {
      this.#fail("graph_invalid", `${what} has stride ${stride}, expected 1..8`);
    }
    if (!pads.every((pad, index) => ok(pad, 0, kernel[index < 2 ? 0 : 1] - 1))) {
      this.#fail("graph_invalid", `${what} has pads ${pads}, each must be below the kernel size`);
    }
    return { kernel, stride, pads };
  }

  #windowShape(input: Shape4, window: Window, channels: number, what: string): Shape4 {
    const [n, h, w] = input;
    const [kh, kw] = window.kernel;
    const [sh, sw] = window.stride;
    const [top, bottom, left, right] = window.pads;
    if (h + top + bottom < kh || w + left + right < kw) {
      this.#fail(
        "shape_mismatch",
        `${what} has kernel ${kh}x${kw}, larger than its padded input ` +
          `${h + top + bottom}x${w + left + right}`,
      );
    }
    return [
      n,
      Math.floor((h + top + bottom - kh) / sh) + 1,
      Math.floor((w + left + right - kw) / sw) + 1,
      channels,
    ];
  }

  #channels(value: number, what: string): number {
    if (!Number.isInteger(value) || value < 1 || value > GRAPH_LIMITS.channelsMax) {
      this.#fail("graph_invalid", `${what} has ${value} output channels, expected 1..16384`);
    }
    return value;
  }

  /** Random thresholds (and flips) around `centre` within ±`spread`. */
  #thresholds(
    prefix: string,
    channels: number,
    centre: number,
    spread: number,
    flips: boolean,
  ): Record<string, string> {
    const params: Record<string, string> = {
      thresholds: this.#i32(
        `${prefix}.t`,
        channels,
        () => Math.round(centre + this.#symmetric() * spread),
      ),
    };
    if (flips) {
      params.flips = this.#i32(`${prefix}.f`, channels, () => (this.random() < 0.125 ? 1 : 0));
    }
    return params;
  }

  /**
   * The params of a binary transform over `taps` ±1 products per output: see the module
   * doc for the ranges.
   */
  #transformParams(
    prefix: string,
    options: TransformOptions,
    taps: number,
  ): { params: Record<string, string>; dtype: ActivationDType; clamp: [number, number] } {
    const transform = options.transform ?? "binary";
    const channels = options.outChannels;
    const sigma = Math.sqrt(taps);
    const flips = options.flips ?? true;
    const qmin = options.qmin ?? -8;
    const qmax = options.qmax ?? 7;
    const clamped = transform === "int8" || transform === "join";
    if (clamped && !(Number.isInteger(qmin) && Number.isInteger(qmax) && -128 <= qmin)) {
      this.#fail("graph_invalid", `${prefix} has qmin ${qmin}, qmax ${qmax}; expected integers`);
    }
    if (clamped && !(qmin <= qmax && qmax <= 127)) {
      this.#fail("graph_invalid", `${prefix} has qmin ${qmin} > qmax ${qmax} or qmax > 127`);
    }
    const affine = (span: number, centre: number) => ({
      mul: this.#f32(
        `${prefix}.mul`,
        channels,
        () => (span / sigma) * (0.75 + 0.5 * this.random()),
      ),
      bias: this.#f32(`${prefix}.bias`, channels, () => centre + 0.5 * this.#symmetric()),
    });
    const int4 = () => affine((qmax - qmin) / 4, (qmax + qmin) / 2);
    switch (transform) {
      case "binary":
        return {
          params: this.#thresholds(prefix, channels, 0, sigma / 2, flips),
          dtype: "bits",
          clamp: [0, 0],
        };
      case "int32":
        return { params: {}, dtype: "i32", clamp: [0, 0] };
      case "float":
        return { params: affine(1, 0), dtype: "f32", clamp: [0, 0] };
      case "int8":
        return { params: int4(), dtype: "i8", clamp: [qmin, qmax] };
      case "join":
        return {
          params: {
            ...int4(),
            ...this.#thresholds(prefix, channels, (qmin + qmax) / 2, (qmax - qmin) / 8, flips),
          },
          dtype: "bits",
          clamp: [qmin, qmax],
        };
      default:
        return this.#fail("graph_invalid", `${prefix} has unknown transform '${transform}'`);
    }
  }

  /** Checks the residual of a `join` transform (or its absence otherwise). */
  #residual(options: TransformOptions, output: Shape4, what: string): string[] {
    const join = (options.transform ?? "binary") === "join";
    if (!join) {
      if (options.residual !== undefined) {
        this.#fail("graph_invalid", `${what} has a residual but transform '${options.transform}'`);
      }
      return [];
    }
    if (options.residual === undefined) {
      this.#fail("graph_invalid", `${what} has transform 'join' but no residual`);
    }
    const residual = this.#input(options.residual, ["i8"], what);
    if (!residual.shape.every((dim, index) => dim === output[index])) {
      this.#fail(
        "shape_mismatch",
        `${what}: residual '${options.residual}' has shape [${residual.shape}], ` +
          `the output has [${output}]`,
      );
    }
    return [options.residual];
  }

  #transformAttrs(options: TransformOptions, clamp: [number, number]) {
    const transform = options.transform ?? "binary";
    const attrs: {
      out_channels: number;
      transform: BinaryTransform;
      qmin?: number;
      qmax?: number;
    } = { out_channels: options.outChannels, transform };
    if (transform === "int8" || transform === "join") {
      attrs.qmin = clamp[0];
      attrs.qmax = clamp[1];
    }
    return attrs;
  }

  // ---- ops ------------------------------------------------------------------------------

  /** `binarize`: f32, u8 or i8 to bits (see {@linkcode BinarizeOptions}). */
  binarize(x: string, options: BinarizeOptions = {}): string {
    const name = this.#name("binarize", options);
    const input = this.#input(x, ["f32", "u8", "i8"], `binarize '${name}'`);
    const channels = input.shape[3];
    const params: Record<string, string> = {};
    const mode = options.thresholds ?? "random";
    if (mode === "sign" && input.dtype === "u8") {
      this.#fail("param_invalid", `binarize '${name}' reads u8 '${x}', which needs thresholds`);
    }
    if (mode === "random") {
      const centre = this.#centres.get(x) ?? 0;
      if (input.dtype === "f32") {
        params.thresholds = this.#f32(
          `${name}.t`,
          channels,
          () => centre + 0.1 * this.#symmetric(),
        );
      } else {
        const spread = input.dtype === "u8" ? 8 : 2;
        params.thresholds = this.#i32(
          `${name}.t`,
          channels,
          () => Math.round(centre + spread * this.#symmetric()),
        );
      }
    }
    return this.#add("binarize", name, [x], {}, params, { dtype: "bits", shape: input.shape });
  }

  /** `quantize`: f32 to u8 or i8. */
  quantize(x: string, options: QuantizeOptions = {}): string {
    const name = this.#name("quantize", options);
    const input = this.#input(x, ["f32"], `quantize '${name}'`);
    const dtype = options.dtype ?? "u8";
    const scale = options.scale ?? 1 / 32;
    const zeroPoint = options.zeroPoint ?? (dtype === "u8" ? 128 : 0);
    const [low, high] = dtype === "u8" ? [0, 255] : [-128, 127];
    if (!Number.isFinite(scale) || scale <= 0) {
      this.#fail("graph_invalid", `quantize '${name}' has scale ${scale}, expected > 0`);
    }
    if (!Number.isInteger(zeroPoint) || zeroPoint < low || zeroPoint > high) {
      this.#fail(
        "graph_invalid",
        `quantize '${name}' has zero point ${zeroPoint} outside ${dtype}`,
      );
    }
    return this.#add(
      "quantize",
      name,
      [x],
      { dtype, scale, zero_point: zeroPoint },
      {},
      { dtype, shape: input.shape },
      zeroPoint,
    );
  }

  /** `qconv2d`: the 8-bit conv of first and last layers; u8 in, u8/i32/f32 out. */
  qconv2d(x: string, options: QConv2dOptions): string {
    const name = this.#name("qconv2d", options);
    const what = `qconv2d '${name}'`;
    const input = this.#input(x, ["u8"], what);
    const window = this.#window(options, what);
    const channels = this.#channels(options.outChannels, what);
    const shape = this.#windowShape(input.shape, window, channels, what);
    const output = options.output ?? "u8";
    const xZeroPoint = options.xZeroPoint ?? this.#centres.get(x) ?? 128;
    const yZeroPoint = options.yZeroPoint ?? 128;
    const [kh, kw] = window.kernel;
    const inC = input.shape[3];
    const taps = kh * kw * inC;
    const weights = new Int8Array(channels * taps);
    for (let index = 0; index < weights.length; index++) {
      weights[index] = Math.floor(this.random() * 129) - 64;
    }
    // Accumulator spread for inputs ~64 steps from the zero point and weights uniform in
    // -64..64 (standard deviation ~37): sqrt(taps) * 64 * 37.
    const sigma = Math.sqrt(taps) * 64 * 37;
    const params: Record<string, string> = {
      weights: this.#tensor(`${name}.w`, "I8", [channels, kh, kw, inC], weights),
    };
    if (options.bias ?? true) {
      params.bias = this.#i32(
        `${name}.b`,
        channels,
        () => Math.round(0.1 * sigma * this.#symmetric()),
      );
    }
    if (output !== "i32") {
      const span = output === "u8" ? 40 : 1;
      params.scale = this.#f32(
        `${name}.s`,
        channels,
        () => (span / sigma) * (0.75 + 0.5 * this.random()),
      );
    }
    const attrs: OpAttrs["qconv2d"] = {
      ...window,
      out_channels: channels,
      output,
      x_zero_point: xZeroPoint,
      ...(output === "u8" ? { y_zero_point: yZeroPoint } : {}),
    };
    return this.#add(
      "qconv2d",
      name,
      [x],
      attrs,
      params,
      { dtype: output, shape },
      output === "u8" ? yZeroPoint : 0,
    );
  }

  /** `bconv2d`: the binary conv with any output transform (`join` needs `residual`). */
  bconv2d(x: string, options: BConv2dOptions): string {
    const name = this.#name("bconv2d", options);
    const what = `bconv2d '${name}'`;
    const input = this.#input(x, ["bits"], what);
    const window = this.#window(options, what);
    const channels = this.#channels(options.outChannels, what);
    const shape = this.#windowShape(input.shape, window, channels, what);
    const residual = this.#residual(options, shape, what);
    const [kh, kw] = window.kernel;
    const inC = input.shape[3];
    const { params, dtype, clamp } = this.#transformParams(name, options, kh * kw * inC);
    const weights = this.#tensor(
      `${name}.w`,
      "U64",
      [channels, kh, kw, wordsFor(inC)],
      packedBits(this.random, channels * kh * kw, inC),
    );
    return this.#add(
      "bconv2d",
      name,
      [x, ...residual],
      {
        ...window,
        pad_value: options.padValue ?? "plus_one",
        ...this.#transformAttrs(options, clamp),
      },
      { weights, ...params },
      { dtype, shape },
    );
  }

  /**
   * `codebook_conv2d`: a binary conv whose kernels are indices into a codebook of 2^tau
   * distinct kh*kw-bit codewords (sparse kernel selection), drawn as the module doc says.
   */
  codebookConv2d(x: string, options: CodebookConv2dOptions): string {
    const name = this.#name("codebook_conv2d", options);
    const what = `codebook_conv2d '${name}'`;
    const input = this.#input(x, ["bits"], what);
    const window = this.#window(options, what);
    const channels = this.#channels(options.outChannels, what);
    const shape = this.#windowShape(input.shape, window, channels, what);
    const residual = this.#residual(options, shape, what);
    const [kh, kw] = window.kernel;
    const taps = kh * kw;
    const tau = options.tau ?? 5;
    const alpha = options.alpha ?? 1;
    if (taps > GRAPH_LIMITS.codewordBitsMax) {
      this.#fail("limit_exceeded", `${what} has ${taps} taps, codewords hold at most 16`);
    }
    if (!Number.isInteger(tau) || tau < 1 || tau > Math.min(GRAPH_LIMITS.tauMax, taps)) {
      this.#fail("graph_invalid", `${what} has tau ${tau}, expected 1..${Math.min(8, taps)}`);
    }
    if (!(alpha > 0) || !Number.isFinite(alpha)) {
      this.#fail("graph_invalid", `${what} has alpha ${alpha}, expected a finite number > 0`);
    }
    const inC = input.shape[3];
    const { codebook, indices } = powerLawCodebook(this.random, {
      taps,
      tau,
      alpha,
      kernels: channels * inC,
    });
    const { params, dtype, clamp } = this.#transformParams(name, options, taps * inC);
    return this.#add(
      "codebook_conv2d",
      name,
      [x, ...residual],
      {
        ...window,
        pad_value: options.padValue ?? "plus_one",
        ...this.#transformAttrs(options, clamp),
        tau,
      },
      {
        codebook: this.#tensor(`${name}.codebook`, "U16", [2 ** tau], codebook),
        indices: this.#tensor(
          `${name}.indices`,
          "U8",
          [packedIndexBytes(indices.length, tau)],
          packIndices(indices, tau),
        ),
        ...params,
      },
      { dtype, shape },
    );
  }

  /** `bdense`: binary dense over a `[N, 1, 1, C]` bits activation. */
  bdense(x: string, options: TransformOptions): string {
    const name = this.#name("bdense", options);
    const what = `bdense '${name}'`;
    const input = this.#input(x, ["bits"], what);
    const [n, h, w, inC] = input.shape;
    if (h !== 1 || w !== 1) {
      this.#fail("shape_mismatch", `${what} reads '${x}' of shape [${input.shape}], needs 1x1`);
    }
    const channels = this.#channels(options.outChannels, what);
    const shape: Shape4 = [n, 1, 1, channels];
    const residual = this.#residual(options, shape, what);
    const { params, dtype, clamp } = this.#transformParams(name, options, inC);
    const weights = this.#tensor(
      `${name}.w`,
      "U64",
      [channels, wordsFor(inC)],
      packedBits(this.random, channels, inC),
    );
    return this.#add(
      "bdense",
      name,
      [x, ...residual],
      this.#transformAttrs(options, clamp),
      { weights, ...params },
      { dtype, shape },
    );
  }

  /** `maxpool` over any dtype (on bits: the max of ±1). */
  maxpool(x: string, options: WindowOptions): string {
    const name = this.#name("maxpool", options);
    const what = `maxpool '${name}'`;
    const input = this.activation(x);
    const window = this.#window(options, what);
    const shape = this.#windowShape(input.shape, window, input.shape[3], what);
    return this.#add(
      "maxpool",
      name,
      [x],
      window,
      {},
      { dtype: input.dtype, shape },
      this.#centres.get(x) ?? 0,
    );
  }

  /** `avgpool` over any dtype, f32 out. */
  avgpool(x: string, options: AvgPoolOptions): string {
    const name = this.#name("avgpool", options);
    const what = `avgpool '${name}'`;
    const input = this.activation(x);
    const window = this.#window(options, what);
    const shape = this.#windowShape(input.shape, window, input.shape[3], what);
    return this.#add(
      "avgpool",
      name,
      [x],
      { ...window, count_include_pad: options.countIncludePad ?? false },
      {},
      { dtype: "f32", shape },
    );
  }

  /** `global_avgpool` over any dtype: f32 `[N, 1, 1, C]`. */
  globalAvgpool(x: string, options: NameOptions = {}): string {
    const name = this.#name("global_avgpool", options);
    const [n, , , c] = this.shape(x);
    return this.#add("global_avgpool", name, [x], {}, {}, { dtype: "f32", shape: [n, 1, 1, c] });
  }

  #scale(options: UpsampleOptions, what: string): [number, number] {
    const scale = pair(options.scale ?? 2);
    if (!scale.every((s) => Number.isInteger(s) && s >= 1 && s <= GRAPH_LIMITS.strideMax)) {
      this.#fail("graph_invalid", `${what} has scale ${scale}, expected 1..8`);
    }
    return scale;
  }

  /** `upsample_nearest` over any dtype. */
  upsampleNearest(x: string, options: UpsampleOptions = {}): string {
    const name = this.#name("upsample_nearest", options);
    const input = this.activation(x);
    const [sh, sw] = this.#scale(options, `upsample_nearest '${name}'`);
    const [n, h, w, c] = input.shape;
    return this.#add(
      "upsample_nearest",
      name,
      [x],
      { scale: [sh, sw] },
      {},
      { dtype: input.dtype, shape: [n, h * sh, w * sw, c] },
      this.#centres.get(x) ?? 0,
    );
  }

  /** `upsample_bilinear` over f32. */
  upsampleBilinear(x: string, options: UpsampleBilinearOptions = {}): string {
    const name = this.#name("upsample_bilinear", options);
    const input = this.#input(x, ["f32"], `upsample_bilinear '${name}'`);
    const [sh, sw] = this.#scale(options, `upsample_bilinear '${name}'`);
    const [n, h, w, c] = input.shape;
    return this.#add(
      "upsample_bilinear",
      name,
      [x],
      { scale: [sh, sw], align_corners: options.alignCorners ?? false },
      {},
      { dtype: "f32", shape: [n, h * sh, w * sw, c] },
    );
  }

  /** `concat` of 2..64 activations of one dtype and equal N, H, W along channels. */
  concat(xs: readonly string[], options: NameOptions = {}): string {
    const name = this.#name("concat", options);
    if (xs.length < 2 || xs.length > GRAPH_LIMITS.endpointsMax) {
      this.#fail("graph_invalid", `concat '${name}' has ${xs.length} inputs, expected 2..64`);
    }
    const first = this.activation(xs[0]);
    let channels = 0;
    for (const x of xs) {
      const activation = this.activation(x);
      if (
        activation.dtype !== first.dtype ||
        !activation.shape.slice(0, 3).every((dim, index) => dim === first.shape[index])
      ) {
        this.#fail(
          "shape_mismatch",
          `concat '${name}': '${x}' is ${activation.dtype} [${activation.shape}], ` +
            `'${xs[0]}' is ${first.dtype} [${first.shape}]`,
        );
      }
      channels += activation.shape[3];
    }
    const [n, h, w] = first.shape;
    return this.#add(
      "concat",
      name,
      xs,
      {},
      {},
      { dtype: first.dtype, shape: [n, h, w, channels] },
      this.#centres.get(xs[0]) ?? 0,
    );
  }

  /** `depth_to_space` over any dtype. */
  depthToSpace(x: string, options: DepthToSpaceOptions): string {
    const name = this.#name("depth_to_space", options);
    const input = this.activation(x);
    const block = options.block;
    const [n, h, w, c] = input.shape;
    if (!Number.isInteger(block) || block < 1 || block > GRAPH_LIMITS.strideMax) {
      this.#fail("graph_invalid", `depth_to_space '${name}' has block ${block}, expected 1..8`);
    }
    if (c % (block * block) !== 0) {
      this.#fail(
        "shape_mismatch",
        `depth_to_space '${name}' reads ${c} channels, not a multiple of ${block * block}`,
      );
    }
    return this.#add(
      "depth_to_space",
      name,
      [x],
      { block, mode: options.mode ?? "dcr" },
      {},
      { dtype: input.dtype, shape: [n, h * block, w * block, c / (block * block)] },
      this.#centres.get(x) ?? 0,
    );
  }

  /** `softmax` over channels (f32). */
  softmax(x: string, options: NameOptions = {}): string {
    const name = this.#name("softmax", options);
    const input = this.#input(x, ["f32"], `softmax '${name}'`);
    return this.#add("softmax", name, [x], {}, {}, input);
  }

  /** `sigmoid` (f32). */
  sigmoid(x: string, options: NameOptions = {}): string {
    const name = this.#name("sigmoid", options);
    const input = this.#input(x, ["f32"], `sigmoid '${name}'`);
    return this.#add("sigmoid", name, [x], {}, {}, input, 0.5);
  }

  /** `argmax` over channels: i32 `[N, H, W, 1]`. */
  argmax(x: string, options: NameOptions = {}): string {
    const name = this.#name("argmax", options);
    const input = this.#input(x, ["f32", "i32", "u8", "i8"], `argmax '${name}'`);
    const [n, h, w] = input.shape;
    return this.#add("argmax", name, [x], {}, {}, { dtype: "i32", shape: [n, h, w, 1] });
  }

  /** `bineal_join`: two INT4 (i8) branches added with saturation and binarized. */
  binealJoin(a: string, b: string, options: BinealJoinOptions = {}): string {
    const name = this.#name("bineal_join", options);
    const what = `bineal_join '${name}'`;
    const left = this.#input(a, ["i8"], what);
    const right = this.#input(b, ["i8"], what);
    if (!left.shape.every((dim, index) => dim === right.shape[index])) {
      this.#fail(
        "shape_mismatch",
        `${what}: '${a}' is [${left.shape}], '${b}' is [${right.shape}]`,
      );
    }
    const qmin = options.qmin ?? -8;
    const qmax = options.qmax ?? 7;
    if (
      !Number.isInteger(qmin) || !Number.isInteger(qmax) || qmin < -128 || qmax > 127 || qmin > qmax
    ) {
      this.#fail("graph_invalid", `${what} has qmin ${qmin}, qmax ${qmax}`);
    }
    const params = this.#thresholds(
      name,
      left.shape[3],
      (qmin + qmax) / 2,
      (qmax - qmin) / 8,
      options.flips ?? true,
    );
    return this.#add("bineal_join", name, [a, b], { qmin, qmax }, params, {
      dtype: "bits",
      shape: left.shape,
    });
  }

  /**
   * The BiNeal block (Nie et al., arXiv 2202.03716): a binary 3x3 conv branch and a binary
   * 1x1 shortcut conv, both with stride `stride`, each mapped to INT4 (-8..7), joined by a
   * saturating INT4 add and binarized again. With `sparse` the 3x3 conv is a codebook conv.
   * Returns the block's bits output, named `options.name` (default `block<n>`); the ops are
   * `<name>.short`, `<name>.conv` and, for a separate join, `<name>` itself.
   */
  binealBlock(x: string, options: BinealBlockOptions): string {
    const name = options.name ?? `block${this.#counter++}`;
    const stride = options.stride ?? 1;
    const channels = options.channels;
    const join = options.join ?? "fused";
    const shortcut = this.bconv2d(x, {
      name: `${name}.short`,
      outChannels: channels,
      kernel: 1,
      stride,
      pads: 0,
      transform: "int8",
      qmin: -8,
      qmax: 7,
    });
    const conv = (options_: { name: string; transform: BinaryTransform; residual?: string }) => {
      const common = {
        ...options_,
        outChannels: channels,
        kernel: 3,
        stride,
        pads: 1,
        qmin: -8,
        qmax: 7,
        padValue: options.padValue ?? "plus_one",
      };
      return options.sparse
        ? this.codebookConv2d(x, { ...common, tau: options.tau ?? 5, alpha: options.alpha })
        : this.bconv2d(x, common);
    };
    if (join === "fused") {
      return conv({ name, transform: "join", residual: shortcut });
    }
    const branch = conv({ name: `${name}.conv`, transform: "int8" });
    return this.binealJoin(branch, shortcut, { name });
  }
}

/** Options of {@linkcode powerLawCodebook}. */
export interface PowerLawCodebookOptions {
  /** Bits of a codeword (kernel taps), 1..16. */
  taps: number;
  /** log2 of the codebook size; 2^tau <= 2^taps. */
  tau: number;
  /** Exponent of the power law, > 0. */
  alpha: number;
  /** Number of indices to draw (out x in kernels). */
  kernels: number;
}

/**
 * A codebook of 2^tau distinct `taps`-bit codewords and `kernels` indices into it. Every
 * kernel pattern gets a random popularity rank r (a random permutation of the 2^taps
 * patterns) and weight `(r + 1)^-alpha`; the codewords are drawn by that weight without
 * replacement (so never repeated) and sorted by popularity, and each index is drawn with
 * probability proportional to its codeword's weight. So index 0 is the most frequent.
 *
 * @example
 * ```ts
 * import { powerLawCodebook } from "./builder.ts";
 * import { seededRandom } from "./random_params.ts";
 * const { codebook, indices } = powerLawCodebook(seededRandom(1), {
 *   taps: 9, tau: 4, alpha: 1, kernels: 1000,
 * });
 * console.log(codebook.length, new Set(codebook).size, indices.length); // 16 16 1000
 * ```
 */
export function powerLawCodebook(
  random: () => number,
  options: PowerLawCodebookOptions,
): { codebook: Uint16Array; indices: Uint8Array } {
  const { taps, tau, alpha, kernels } = options;
  const patterns = 2 ** taps;
  const size = 2 ** tau;
  if (!(size <= patterns && tau <= 8 && taps <= 16)) {
    throw new RangeError(`powerLawCodebook: tau ${tau} and taps ${taps} need 2^tau <= 2^taps`);
  }
  // Random popularity ranking of every pattern (Fisher-Yates).
  const ranking = Array.from({ length: patterns }, (_, index) => index);
  for (let index = patterns - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [ranking[index], ranking[other]] = [ranking[other], ranking[index]];
  }
  const weightOf = (rank: number) => (rank + 1) ** -alpha;
  // Weighted draws without replacement, remembering the rank of each chosen pattern.
  const remaining = ranking.map((pattern, rank) => ({ pattern, weight: weightOf(rank) }));
  const chosen: { pattern: number; weight: number }[] = [];
  for (let pick = 0; pick < size; pick++) {
    const total = remaining.reduce((sum, entry) => sum + entry.weight, 0);
    let target = random() * total;
    let at = 0;
    while (at < remaining.length - 1 && target >= remaining[at].weight) {
      target -= remaining[at].weight;
      at++;
    }
    chosen.push(remaining[at]);
    remaining.splice(at, 1);
  }
  chosen.sort((a, b) => b.weight - a.weight);
  const codebook = Uint16Array.from(chosen, (entry) => entry.pattern);
  const cumulative = new Float64Array(size);
  let sum = 0;
  chosen.forEach((entry, index) => {
    sum += entry.weight;
    cumulative[index] = sum;
  });
  const indices = new Uint8Array(kernels);
  for (let kernel = 0; kernel < kernels; kernel++) {
    const target = random() * sum;
    let low = 0;
    let high = size - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle] > target) high = middle;
      else low = middle + 1;
    }
    indices[kernel] = low;
  }
  return { codebook, indices };
}
