/**
 * Builds ONNX models (ModelProto bytes) in code: graphs with initializers and nodes, with
 * helpers for the layers onebit compares against and later exports as "int8 twin" models —
 * `QLinearConv` (u8 activations, s8 weights with per-channel scales, i32 bias, u8 output:
 * ONNX Runtime's fast int8 path), fp32 `Conv`, `Relu`, `QuantizeLinear` / `DequantizeLinear`,
 * and chains of them.
 *
 * Serialization uses the npm package `onnx-proto`: protobufjs static code generated from the
 * official `onnx.proto` (ONNX 1.10.2, IR version 8), with TypeScript types for every message.
 * It is preferred over `protobufjs` + a vendored `onnx.proto` because it needs no `.proto`
 * file in the tree and no reflection at run time, and over hand-rolled protobuf because the
 * wire format of a ModelProto is not something to get subtly wrong. IR 8 / opset 13 cover
 * every operator used here (QLinearConv and Conv have not changed since opsets 10 and 11).
 *
 * Layout: ONNX is NCHW with OIHW weights; every tensor given to this module is already in
 * ONNX layout. Convert from onebit's NHWC / OHWI with `layout.ts`.
 *
 * @module
 */

// Pinned in deno.json's import map: protobufjs code generated from the official onnx.proto,
// so no .proto file or hand-written protobuf encoder lives in this repo.
import onnxProto from "onnx-proto";
import { OnnxError } from "./errors.ts";
import type { Window2d } from "../kernels/shape.ts";
import { outH, outW } from "../kernels/shape.ts";

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX IR version the writer emits (ONNX 1.10). */
export const IR_VERSION = 8;
/** Default-domain opset the writer emits. */
export const OPSET_VERSION = 13;

/** Tensor element types the writer supports, named as ONNX Runtime's JS API names them. */
export type ElementType = "uint8" | "int8" | "int32" | "float32";

/** The typed array holding elements of each {@linkcode ElementType}. */
export interface ArrayOf {
  /** u8 activations. */
  uint8: Uint8Array;
  /** s8 weights and weight zero points. */
  int8: Int8Array;
  /** i32 bias. */
  int32: Int32Array;
  /** fp32 scales, weights and activations. */
  float32: Float32Array;
}

const dataTypes: Record<ElementType, number> = {
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  int32: onnx.TensorProto.DataType.INT32,
  float32: onnx.TensorProto.DataType.FLOAT,
};

const arrayTypes: Record<ElementType, abstract new (length: number) => ArrayOf[ElementType]> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int32: Int32Array,
  float32: Float32Array,
};

/** An attribute value: an int, a list of ints, a float or a string. */
export type AttributeValue = number | readonly number[] | string;

/**
 * The geometry of one convolution: every field of {@linkcode Window2d} except the input's
 * batch and spatial size, which come from the tensor the layer is applied to.
 */
export type ConvGeometry = Pick<
  Window2d,
  | "inC"
  | "outC"
  | "kernelH"
  | "kernelW"
  | "strideH"
  | "strideW"
  | "padTop"
  | "padBottom"
  | "padLeft"
  | "padRight"
>;

/**
 * A `QLinearConv` layer: u8 input, s8 weights with per-output-channel scales (zero point 0),
 * optional i32 bias, u8 output.
 */
export interface QLinearConvLayer extends ConvGeometry {
  /** s8 weights, OIHW `[outC][inC][kernelH][kernelW]`. */
  weights: Int8Array;
  /** Per-output-channel weight scales `[outC]`. */
  weightScales: Float32Array;
  /** Bias `[outC]` in accumulator units (`x_scale * w_scale[o]`). Default: none. */
  bias?: Int32Array;
  /** Scale of the input. */
  xScale: number;
  /** Zero point of the input, 0..255. */
  xZeroPoint: number;
  /** Scale of the output. */
  yScale: number;
  /** Zero point of the output, 0..255. */
  yZeroPoint: number;
}

/** An fp32 `Conv` layer. */
export interface ConvLayer extends ConvGeometry {
  /** Weights, OIHW `[outC][inC][kernelH][kernelW]`. */
  weights: Float32Array;
  /** Bias `[outC]`. Default: none. */
  bias?: Float32Array;
}

/** One layer of {@linkcode chainModel}. */
export type ChainLayer =
  | ({ kind: "qlinear_conv" } & QLinearConvLayer)
  | ({ kind: "conv" } & ConvLayer)
  | { kind: "relu" };

/** Options of the node helpers of {@linkcode GraphBuilder}. */
export interface NodeOptions {
  /** Name of the output tensor. Default: a fresh generated name. */
  output?: string;
}

/** Input of a model: batch, spatial size and channels (laid out NCHW by the writer). */
export interface ModelInput {
  /** Images in the batch. */
  batch: number;
  /** Input height. */
  inH: number;
  /** Input width. */
  inW: number;
  /** Input channels. */
  inC: number;
}

function product(dims: readonly number[]): number {
  return dims.reduce((total, dim) => total * dim, 1);
}

function checkDims(what: string, dims: readonly number[]): void {
  for (const dim of dims) {
    if (!Number.isInteger(dim) || dim < 1) {
      throw new OnnxError("invalid_argument", `${what}: dims ${JSON.stringify(dims)} hold ${dim}`);
    }
  }
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  // ONNX raw_data is little-endian; every platform onebit targets (x86_64, aarch64) is too.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function attribute(name: string, value: AttributeValue): IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") {
    return { name, type: types.STRING, s: new TextEncoder().encode(value) };
  }
  if (typeof value === "number") {
    if (Number.isInteger(value)) return { name, type: types.INT, i: value };
    return { name, type: types.FLOAT, f: value };
  }
  for (const item of value) {
    if (!Number.isInteger(item)) {
      throw new OnnxError("invalid_argument", `attribute ${name}: ${item} is not an integer`);
    }
  }
  return { name, type: types.INTS, ints: [...value] };
}

function valueInfo(name: string, type: ElementType, dims: readonly number[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dataTypes[type],
        shape: { dim: dims.map((dimValue) => ({ dimValue })) },
      },
    },
  };
}

/** Output spatial size and channels of a conv layer applied to `input`. */
export function convOutput(input: ModelInput, layer: ConvGeometry): ModelInput {
  checkGeometry("conv", layer);
  if (layer.inC !== input.inC) {
    throw new OnnxError(
      "shape_mismatch",
      `conv expects ${layer.inC} input channels, the tensor has ${input.inC}`,
    );
  }
  const window = { ...layer, inH: input.inH, inW: input.inW };
  return { batch: input.batch, inH: outH(window), inW: outW(window), inC: layer.outC };
}

function checkGeometry(what: string, layer: ConvGeometry): void {
  for (const field of ["inC", "outC", "kernelH", "kernelW", "strideH", "strideW"] as const) {
    const value = layer[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new OnnxError("invalid_argument", `${what}: ${field} is ${value}, must be >= 1`);
    }
  }
  for (const field of ["padTop", "padBottom", "padLeft", "padRight"] as const) {
    const value = layer[field];
    if (!Number.isInteger(value) || value < 0) {
      throw new OnnxError("invalid_argument", `${what}: ${field} is ${value}, must be >= 0`);
    }
  }
}

function convAttributes(layer: ConvGeometry): Record<string, AttributeValue> {
  return {
    kernel_shape: [layer.kernelH, layer.kernelW],
    strides: [layer.strideH, layer.strideW],
    // ONNX orders pads as all begins, then all ends: [top, left, bottom, right].
    pads: [layer.padTop, layer.padLeft, layer.padBottom, layer.padRight],
    dilations: [1, 1],
    group: 1,
  };
}

function checkZeroPoint(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new OnnxError("invalid_argument", `${what} is ${value}, must be an integer 0..255`);
  }
}

function checkScale(what: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new OnnxError("invalid_argument", `${what} is ${value}, must be finite and > 0`);
  }
}

/**
 * Builds one ONNX graph: inputs, initializers, nodes and outputs, each name defined once.
 * Node helpers return the name of the tensor they produce, so layers chain naturally.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./model_writer.ts";
 * const graph = new GraphBuilder();
 * const x = graph.input("x", "float32", [1, 1, 4, 4]);
 * const y = graph.relu(x);
 * graph.output(y, "float32", [1, 1, 4, 4]);
 * const bytes: Uint8Array = graph.encode(); // a ModelProto for ONNX Runtime
 * ```
 */
export class GraphBuilder {
  /** The graph's name inside the model. */
  readonly name: string;
  #nodes: INodeProto[] = [];
  #initializers: ITensorProto[] = [];
  #inputs: IValueInfoProto[] = [];
  #outputs: IValueInfoProto[] = [];
  #defined = new Set<string>();
  #counter = 0;

  /** Starts an empty graph named `name` (default `"onebit"`). */
  constructor(name = "onebit") {
    this.name = name;
  }

  #define(name: string): string {
    if (name.length === 0) throw new OnnxError("invalid_argument", "tensor name is empty");
    if (this.#defined.has(name)) {
      throw new OnnxError("duplicate_name", `tensor '${name}' is already defined`);
    }
    this.#defined.add(name);
    return name;
  }

  #require(name: string): void {
    if (!this.#defined.has(name)) {
      throw new OnnxError("unknown_name", `tensor '${name}' is not defined in the graph`);
    }
  }

  /** A name not used yet, `<prefix>_<n>`. */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.#counter++}`; while (this.#defined.has(name));
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElementType, dims: readonly number[]): string {
    checkDims(`input '${name}'`, dims);
    this.#inputs.push(valueInfo(this.#define(name), type, dims));
    return name;
  }

  /** Declares an already defined tensor as a graph output of the given type and dims. */
  output(name: string, type: ElementType, dims: readonly number[]): void {
    this.#require(name);
    checkDims(`output '${name}'`, dims);
    this.#outputs.push(valueInfo(name, type, dims));
  }

  /**
   * Adds a constant tensor (`dims` [] for a scalar) and returns its name. Throws
   * `shape_mismatch` when `data` does not hold `product(dims)` elements of `type`.
   */
  initializer<T extends ElementType>(
    name: string,
    type: T,
    dims: readonly number[],
    data: ArrayOf[T],
  ): string {
    checkDims(`initializer '${name}'`, dims);
    const expected = arrayTypes[type];
    if (!(data instanceof expected)) {
      throw new OnnxError(
        "invalid_argument",
        `initializer '${name}': data is a ${data.constructor.name}, ${type} needs ${expected.name}`,
      );
    }
    if (data.length !== product(dims)) {
      throw new OnnxError(
        "shape_mismatch",
        `initializer '${name}': data holds ${data.length} values, dims ${
          JSON.stringify(dims)
        } need ${product(dims)}`,
      );
    }
    this.#initializers.push({
      name: this.#define(name),
      dataType: dataTypes[type],
      dims: [...dims],
      rawData: bytesOf(data),
    });
    return name;
  }

  /**
   * Adds a node of the default domain reading `inputs` (already defined; "" marks an omitted
   * optional input) and defining `outputs`.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
  ): void {
    for (const input of inputs) if (input !== "") this.#require(input);
    for (const output of outputs) this.#define(output);
    this.#nodes.push({
      name: `${opType}_${this.#nodes.length}`,
      opType,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
  }

  /**
   * Adds a `QLinearConv` reading u8 tensor `x` and returns the name of its u8 output. The
   * weights get per-output-channel scales and zero points of 0 (symmetric s8).
   */
  qlinearConv(x: string, layer: QLinearConvLayer, options: NodeOptions = {}): string {
    checkGeometry("qlinearConv", layer);
    const { outC, inC, kernelH, kernelW } = layer;
    checkScale("qlinearConv xScale", layer.xScale);
    checkScale("qlinearConv yScale", layer.yScale);
    checkZeroPoint("qlinearConv xZeroPoint", layer.xZeroPoint);
    checkZeroPoint("qlinearConv yZeroPoint", layer.yZeroPoint);
    if (layer.weightScales.length !== outC) {
      throw new OnnxError(
        "shape_mismatch",
        `qlinearConv: weightScales holds ${layer.weightScales.length} values, outC is ${outC}`,
      );
    }
    layer.weightScales.forEach((scale, o) => checkScale(`qlinearConv weightScales[${o}]`, scale));
    const prefix = this.fresh("qconv");
    const inputs = [
      x,
      this.initializer(`${prefix}_x_scale`, "float32", [], Float32Array.of(layer.xScale)),
      this.initializer(`${prefix}_x_zero_point`, "uint8", [], Uint8Array.of(layer.xZeroPoint)),
      this.initializer(`${prefix}_w`, "int8", [outC, inC, kernelH, kernelW], layer.weights),
      this.initializer(`${prefix}_w_scale`, "float32", [outC], layer.weightScales),
      this.initializer(`${prefix}_w_zero_point`, "int8", [outC], new Int8Array(outC)),
      this.initializer(`${prefix}_y_scale`, "float32", [], Float32Array.of(layer.yScale)),
      this.initializer(`${prefix}_y_zero_point`, "uint8", [], Uint8Array.of(layer.yZeroPoint)),
    ];
    if (layer.bias) inputs.push(this.initializer(`${prefix}_b`, "int32", [outC], layer.bias));
    const y = options.output ?? this.fresh(`${prefix}_y`);
    this.node("QLinearConv", inputs, [y], convAttributes(layer));
    return y;
  }

  /** Adds an fp32 `Conv` reading `x` and returns the name of its output. */
  conv(x: string, layer: ConvLayer, options: NodeOptions = {}): string {
    checkGeometry("conv", layer);
    const { outC, inC, kernelH, kernelW } = layer;
    const prefix = this.fresh("conv");
    const inputs = [
      x,
      this.initializer(`${prefix}_w`, "float32", [outC, inC, kernelH, kernelW], layer.weights),
    ];
    if (layer.bias) inputs.push(this.initializer(`${prefix}_b`, "float32", [outC], layer.bias));
    const y = options.output ?? this.fresh(`${prefix}_y`);
    this.node("Conv", inputs, [y], convAttributes(layer));
    return y;
  }

  /** Adds a `Relu` and returns the name of its output. */
  relu(x: string, options: NodeOptions = {}): string {
    const y = options.output ?? this.fresh("relu_y");
    this.node("Relu", [x], [y]);
    return y;
  }

  /** Adds a `QuantizeLinear` (fp32 -> u8) and returns the name of its output. */
  quantize(x: string, scale: number, zeroPoint: number): string {
    checkScale("quantize scale", scale);
    checkZeroPoint("quantize zeroPoint", zeroPoint);
    const prefix = this.fresh("quantize");
    const y = this.fresh(`${prefix}_y`);
    this.node("QuantizeLinear", [
      x,
      this.initializer(`${prefix}_scale`, "float32", [], Float32Array.of(scale)),
      this.initializer(`${prefix}_zero_point`, "uint8", [], Uint8Array.of(zeroPoint)),
    ], [y]);
    return y;
  }

  /** Adds a `DequantizeLinear` (u8 -> fp32) and returns the name of its output. */
  dequantize(x: string, scale: number, zeroPoint: number): string {
    checkScale("dequantize scale", scale);
    checkZeroPoint("dequantize zeroPoint", zeroPoint);
    const prefix = this.fresh("dequantize");
    const y = this.fresh(`${prefix}_y`);
    this.node("DequantizeLinear", [
      x,
      this.initializer(`${prefix}_scale`, "float32", [], Float32Array.of(scale)),
      this.initializer(`${prefix}_zero_point`, "uint8", [], Uint8Array.of(zeroPoint)),
    ], [y]);
    return y;
  }

  /** The graph as a ModelProto (IR 8, opset 13), serialized. */
  encode(): Uint8Array {
    if (this.#inputs.length === 0 || this.#outputs.length === 0) {
      throw new OnnxError(
        "invalid_argument",
        `graph '${this.name}' has ${this.#inputs.length} inputs and ${this.#outputs.length} outputs, needs at least one of each`,
      );
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET_VERSION }],
      producerName: "onebit",
      graph: {
        name: this.name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/** A tensor declaration or constant as {@linkcode readModel} reports it. */
export interface TensorSummary {
  /** Tensor name. */
  name: string;
  /** Element type, or `"other:<n>"` for an ONNX data type this module does not write. */
  type: ElementType | `other:${number}`;
  /** Dimensions ([] for a scalar). */
  dims: number[];
}

/** A model as {@linkcode readModel} reports it: plain values, no protobuf classes. */
export interface ModelSummary {
  /** ONNX IR version. */
  irVersion: number;
  /** Default-domain opset. */
  opset: number;
  /** Graph inputs. */
  inputs: TensorSummary[];
  /** Graph outputs. */
  outputs: TensorSummary[];
  /** Constants with their raw little-endian bytes. */
  initializers: (TensorSummary & { raw: Uint8Array })[];
  /** Nodes in graph order. */
  nodes: {
    opType: string;
    inputs: string[];
    outputs: string[];
    attributes: Record<string, AttributeValue>;
  }[];
}

function typeName(dataType: number): TensorSummary["type"] {
  const found = (Object.keys(dataTypes) as ElementType[]).find((t) => dataTypes[t] === dataType);
  return found ?? `other:${dataType}`;
}

function attributeValue(proto: IAttributeProto): AttributeValue {
  const types = onnx.AttributeProto.AttributeType;
  switch (proto.type) {
    case types.INT:
      return Number(proto.i ?? 0);
    case types.FLOAT:
      return proto.f ?? 0;
    case types.INTS:
      return (proto.ints ?? []).map(Number);
    case types.STRING:
      return new TextDecoder().decode(proto.s ?? new Uint8Array());
    default:
      throw new OnnxError(
        "invalid_argument",
        `attribute ${proto.name} has unsupported type ${proto.type}`,
      );
  }
}

/**
 * Decodes ModelProto bytes into plain values: for tests and for inspecting exported models.
 *
 * @example
 * ```ts
 * import { GraphBuilder, readModel } from "./model_writer.ts";
 * const graph = new GraphBuilder();
 * graph.output(graph.relu(graph.input("x", "float32", [1, 2])), "float32", [1, 2]);
 * console.log(readModel(graph.encode()).nodes[0].opType); // "Relu"
 * ```
 */
export function readModel(bytes: Uint8Array): ModelSummary {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph ?? {};
  const tensorInfo = (info: IValueInfoProto): TensorSummary => ({
    name: info.name ?? "",
    type: typeName(info.type?.tensorType?.elemType ?? 0),
    dims: (info.type?.tensorType?.shape?.dim ?? []).map((dim) => Number(dim.dimValue ?? 0)),
  });
  return {
    irVersion: Number(model.irVersion),
    opset: Number(model.opsetImport.find((set) => !set.domain)?.version ?? 0),
    inputs: (graph.input ?? []).map(tensorInfo),
    outputs: (graph.output ?? []).map(tensorInfo),
    initializers: (graph.initializer ?? []).map((tensor) => ({
      name: tensor.name ?? "",
      type: typeName(tensor.dataType ?? 0),
      dims: (tensor.dims ?? []).map(Number),
      raw: tensor.rawData ?? new Uint8Array(),
    })),
    nodes: (graph.node ?? []).map((node) => ({
      opType: node.opType ?? "",
      inputs: node.input ?? [],
      outputs: node.output ?? [],
      attributes: Object.fromEntries(
        (node.attribute ?? []).map((proto) => [proto.name ?? "", attributeValue(proto)]),
      ),
    })),
  };
}

/**
 * A model of one `QLinearConv`: input `"x"` u8 NCHW `[batch][inC][inH][inW]`, output `"y"`
 * u8 NCHW. `shape` gives the input size and the conv geometry.
 *
 * @example
 * ```ts
 * import { qlinearConvModel } from "./model_writer.ts";
 * const shape = { batch: 1, inH: 8, inW: 8, inC: 4, outC: 2, kernelH: 3, kernelW: 3,
 *   strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 };
 * const model = qlinearConvModel(shape, {
 *   weights: new Int8Array(2 * 4 * 9), weightScales: new Float32Array([0.01, 0.02]),
 *   xScale: 0.05, xZeroPoint: 128, yScale: 0.1, yZeroPoint: 128,
 * });
 * ```
 */
export function qlinearConvModel(
  shape: Window2d,
  layer: Omit<QLinearConvLayer, keyof ConvGeometry>,
): Uint8Array {
  return chainModel(shape, [{ kind: "qlinear_conv", ...shape, ...layer }]);
}

/**
 * A model of one fp32 `Conv`: input `"x"` f32 NCHW, output `"y"` f32 NCHW.
 *
 * @example
 * ```ts
 * import { convModel } from "./model_writer.ts";
 * const shape = { batch: 1, inH: 8, inW: 8, inC: 4, outC: 2, kernelH: 1, kernelW: 1,
 *   strideH: 1, strideW: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0 };
 * const model = convModel(shape, { weights: new Float32Array(2 * 4) });
 * ```
 */
export function convModel(shape: Window2d, layer: Omit<ConvLayer, keyof ConvGeometry>): Uint8Array {
  return chainModel(shape, [{ kind: "conv", ...shape, ...layer }]);
}

/**
 * A model of layers applied in order to input `"x"`, producing output `"y"` (both NCHW).
 * The input type is the first conv's (u8 for `qlinear_conv`, f32 for `conv`). Where the
 * element type changes between layers a `DequantizeLinear` (with the previous layer's output
 * scale) or a `QuantizeLinear` (with the next layer's input scale) is inserted; `relu` keeps
 * the type. Throws `shape_mismatch` when a layer's `inC` differs from the tensor it reads.
 *
 * @example
 * ```ts
 * import { chainModel } from "./model_writer.ts";
 * const geometry = { kernelH: 3, kernelW: 3, strideH: 1, strideW: 1,
 *   padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 };
 * const model = chainModel({ batch: 1, inH: 16, inW: 16, inC: 3 }, [
 *   { kind: "conv", ...geometry, inC: 3, outC: 8, weights: new Float32Array(8 * 3 * 9) },
 *   { kind: "relu" },
 *   { kind: "qlinear_conv", ...geometry, inC: 8, outC: 8, weights: new Int8Array(8 * 8 * 9),
 *     weightScales: new Float32Array(8).fill(0.01), xScale: 0.02, xZeroPoint: 0,
 *     yScale: 0.05, yZeroPoint: 0 },
 * ]);
 * ```
 */
export function chainModel(input: ModelInput, layers: readonly ChainLayer[]): Uint8Array {
  const first = layers.find((layer) => layer.kind !== "relu");
  if (!first) throw new OnnxError("invalid_argument", "chainModel needs at least one conv layer");
  const graph = new GraphBuilder();
  let type: ElementType = first.kind === "qlinear_conv" ? "uint8" : "float32";
  let quant = { scale: 1, zeroPoint: 0 };
  let dims = { ...input };
  let tensor = graph.input("x", type, [input.batch, input.inC, input.inH, input.inW]);
  for (const [index, layer] of layers.entries()) {
    const options = index === layers.length - 1 ? { output: "y" } : {};
    if (layer.kind === "relu") {
      tensor = graph.relu(tensor, options);
      continue;
    }
    if (layer.kind === "qlinear_conv") {
      if (type === "float32") tensor = graph.quantize(tensor, layer.xScale, layer.xZeroPoint);
      dims = convOutput(dims, layer);
      tensor = graph.qlinearConv(tensor, layer, options);
      type = "uint8";
      quant = { scale: layer.yScale, zeroPoint: layer.yZeroPoint };
    } else {
      if (type === "uint8") tensor = graph.dequantize(tensor, quant.scale, quant.zeroPoint);
      dims = convOutput(dims, layer);
      tensor = graph.conv(tensor, layer, options);
      type = "float32";
    }
  }
  graph.output(tensor, type, [dims.batch, dims.inC, dims.inH, dims.inW]);
  return graph.encode();
}
