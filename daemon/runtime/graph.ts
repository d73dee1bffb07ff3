/**
 * The graph of a onebit model: its JSON schema, the op set, and the validation that infers
 * every activation's dtype and shape before a model can serve (DESIGN.md sections 3 and 4).
 *
 * ## Schema
 *
 * The graph is the JSON string in the model file's `__metadata__.graph`:
 *
 * ```json
 * {
 *   "inputs": [{ "name": "image", "dtype": "u8", "shape": [1, 224, 224, 3] }],
 *   "outputs": ["logits"],
 *   "ops": [
 *     { "op": "bconv2d", "name": "b1", "inputs": ["x"], "outputs": ["y"],
 *       "attrs": { "kernel": [3, 3], "stride": [1, 1], "pads": [1, 1, 1, 1],
 *                  "pad_value": "plus_one", "out_channels": 64, "transform": "binary" },
 *       "params": { "weights": "b1.w", "thresholds": "b1.t" } }
 *   ]
 * }
 * ```
 *
 * - Every activation is NHWC `[batch, height, width, channels]` with a dtype: `bits` (±1
 *   values packed as in DESIGN.md section 3: `ceil(C/64)` u64 words per pixel, channel c in
 *   bit c%64 of word c/64, bit 1 = -1, tail bits 0), `u8`, `i8`, `i32` or `f32`.
 * - `ops` are in topological order; each has a unique `name`, the activations it reads
 *   (`inputs`, each a graph input or an earlier op's output), exactly one output, every
 *   attribute it takes (none is optional, so a file says everything it means) and `params`
 *   mapping a role to a safetensors tensor name. Only the params marked optional below may be
 *   left out. Unknown keys anywhere are refused, as are activations that are defined twice,
 *   never defined, or never used, and tensors that no op uses.
 * - Window attributes: `kernel` `[kh, kw]` (1..15), `stride` `[sh, sw]` (1..8), `pads`
 *   `[top, bottom, left, right]` (each below its kernel size); the output size is
 *   `floor((in + pad_before + pad_after - k) / s) + 1`, as the kernel library.
 *
 * ## Ops
 *
 * (`C` input channels, `O` = `out_channels`, `W(C)` = `ceil(C/64)`, shapes of params exact.)
 *
 * | op | inputs → output | attrs | params |
 * |---|---|---|---|
 * | `binarize` | f32/u8/i8 → bits | — | `thresholds`: F32 [C] for f32, I32 [C] for u8/i8; bit = x < t[c]; optional (then the sign bit) except for u8 |
 * | `quantize` | f32 → u8/i8 | `dtype` u8/i8, `scale` > 0, `zero_point` | — ; q = clamp(round_half_even(x / scale) + zero_point) |
 * | `bconv2d` | bits [, i8 residual for `join`] → bits/i32/f32/i8 | window, `pad_value`, `out_channels`, `transform`, `qmin`/`qmax` (only for int8 and join) | `weights` U64 [O, kh, kw, W(C)] + the transform's |
 * | `codebook_conv2d` | as bconv2d | as bconv2d + `tau` (1..8), kh*kw ≤ 16 | `codebook` U16 [2^tau] (codeword bit ky*kw+kx = tap, < 2^(kh*kw)), `indices` U8 [ceil(O*C*tau/8)]: the O*C tau-bit indices packed (see below) + the transform's |
 * | `bdense` | bits [N,1,1,C] [, i8 residual] → [N,1,1,O] | `out_channels`, `transform`, `qmin`/`qmax` | `weights` U64 [O, W(C)] + the transform's |
 * | `qconv2d` | u8 → u8/i32/f32 | window, `out_channels`, `output` u8/i32/f32, `x_zero_point`, `y_zero_point` (only for u8) | `weights` I8 [O, kh, kw, C], `bias` I32 [O] (optional), `scale` F32 [O] (u8, f32) |
 * | `maxpool` | any → same dtype | window | — ; padded taps are ignored; on bits the max of ±1 |
 * | `avgpool` | any → f32 | window, `count_include_pad` | — ; bits read as ±1 |
 * | `global_avgpool` | any → f32 [N,1,1,C] | — | — |
 * | `upsample_nearest` | any → same, [N, H*sh, W*sw, C] | `scale` [sh, sw] (1..8) | — |
 * | `upsample_bilinear` | f32 → f32 | `scale` [sh, sw], `align_corners` | — |
 * | `concat` | 2..64 of one dtype, same N, H, W → channels summed | — | — |
 * | `depth_to_space` | any → same, [N, H*b, W*b, C/b²] | `block` b (1..8), `mode` dcr/crd (as ONNX) | — |
 * | `softmax` | f32 → f32, over channels | — | — |
 * | `sigmoid` | f32 → f32 | — | — |
 * | `argmax` | f32/i32/u8/i8 → i32 [N,H,W,1], first maximum | — | — |
 * | `bineal_join` | i8, i8 (same shape) → bits | `qmin`, `qmax` | `thresholds` I32 [C], `flips` I32 [C] (optional) |
 *
 * Transforms of `bconv2d`, `codebook_conv2d` and `bdense` (the kernel library's
 * `bconv/contract.zig`): `binary` → bits, params `thresholds` I32 [O] and `flips` I32 [O]
 * (0 or 1, optional: all 0); `int32` → i32, no params; `float` → f32 and `int8` → i8, params
 * `mul` and `bias` F32 [O] (finite); `join` (the BiNeal block join: the int8 transform with
 * `qmin`/`qmax` usually -8/7, added saturating to the i8 residual, then thresholded) → bits,
 * params `mul`, `bias`, `thresholds`, `flips` (optional), and a second input: the i8
 * residual with the output's shape. `bineal_join` is the same join for two branches that
 * are already INT4.
 *
 * Codebook indices (`codebook_indices.ts`): the index of kernel `o*C + c` occupies bits
 * `(o*C + c)*tau ..` `+ tau - 1` of a little-endian bit stream (its least significant bit
 * first; stream bit j is bit j%8 of byte j/8), so a 3x3 kernel costs tau bits (tau/9 per
 * weight). The tensor holds exactly `ceil(O*C*tau/8)` bytes and the bits past the last index
 * must be 0; a tau-bit field is always a valid index (< 2^tau).
 *
 * Packed binary weights must have 0 bits past the last input channel; `pad_value` is
 * `plus_one` (free, what the trainer uses), `minus_one` (free) or `zero` (a correction).
 *
 * @example
 * ```ts
 * import { validateGraph } from "./graph.ts";
 * const { activations } = validateGraph({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 4, 4, 8] }],
 *   outputs: ["y"],
 *   ops: [{ op: "softmax", name: "s", inputs: ["x"], outputs: ["y"], attrs: {}, params: {} }],
 * }, new Map());
 * console.log(activations.get("y")); // { dtype: "f32", shape: [1, 4, 4, 8] }
 * ```
 *
 * @module
 */

import { packedIndexBytes, packedIndicesProblem } from "./codebook_indices.ts";
import { ErrorSite, type ModelErrorCode } from "./errors.ts";
import { type DType, jsonKind, parseStrictJson, type Tensor } from "./safetensors.ts";

/** Element type of an activation; `bits` is packed ±1 (see the module doc). */
export type ActivationDType = "bits" | "u8" | "i8" | "i32" | "f32";

/** Every {@linkcode ActivationDType}. */
export const ACTIVATION_DTYPES: readonly ActivationDType[] = Object.freeze([
  "bits",
  "u8",
  "i8",
  "i32",
  "f32",
]);

/** NHWC dimensions of an activation. */
export type Shape4 = readonly [batch: number, height: number, width: number, channels: number];

/** The dtype and shape of an activation. */
export interface Activation {
  /** Element type. */
  readonly dtype: ActivationDType;
  /** `[batch, height, width, channels]`. */
  readonly shape: Shape4;
}

/** A graph input: a named activation the caller provides. */
export interface GraphInput extends Activation {
  /** Activation name. */
  readonly name: string;
}

/** Value of padded taps of a binary conv. */
export type PadValue = "plus_one" | "minus_one" | "zero";

/** Output transform of a binary conv or dense op. */
export type BinaryTransform = "binary" | "int32" | "float" | "int8" | "join";

/** Attributes of sliding-window ops. */
export interface WindowAttrs {
  /** `[kh, kw]`, 1..15 each. */
  readonly kernel: readonly [number, number];
  /** `[sh, sw]`, 1..8 each. */
  readonly stride: readonly [number, number];
  /** `[top, bottom, left, right]`, each below its kernel size. */
  readonly pads: readonly [number, number, number, number];
}

/** Attributes of an op with a binary output transform. */
export interface TransformAttrs {
  /** Output channels, 1..16384. */
  readonly out_channels: number;
  /** Output transform. */
  readonly transform: BinaryTransform;
  /** Clamp low bound of `int8` and `join`, -128..127 (absent for the other transforms). */
  readonly qmin?: number;
  /** Clamp high bound of `int8` and `join`, qmin..127 (absent for the other transforms). */
  readonly qmax?: number;
}

/** Attributes of `bconv2d`. */
export interface BConv2dAttrs extends WindowAttrs, TransformAttrs {
  /** Value of padded taps. */
  readonly pad_value: PadValue;
}

/** Attributes of `codebook_conv2d`. */
export interface CodebookConv2dAttrs extends BConv2dAttrs {
  /** Bits per kernel index: the codebook has 2^tau codewords, 1..8. */
  readonly tau: number;
}

/** Attributes of `qconv2d`. */
export interface QConv2dAttrs extends WindowAttrs {
  /** Output channels, 1..16384. */
  readonly out_channels: number;
  /** Output kind: requantized u8, the i32 accumulator or dequantized f32. */
  readonly output: "u8" | "i32" | "f32";
  /** Zero point of the u8 input, 0..255. */
  readonly x_zero_point: number;
  /** Zero point of a u8 output, 0..255 (absent for i32 and f32). */
  readonly y_zero_point?: number;
}

/** Attributes of `quantize`. */
export interface QuantizeAttrs {
  /** Output dtype. */
  readonly dtype: "u8" | "i8";
  /** Positive finite step. */
  readonly scale: number;
  /** Integer in the output dtype's range. */
  readonly zero_point: number;
}

/** Attributes of `avgpool`. */
export interface AvgPoolAttrs extends WindowAttrs {
  /** Whether padded taps count in the divisor. */
  readonly count_include_pad: boolean;
}

/** Attributes of `upsample_nearest`. */
export interface UpsampleNearestAttrs {
  /** `[sh, sw]` integer factors, 1..8. */
  readonly scale: readonly [number, number];
}

/** Attributes of `upsample_bilinear`. */
export interface UpsampleBilinearAttrs extends UpsampleNearestAttrs {
  /** Corner pixels aligned (true) or half-pixel centres (false, PyTorch's default). */
  readonly align_corners: boolean;
}

/** Attributes of `depth_to_space`. */
export interface DepthToSpaceAttrs {
  /** Block size b, 1..8. */
  readonly block: number;
  /** Channel order as ONNX DepthToSpace: `dcr` (depth-column-row) or `crd`. */
  readonly mode: "dcr" | "crd";
}

/** Attributes of `bineal_join`. */
export interface BinealJoinAttrs {
  /** Clamp low bound of the sum, -128..127 (the BiNeal INT4 join: -8). */
  readonly qmin: number;
  /** Clamp high bound of the sum, qmin..127 (the BiNeal INT4 join: 7). */
  readonly qmax: number;
}

/** No attributes. */
export type NoAttrs = Readonly<Record<string, never>>;

/** Attributes of every op type. */
export interface OpAttrs {
  /** Attributes of `binarize`. */
  binarize: NoAttrs;
  /** Attributes of `quantize`. */
  quantize: QuantizeAttrs;
  /** Attributes of `bconv2d`. */
  bconv2d: BConv2dAttrs;
  /** Attributes of `codebook_conv2d`. */
  codebook_conv2d: CodebookConv2dAttrs;
  /** Attributes of `bdense`. */
  bdense: TransformAttrs;
  /** Attributes of `qconv2d`. */
  qconv2d: QConv2dAttrs;
  /** Attributes of `maxpool`. */
  maxpool: WindowAttrs;
  /** Attributes of `avgpool`. */
  avgpool: AvgPoolAttrs;
  /** Attributes of `global_avgpool`. */
  global_avgpool: NoAttrs;
  /** Attributes of `upsample_nearest`. */
  upsample_nearest: UpsampleNearestAttrs;
  /** Attributes of `upsample_bilinear`. */
  upsample_bilinear: UpsampleBilinearAttrs;
  /** Attributes of `concat`. */
  concat: NoAttrs;
  /** Attributes of `depth_to_space`. */
  depth_to_space: DepthToSpaceAttrs;
  /** Attributes of `softmax`. */
  softmax: NoAttrs;
  /** Attributes of `sigmoid`. */
  sigmoid: NoAttrs;
  /** Attributes of `argmax`. */
  argmax: NoAttrs;
  /** Attributes of `bineal_join`. */
  bineal_join: BinealJoinAttrs;
}

/** Name of an op type. */
export type OpType = keyof OpAttrs;

/** One op of a given type. */
export interface OpNodeOf<O extends OpType> {
  /** Op type. */
  readonly op: O;
  /** Unique op name. */
  readonly name: string;
  /** Activations read, in the op's order. */
  readonly inputs: readonly string[];
  /** The one activation written. */
  readonly outputs: readonly string[];
  /** Every attribute of the op type. */
  readonly attrs: OpAttrs[O];
  /** Parameter role → safetensors tensor name. */
  readonly params: Readonly<Record<string, string>>;
}

/** One op: a union discriminated by `op`. */
export type OpNode = { [O in OpType]: OpNodeOf<O> }[OpType];

/** A model graph (see the module doc for the JSON schema). */
export interface Graph {
  /** Activations the caller provides. */
  readonly inputs: readonly GraphInput[];
  /** Activations the model returns. */
  readonly outputs: readonly string[];
  /** Ops in topological order. */
  readonly ops: readonly OpNode[];
}

/** Bounds a graph must keep (the kernel library's `limits.zig` where it has one). */
export const GRAPH_LIMITS: Readonly<{
  batchMax: number;
  spatialMax: number;
  channelsMax: number;
  kernelMax: number;
  strideMax: number;
  elementsMax: number;
  activationBytesMax: number;
  opsMax: number;
  endpointsMax: number;
  nameLengthMax: number;
  tauMax: number;
  codewordBitsMax: number;
}> = Object.freeze({
  /** Images in one batch. */
  batchMax: 4096,
  /** Height or width of an activation. */
  spatialMax: 16384,
  /** Channels of an activation or `out_channels`. */
  channelsMax: 16384,
  /** Kernel height or width. */
  kernelMax: 15,
  /** Stride, upsample and depth-to-space factors. */
  strideMax: 8,
  /** Elements of one activation. */
  elementsMax: 2 ** 36,
  /** Bytes of one activation: buffer lengths cross the kernel ABI as u32. */
  activationBytesMax: 2 ** 32 - 1,
  /** Ops in a graph. */
  opsMax: 65536,
  /** Graph inputs, graph outputs, or inputs of one op. */
  endpointsMax: 64,
  /** Characters of an op, activation or tensor name. */
  nameLengthMax: 256,
  /** `tau` of a codebook conv: indices unpack to u8 for the kernel library. */
  tauMax: 8,
  /** Taps of a codebook kernel: codewords are U16. */
  codewordBitsMax: 16,
});

/** Every {@linkcode OpType}. */
export const OP_TYPES: readonly OpType[] = Object.freeze([
  "binarize",
  "quantize",
  "bconv2d",
  "codebook_conv2d",
  "bdense",
  "qconv2d",
  "maxpool",
  "avgpool",
  "global_avgpool",
  "upsample_nearest",
  "upsample_bilinear",
  "concat",
  "depth_to_space",
  "softmax",
  "sigmoid",
  "argmax",
  "bineal_join",
]);

/** A validated graph with the dtype and shape of every activation. */
export interface ValidatedGraph {
  /** The graph, rebuilt from the validated input and deeply frozen. */
  readonly graph: Graph;
  /** Every activation (graph inputs and op outputs) in definition order. */
  readonly activations: ReadonlyMap<string, Activation>;
  /** Names of the tensors the graph uses. */
  readonly tensorsUsed: ReadonlySet<string>;
}

/** Options of {@linkcode validateGraph} and {@linkcode parseGraph}. */
export interface ValidateGraphOptions {
  /** Where errors are reported. Default: a load of `"<memory>"`. */
  site?: ErrorSite;
}

/**
 * Words per pixel of a `bits` activation with `channels` channels.
 *
 * @example
 * ```ts
 * import { wordsFor } from "./graph.ts";
 * console.log(wordsFor(64), wordsFor(65)); // 1 2
 * ```
 */
export function wordsFor(channels: number): number {
  return Math.ceil(channels / 64);
}

/**
 * Bytes of an activation buffer.
 *
 * @example
 * ```ts
 * import { activationBytes } from "./graph.ts";
 * console.log(activationBytes({ dtype: "bits", shape: [1, 2, 2, 65] })); // 64
 * ```
 */
export function activationBytes(activation: Activation): number {
  const [n, h, w, c] = activation.shape;
  const pixels = n * h * w;
  switch (activation.dtype) {
    case "bits":
      return pixels * wordsFor(c) * 8;
    case "u8":
    case "i8":
      return pixels * c;
    case "i32":
    case "f32":
      return pixels * c * 4;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, index) => dim === b[index]);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Validation state of one graph: the tensors, what is defined, what is used. */
class GraphChecker {
  readonly site: ErrorSite;
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly activations = new Map<string, Activation>();
  /** Activation name → who defines it ("graph input" or "op 'x'"). */
  readonly definedBy = new Map<string, string>();
  readonly activationsUsed = new Set<string>();
  readonly tensorsUsed = new Set<string>();
  readonly opNames = new Set<string>();
  /** Names every op defines, for telling a dangling name from one used too early. */
  readonly opOutputs = new Set<string>();

  constructor(site: ErrorSite, tensors: ReadonlyMap<string, Tensor>) {
    this.site = site;
    this.tensors = tensors;
  }

  fail(code: ModelErrorCode, problem: string): never {
    throw this.site.error(code, problem);
  }

  name(value: unknown, what: string): string {
    if (
      typeof value !== "string" || value.length === 0 ||
      value.length > GRAPH_LIMITS.nameLengthMax
    ) {
      this.fail(
        "graph_invalid",
        `${what} is ${
          show(value)
        }, expected a name of 1 to ${GRAPH_LIMITS.nameLengthMax} characters`,
      );
    }
    return value;
  }

  object(value: unknown, what: string): Record<string, unknown> {
    if (!isRecord(value)) {
      this.fail("graph_invalid", `${what} is ${jsonKind(value)}, not an object`);
    }
    return value;
  }

  /** An object with exactly the `allowed` keys. */
  keys(raw: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
    const value = this.object(raw, what);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail("graph_invalid", `${what} has unknown key '${key}'`);
    }
    for (const key of allowed) {
      if (!Object.hasOwn(value, key)) this.fail("graph_invalid", `${what} has no '${key}'`);
    }
    return value;
  }

  /** An array of min..max entries (more is a limit). */
  list(value: unknown, what: string, range: { min: number; max: number }): unknown[] {
    const { min, max } = range;
    if (!Array.isArray(value)) {
      this.fail("graph_invalid", `${what} is ${jsonKind(value)}, not an array`);
    }
    if (value.length < min) {
      this.fail("graph_invalid", `${what} has ${value.length} entries, needs ${min}`);
    }
    if (value.length > max) {
      this.fail("limit_exceeded", `${what} has ${value.length} entries, max ${max}`);
    }
    return value;
  }

  /** Checks an activation's dims against the limits. */
  checkActivation(activation: Activation, what: string): void {
    const [n, h, w, c] = activation.shape;
    const bounds: [string, number, number][] = [
      ["batch", n, GRAPH_LIMITS.batchMax],
      ["height", h, GRAPH_LIMITS.spatialMax],
      ["width", w, GRAPH_LIMITS.spatialMax],
      ["channels", c, GRAPH_LIMITS.channelsMax],
    ];
    for (const [dim, value, max] of bounds) {
      if (value < 1) this.fail("shape_mismatch", `${what} has ${dim} ${value}, must be at least 1`);
      if (value > max) this.fail("limit_exceeded", `${what} has ${dim} ${value}, max ${max}`);
    }
    const elements = n * h * w * c;
    if (elements > GRAPH_LIMITS.elementsMax) {
      this.fail(
        "limit_exceeded",
        `${what} has ${elements} elements, max ${GRAPH_LIMITS.elementsMax}`,
      );
    }
    const bytes = activationBytes(activation);
    if (bytes > GRAPH_LIMITS.activationBytesMax) {
      this.fail(
        "limit_exceeded",
        `${what} is ${bytes} bytes, max ${GRAPH_LIMITS.activationBytesMax}`,
      );
    }
  }

  define(name: string, activation: Activation, by: string): void {
    const previous = this.definedBy.get(name);
    if (previous !== undefined) {
      this.fail(
        "graph_invalid",
        `activation '${name}' is defined twice: by ${previous} and by ${by}`,
      );
    }
    this.checkActivation(activation, `activation '${name}' (${by})`);
    this.activations.set(name, activation);
    this.definedBy.set(name, by);
  }

  use(name: string, by: string): Activation {
    const activation = this.activations.get(name);
    if (activation === undefined) {
      if (this.opOutputs.has(name)) {
        this.fail("graph_invalid", `${by} reads activation '${name}' before it is defined`);
      }
      this.fail("graph_invalid", `${by} reads activation '${name}', which nothing defines`);
    }
    this.activationsUsed.add(name);
    return activation;
  }

  input(raw: unknown, index: number): GraphInput {
    const what = `graph input ${index}`;
    const record = this.keys(raw, what, ["name", "dtype", "shape"]);
    const name = this.name(record.name, `${what} name`);
    const dtype = record.dtype;
    if (typeof dtype !== "string" || !(ACTIVATION_DTYPES as readonly string[]).includes(dtype)) {
      this.fail(
        "graph_invalid",
        `graph input '${name}' has dtype ${show(dtype)}, expected one of ${
          ACTIVATION_DTYPES.join(", ")
        }`,
      );
    }
    const shape = record.shape;
    if (
      !Array.isArray(shape) || shape.length !== 4 ||
      !shape.every((dim) => Number.isSafeInteger(dim))
    ) {
      this.fail(
        "graph_invalid",
        `graph input '${name}' has shape ${show(shape)}, expected [batch, height, width, channels]`,
      );
    }
    const input: GraphInput = {
      name,
      dtype: dtype as ActivationDType,
      shape: [shape[0], shape[1], shape[2], shape[3]],
    };
    this.define(name, { dtype: input.dtype, shape: input.shape }, "graph input");
    return input;
  }
}

/** An integer range of an attribute; a value above `max` is a limit when `limit` is set. */
interface IntRange {
  min: number;
  max: number;
  limit?: boolean;
}

/** What a param tensor must be. */
interface ParamSpec {
  dtype: DType;
  shape: readonly number[];
  /** Whether the param may be left out. Default: false. */
  optional?: boolean;
  /** A check of every element, and what it expects for the message. Default: none. */
  each?: { expected: string; ok: (value: number) => boolean };
  /**
   * For packed weights: the real channel count of a row (the shape's last dim is its
   * words); bits past it must be 0. Default: no check.
   */
  tailBitsPast?: number;
  /** A check of the whole tensor: what is wrong with it, or undefined. Default: none. */
  problem?: (tensor: Tensor) => string | undefined;
}

/**
 * Reads and checks one op: its inputs, attributes and params. Remembers what it read so
 * that unknown attributes and params are refused and the normalized op can be rebuilt.
 */
class OpReader {
  readonly checker: GraphChecker;
  readonly where: string;
  readonly attrs: Record<string, unknown> = {};
  readonly params: Record<string, string> = {};
  readonly inputNames: readonly string[];
  readonly #inputs: readonly Activation[];
  readonly #rawAttrs: Record<string, unknown>;
  readonly #rawParams: Record<string, unknown>;

  constructor(
    checker: GraphChecker,
    op: {
      where: string;
      inputNames: readonly string[];
      inputs: readonly Activation[];
      attrs: Record<string, unknown>;
      params: Record<string, unknown>;
    },
  ) {
    this.checker = checker;
    this.where = op.where;
    this.inputNames = op.inputNames;
    this.#inputs = op.inputs;
    this.#rawAttrs = op.attrs;
    this.#rawParams = op.params;
  }

  fail(code: ModelErrorCode, problem: string): never {
    return this.checker.fail(code, `${this.where} ${problem}`);
  }

  /** Requires exactly `count` inputs; `why` names them in the message. */
  arity(count: number, why = ""): void {
    if (this.inputNames.length !== count) {
      this.fail("graph_invalid", `has ${this.inputNames.length} inputs, expected ${count}${why}`);
    }
  }

  /** Input `index`, which must have one of the `allowed` dtypes. */
  input(index: number, allowed: readonly ActivationDType[]): Activation {
    const activation = this.#inputs[index];
    if (!allowed.includes(activation.dtype)) {
      this.fail(
        "shape_mismatch",
        `input '${this.inputNames[index]}' is ${activation.dtype}, expected ${
          allowed.join(" or ")
        }`,
      );
    }
    return activation;
  }

  #raw(key: string): unknown {
    if (!Object.hasOwn(this.#rawAttrs, key)) {
      this.fail("graph_invalid", `has no attribute '${key}'`);
    }
    return this.#rawAttrs[key];
  }

  #set<T>(key: string, value: T): T {
    this.attrs[key] = value;
    return value;
  }

  /** An integer attribute in `range`. */
  int(key: string, range: IntRange): number {
    const value = this.#raw(key);
    const { min, max } = range;
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      this.fail(
        "graph_invalid",
        `attribute '${key}' is ${show(value)}, expected an integer ${min}..${max}`,
      );
    }
    if ((value as number) > max) {
      this.fail(
        range.limit ? "limit_exceeded" : "graph_invalid",
        `attribute '${key}' is ${value}, max ${max}`,
      );
    }
    return this.#set(key, value as number);
  }

  /** An attribute of `length` integers, each in `range` (above its max: a limit). */
  ints(key: string, range: IntRange & { length: number }): number[] {
    const value = this.#raw(key);
    const { length, min, max } = range;
    if (
      !Array.isArray(value) || value.length !== length ||
      !value.every((item) => Number.isSafeInteger(item) && item >= min)
    ) {
      this.fail(
        "graph_invalid",
        `attribute '${key}' is ${show(value)}, expected ${length} integers ${min}..${max}`,
      );
    }
    if (value.some((item) => item > max)) {
      this.fail("limit_exceeded", `attribute '${key}' is ${show(value)}, max ${max} each`);
    }
    return this.#set(key, [...value]);
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const value = this.#raw(key);
    if (typeof value !== "string" || !(values as readonly string[]).includes(value)) {
      this.fail(
        "graph_invalid",
        `attribute '${key}' is ${show(value)}, expected one of ${values.join(", ")}`,
      );
    }
    return this.#set(key, value as T);
  }

  bool(key: string): boolean {
    const value = this.#raw(key);
    if (typeof value !== "boolean") {
      this.fail("graph_invalid", `attribute '${key}' is ${show(value)}, expected true or false`);
    }
    return this.#set(key, value);
  }

  positive(key: string): number {
    const value = this.#raw(key);
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      this.fail(
        "graph_invalid",
        `attribute '${key}' is ${show(value)}, expected a finite number > 0`,
      );
    }
    return this.#set(key, value);
  }

  /** `kernel`, `stride` and `pads`, each pad below its kernel size. */
  window(): WindowAttrs {
    const kernel = this.ints("kernel", { length: 2, min: 1, max: GRAPH_LIMITS.kernelMax });
    const stride = this.ints("stride", { length: 2, min: 1, max: GRAPH_LIMITS.strideMax });
    const pads = this.ints("pads", { length: 4, min: 0, max: GRAPH_LIMITS.kernelMax - 1 });
    pads.forEach((pad, index) => {
      if (pad >= kernel[index < 2 ? 0 : 1]) {
        this.fail(
          "graph_invalid",
          `pads ${show(pads)} must each be below the kernel size ${show(kernel)}`,
        );
      }
    });
    return {
      kernel: kernel as [number, number],
      stride: stride as [number, number],
      pads: pads as [number, number, number, number],
    };
  }

  /** The output NHWC shape of a window over `input` with `channels` output channels. */
  windowShape(input: Shape4, window: WindowAttrs): (channels: number) => Shape4 {
    const [n, h, w] = input;
    const [kh, kw] = window.kernel;
    const [sh, sw] = window.stride;
    const [top, bottom, left, right] = window.pads;
    if (h + top + bottom < kh || w + left + right < kw) {
      this.fail(
        "shape_mismatch",
        `has kernel ${show(window.kernel)} larger than its padded input ` +
          `${h + top + bottom}x${w + left + right}`,
      );
    }
    const outH = Math.floor((h + top + bottom - kh) / sh) + 1;
    const outW = Math.floor((w + left + right - kw) / sw) + 1;
    return (channels) => [n, outH, outW, channels];
  }

  /**
   * The tensor of param `role`, checked against `spec`; undefined for a missing optional
   * param.
   */
  param(role: string, spec: ParamSpec): Tensor | undefined {
    if (!Object.hasOwn(this.#rawParams, role)) {
      if (spec.optional) return undefined;
      this.fail("param_invalid", `needs param '${role}' (${spec.dtype} ${show(spec.shape)})`);
    }
    const name = this.#rawParams[role];
    if (typeof name !== "string") {
      this.fail("graph_invalid", `param '${role}' is ${show(name)}, expected a tensor name`);
    }
    const tensor = this.checker.tensors.get(name);
    if (tensor === undefined) {
      this.fail(
        "param_invalid",
        `param '${role}' names tensor '${name}', which the file does not hold`,
      );
    }
    const label = `tensor '${name}' (param '${role}' of ${this.where})`;
    if (tensor.dtype !== spec.dtype) {
      this.checker.fail("param_invalid", `${label} is ${tensor.dtype}, expected ${spec.dtype}`);
    }
    if (!sameShape(tensor.shape, spec.shape)) {
      this.checker.fail(
        "param_invalid",
        `${label} has shape ${show(tensor.shape)}, expected ${show(spec.shape)}`,
      );
    }
    if (spec.each !== undefined) this.#checkEach(label, tensor, spec.each);
    if (spec.tailBitsPast !== undefined) this.#checkTailBits(label, tensor, spec.tailBitsPast);
    const problem = spec.problem?.(tensor);
    if (problem !== undefined) this.checker.fail("param_invalid", `${label} ${problem}`);
    this.params[role] = name;
    this.checker.tensorsUsed.add(name);
    return tensor;
  }

  #checkEach(label: string, tensor: Tensor, each: NonNullable<ParamSpec["each"]>): void {
    const data = tensor.data as ArrayLike<number>;
    for (let index = 0; index < data.length; index++) {
      if (!each.ok(data[index])) {
        this.checker.fail(
          "param_invalid",
          `${label} holds ${data[index]} at index ${index}, expected ${each.expected}`,
        );
      }
    }
  }

  /** Packed rows of `wordsFor(channels)` u64 must have 0 bits past `channels`. */
  #checkTailBits(label: string, tensor: Tensor, channels: number): void {
    const used = channels % 64;
    if (used === 0) return;
    const data = tensor.data as BigUint64Array;
    // Read the u64 words as u32 halves (little-endian: low half first) to avoid BigInt math.
    const halves = new Uint32Array(data.buffer, data.byteOffset, data.length * 2);
    const lowMask = used >= 32 ? 0 : (~0 << used) >>> 0;
    const highMask = used <= 32 ? 0xffff_ffff : (~0 << (used - 32)) >>> 0;
    const words = wordsFor(channels);
    for (let row = 0; row < data.length / words; row++) {
      const last = (row * words + words - 1) * 2;
      if ((halves[last] & lowMask) !== 0 || (halves[last + 1] & highMask) !== 0) {
        this.checker.fail(
          "param_invalid",
          `${label} has bits set past input channel ${channels} in row ${row}; ` +
            `the channel tail must be 0 bits`,
        );
      }
    }
  }

  /** Refuses attributes and params this op did not read. */
  finish(): void {
    for (const key of Object.keys(this.#rawAttrs)) {
      if (!Object.hasOwn(this.attrs, key)) {
        this.fail("graph_invalid", `has unknown attribute '${key}'`);
      }
    }
    for (const role of Object.keys(this.#rawParams)) {
      if (!Object.hasOwn(this.params, role)) {
        this.fail("param_invalid", `has unknown param '${role}'`);
      }
    }
  }
}

type OpRule = (reader: OpReader) => Activation;

const FLIP = { expected: "0 or 1", ok: (value: number) => value === 0 || value === 1 };
const FINITE = { expected: "a finite number", ok: Number.isFinite };
const INT8_RANGE = { min: -128, max: 127 };

/** Reads qmin/qmax of a clamping transform (other transforms refuse them via `finish`). */
function clampAttrs(reader: OpReader): void {
  const qmin = reader.int("qmin", INT8_RANGE);
  reader.int("qmax", { min: qmin, max: 127 });
}

/** Checks a transform's attributes and per-channel params; returns the output dtype. */
function transformParams(reader: OpReader, transform: BinaryTransform): ActivationDType {
  const shape = [reader.attrs.out_channels as number];
  const threshold = () => {
    reader.param("thresholds", { dtype: "I32", shape });
    reader.param("flips", { dtype: "I32", shape, optional: true, each: FLIP });
  };
  const affine = () => {
    reader.param("mul", { dtype: "F32", shape, each: FINITE });
    reader.param("bias", { dtype: "F32", shape, each: FINITE });
  };
  switch (transform) {
    case "binary":
      threshold();
      return "bits";
    case "int32":
      return "i32";
    case "float":
      affine();
      return "f32";
    case "int8":
      clampAttrs(reader);
      affine();
      return "i8";
    case "join":
      clampAttrs(reader);
      affine();
      threshold();
      return "bits";
  }
}

const TRANSFORMS: readonly BinaryTransform[] = ["binary", "int32", "float", "int8", "join"];
const PAD_VALUES: readonly PadValue[] = ["plus_one", "minus_one", "zero"];
const ANY_DTYPE = ACTIVATION_DTYPES;
const CHANNELS_RANGE = { min: 1, max: GRAPH_LIMITS.channelsMax, limit: true };

/**
 * The common part of the binary convs and bdense: `out_channels`, `transform` and its
 * params, the bits input and (for `join`) the i8 residual with the output's shape.
 * `outputShape` maps the output channels to the output shape.
 */
function binaryOp(
  reader: OpReader,
  outputShape: (input: Activation, channels: number) => Shape4,
): { input: Activation; channels: number; output: Activation } {
  const channels = reader.int("out_channels", CHANNELS_RANGE);
  const transform = reader.oneOf("transform", TRANSFORMS);
  const join = transform === "join";
  reader.arity(join ? 2 : 1, join ? " (the input and the i8 residual)" : "");
  const input = reader.input(0, ["bits"]);
  const dtype = transformParams(reader, transform);
  const output: Activation = { dtype, shape: outputShape(input, channels) };
  if (join) {
    const residual = reader.input(1, ["i8"]);
    if (!sameShape(residual.shape, output.shape)) {
      reader.fail(
        "shape_mismatch",
        `residual '${reader.inputNames[1]}' has shape ${show(residual.shape)}, ` +
          `the output has ${show(output.shape)}`,
      );
    }
  }
  return { input, channels, output };
}

function bconv2dRule(reader: OpReader): Activation {
  const window = reader.window();
  reader.oneOf("pad_value", PAD_VALUES);
  const { input, channels, output } = binaryOp(
    reader,
    (input, channels) => reader.windowShape(input.shape, window)(channels),
  );
  const inC = input.shape[3];
  const [kh, kw] = window.kernel;
  reader.param("weights", {
    dtype: "U64",
    shape: [channels, kh, kw, wordsFor(inC)],
    tailBitsPast: inC,
  });
  return output;
}

function codebookConv2dRule(reader: OpReader): Activation {
  const window = reader.window();
  const [kh, kw] = window.kernel;
  const taps = kh * kw;
  if (taps > GRAPH_LIMITS.codewordBitsMax) {
    reader.fail(
      "limit_exceeded",
      `has a ${kh}x${kw} kernel; codewords hold at most ${GRAPH_LIMITS.codewordBitsMax} taps`,
    );
  }
  reader.oneOf("pad_value", PAD_VALUES);
  const tau = reader.int("tau", { min: 1, max: GRAPH_LIMITS.tauMax, limit: true });
  const { input, channels, output } = binaryOp(
    reader,
    (input, channels) => reader.windowShape(input.shape, window)(channels),
  );
  reader.param("codebook", {
    dtype: "U16",
    shape: [2 ** tau],
    each: { expected: `a ${taps}-bit codeword`, ok: (value) => value < 2 ** taps },
  });
  const count = channels * input.shape[3];
  reader.param("indices", {
    dtype: "U8",
    shape: [packedIndexBytes(count, tau)],
    problem: (tensor) => packedIndicesProblem(tensor.data as Uint8Array, count, tau),
  });
  return output;
}

function bdenseRule(reader: OpReader): Activation {
  const { input, channels, output } = binaryOp(reader, (input, channels) => {
    const [n, h, w] = input.shape;
    if (h !== 1 || w !== 1) {
      reader.fail(
        "shape_mismatch",
        `input '${reader.inputNames[0]}' has shape ${show(input.shape)}, ` +
          `expected height and width 1`,
      );
    }
    return [n, 1, 1, channels];
  });
  const inC = input.shape[3];
  reader.param("weights", { dtype: "U64", shape: [channels, wordsFor(inC)], tailBitsPast: inC });
  return output;
}

function qconv2dRule(reader: OpReader): Activation {
  const window = reader.window();
  const channels = reader.int("out_channels", CHANNELS_RANGE);
  const output = reader.oneOf("output", ["u8", "i32", "f32"] as const);
  reader.int("x_zero_point", { min: 0, max: 255 });
  if (output === "u8") reader.int("y_zero_point", { min: 0, max: 255 });
  reader.arity(1);
  const input = reader.input(0, ["u8"]);
  const [kh, kw] = window.kernel;
  reader.param("weights", { dtype: "I8", shape: [channels, kh, kw, input.shape[3]] });
  reader.param("bias", { dtype: "I32", shape: [channels], optional: true });
  if (output !== "i32") reader.param("scale", { dtype: "F32", shape: [channels], each: FINITE });
  return { dtype: output, shape: reader.windowShape(input.shape, window)(channels) };
}

function binarizeRule(reader: OpReader): Activation {
  reader.arity(1);
  const input = reader.input(0, ["f32", "u8", "i8"]);
  const shape = [input.shape[3]];
  if (input.dtype === "f32") {
    const notNaN = { expected: "a number (not NaN)", ok: (value: number) => !Number.isNaN(value) };
    reader.param("thresholds", { dtype: "F32", shape, optional: true, each: notNaN });
  } else {
    // u8 has no sign bit to take, so it needs thresholds; i8 may use its sign.
    reader.param("thresholds", { dtype: "I32", shape, optional: input.dtype === "i8" });
  }
  return { dtype: "bits", shape: input.shape };
}

function quantizeRule(reader: OpReader): Activation {
  const dtype = reader.oneOf("dtype", ["u8", "i8"] as const);
  reader.positive("scale");
  reader.int("zero_point", dtype === "u8" ? { min: 0, max: 255 } : INT8_RANGE);
  reader.arity(1);
  const input = reader.input(0, ["f32"]);
  return { dtype, shape: input.shape };
}

function poolRule(reader: OpReader, average: boolean): Activation {
  const window = reader.window();
  if (average) reader.bool("count_include_pad");
  reader.arity(1);
  const input = reader.input(0, ANY_DTYPE);
  return {
    dtype: average ? "f32" : input.dtype,
    shape: reader.windowShape(input.shape, window)(input.shape[3]),
  };
}

function upsampleRule(reader: OpReader, bilinear: boolean): Activation {
  const [sh, sw] = reader.ints("scale", { length: 2, min: 1, max: GRAPH_LIMITS.strideMax });
  if (bilinear) reader.bool("align_corners");
  reader.arity(1);
  const input = reader.input(0, bilinear ? ["f32"] : ANY_DTYPE);
  const [n, h, w, c] = input.shape;
  return { dtype: input.dtype, shape: [n, h * sh, w * sw, c] };
}

function concatRule(reader: OpReader): Activation {
  const count = reader.inputNames.length;
  if (count < 2) reader.fail("graph_invalid", `has ${count} inputs, needs 2 or more`);
  const first = reader.input(0, ANY_DTYPE);
  let channels = 0;
  for (let index = 0; index < count; index++) {
    const activation = reader.input(index, [first.dtype]);
    if (!sameShape(activation.shape.slice(0, 3), first.shape.slice(0, 3))) {
      reader.fail(
        "shape_mismatch",
        `input '${reader.inputNames[index]}' has shape ${show(activation.shape)}, ` +
          `input '${reader.inputNames[0]}' has ${show(first.shape)}; ` +
          `batch, height and width must be equal`,
      );
    }
    channels += activation.shape[3];
  }
  const [n, h, w] = first.shape;
  return { dtype: first.dtype, shape: [n, h, w, channels] };
}

function depthToSpaceRule(reader: OpReader): Activation {
  const block = reader.int("block", { min: 1, max: GRAPH_LIMITS.strideMax, limit: true });
  reader.oneOf("mode", ["dcr", "crd"] as const);
  reader.arity(1);
  const input = reader.input(0, ANY_DTYPE);
  const [n, h, w, c] = input.shape;
  if (c % (block * block) !== 0) {
    reader.fail(
      "shape_mismatch",
      `input '${reader.inputNames[0]}' has ${c} channels, ` +
        `not a multiple of block² = ${block * block}`,
    );
  }
  return { dtype: input.dtype, shape: [n, h * block, w * block, c / (block * block)] };
}

/** A rule for a one-input op without attributes or params. */
function unaryRule(
  allowed: readonly ActivationDType[],
  output: (input: Activation) => Activation,
): OpRule {
  return (reader) => {
    reader.arity(1);
    return output(reader.input(0, allowed));
  };
}

function binealJoinRule(reader: OpReader): Activation {
  clampAttrs(reader);
  reader.arity(2, " (the two INT4 branches)");
  const a = reader.input(0, ["i8"]);
  const b = reader.input(1, ["i8"]);
  if (!sameShape(a.shape, b.shape)) {
    reader.fail(
      "shape_mismatch",
      `inputs have shapes ${show(a.shape)} and ${show(b.shape)}, which must be equal`,
    );
  }
  const shape = [a.shape[3]];
  reader.param("thresholds", { dtype: "I32", shape });
  reader.param("flips", { dtype: "I32", shape, optional: true, each: FLIP });
  return { dtype: "bits", shape: a.shape };
}

const RULES: { readonly [O in OpType]: OpRule } = {
  binarize: binarizeRule,
  quantize: quantizeRule,
  bconv2d: bconv2dRule,
  codebook_conv2d: codebookConv2dRule,
  bdense: bdenseRule,
  qconv2d: qconv2dRule,
  maxpool: (reader) => poolRule(reader, false),
  avgpool: (reader) => poolRule(reader, true),
  global_avgpool: unaryRule(ANY_DTYPE, (input) => ({
    dtype: "f32",
    shape: [input.shape[0], 1, 1, input.shape[3]],
  })),
  upsample_nearest: (reader) => upsampleRule(reader, false),
  upsample_bilinear: (reader) => upsampleRule(reader, true),
  concat: concatRule,
  depth_to_space: depthToSpaceRule,
  softmax: unaryRule(["f32"], (input) => input),
  sigmoid: unaryRule(["f32"], (input) => input),
  argmax: unaryRule(["f32", "i32", "u8", "i8"], (input) => ({
    dtype: "i32",
    shape: [input.shape[0], input.shape[1], input.shape[2], 1],
  })),
  bineal_join: binealJoinRule,
};

const OP_KEYS = ["op", "name", "inputs", "outputs", "attrs", "params"] as const;

/** Checks op `index` and defines its output; returns the rebuilt op. */
function checkOp(checker: GraphChecker, raw: unknown, index: number): OpNode {
  const record = checker.keys(raw, `op ${index}`, OP_KEYS);
  const name = checker.name(record.name, `op ${index} name`);
  if (checker.opNames.has(name)) checker.fail("graph_invalid", `op name '${name}' is used twice`);
  checker.opNames.add(name);
  const type = record.op;
  if (typeof type !== "string" || !Object.hasOwn(RULES, type)) {
    checker.fail(
      "unknown_op",
      `op '${name}' has unknown type ${show(type)}; known: ${OP_TYPES.join(", ")}`,
    );
  }
  const where = `op '${name}' (${type})`;
  const inputNames = checker.list(record.inputs, `${where} inputs`, {
    min: 1,
    max: GRAPH_LIMITS.endpointsMax,
  })
    .map((input, position) => checker.name(input, `${where} input ${position}`));
  const outputs = checker.list(record.outputs, `${where} outputs`, {
    min: 1,
    max: GRAPH_LIMITS.endpointsMax,
  })
    .map((output, position) => checker.name(output, `${where} output ${position}`));
  if (outputs.length !== 1) {
    checker.fail("graph_invalid", `${where} has ${outputs.length} outputs; every op has exactly 1`);
  }
  const attrs = checker.object(record.attrs, `${where} attrs`);
  const params = checker.object(record.params, `${where} params`);
  const inputs = inputNames.map((input) => checker.use(input, where));
  const reader = new OpReader(checker, { where, inputNames, inputs, attrs, params });
  const output = RULES[type as OpType](reader);
  reader.finish();
  checker.define(outputs[0], output, `op '${name}'`);
  return {
    op: type,
    name,
    inputs: inputNames,
    outputs,
    attrs: reader.attrs,
    params: reader.params,
  } as unknown as OpNode;
}

/** Collects every name an op outputs, to tell a dangling name from one used too early. */
function collectOutputs(ops: readonly unknown[], into: Set<string>): void {
  for (const op of ops) {
    if (isRecord(op) && Array.isArray(op.outputs)) {
      for (const output of op.outputs) if (typeof output === "string") into.add(output);
    }
  }
}

/**
 * Validates a graph (the parsed JSON of the schema in the module doc) against the model's
 * tensors, infers every activation's dtype and shape, and returns a rebuilt, deeply frozen
 * graph. Throws a {@linkcode ModelError} (`graph_invalid`, `unknown_op`, `param_invalid`,
 * `shape_mismatch`, `limit_exceeded`) naming the op, activation or tensor at fault.
 *
 * @example
 * ```ts
 * import { validateGraph } from "./graph.ts";
 * import { ModelError } from "./errors.ts";
 * try {
 *   validateGraph({ inputs: [], outputs: [], ops: [] }, new Map());
 * } catch (error) {
 *   if (error instanceof ModelError) console.log(error.code); // graph_invalid
 * }
 * ```
 */
export function validateGraph(
  graph: unknown,
  tensors: ReadonlyMap<string, Tensor>,
  options: ValidateGraphOptions = {},
): ValidatedGraph {
  const checker = new GraphChecker(options.site ?? new ErrorSite("<memory>"), tensors);
  const record = checker.keys(graph, "graph", ["inputs", "outputs", "ops"]);
  const rawInputs = checker.list(record.inputs, "graph inputs", {
    min: 1,
    max: GRAPH_LIMITS.endpointsMax,
  });
  const rawOutputs = checker.list(record.outputs, "graph outputs", {
    min: 1,
    max: GRAPH_LIMITS.endpointsMax,
  });
  const rawOps = checker.list(record.ops, "graph ops", { min: 1, max: GRAPH_LIMITS.opsMax });
  const inputs = rawInputs.map((input, index) => checker.input(input, index));
  collectOutputs(rawOps, checker.opOutputs);
  const ops = rawOps.map((op, index) => checkOp(checker, op, index));
  const outputs = rawOutputs.map((output, index) => checker.name(output, `graph output ${index}`));
  const seen = new Set<string>();
  for (const output of outputs) {
    if (seen.has(output)) checker.fail("graph_invalid", `graph output '${output}' is listed twice`);
    seen.add(output);
    checker.use(output, "the graph outputs");
  }
  for (const [name, by] of checker.definedBy) {
    if (!checker.activationsUsed.has(name)) {
      checker.fail("graph_invalid", `activation '${name}' (defined by ${by}) is never used`);
    }
  }
  for (const name of tensors.keys()) {
    if (!checker.tensorsUsed.has(name)) {
      checker.fail("param_invalid", `tensor '${name}' is not used by any op`);
    }
  }
  for (const activation of checker.activations.values()) deepFreeze(activation);
  return Object.freeze({
    graph: deepFreeze({ inputs, outputs, ops }),
    activations: checker.activations,
    tensorsUsed: checker.tensorsUsed,
  });
}

/**
 * Parses the graph JSON text (duplicate keys refused) and validates it as
 * {@linkcode validateGraph} does.
 *
 * @example
 * ```ts
 * import { parseGraph } from "./graph.ts";
 * const text = JSON.stringify({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 1, 1, 10] }],
 *   outputs: ["c"],
 *   ops: [{ op: "argmax", name: "a", inputs: ["x"], outputs: ["c"], attrs: {}, params: {} }],
 * });
 * console.log(parseGraph(text, new Map()).activations.get("c")?.dtype); // i32
 * ```
 */
export function parseGraph(
  text: string,
  tensors: ReadonlyMap<string, Tensor>,
  options: ValidateGraphOptions = {},
): ValidatedGraph {
  const site = options.site ?? new ErrorSite("<memory>");
  const parsed = parseStrictJson(text);
  if ("problem" in parsed) throw site.error("graph_invalid", `graph ${parsed.problem}`);
  return validateGraph(parsed.value, tensors, { site });
}
