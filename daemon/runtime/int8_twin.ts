/**
 * The ONNX twins of a onebit model: the same architecture written as an ONNX model that ONNX
 * Runtime runs, for side-by-side speed and size comparisons (DESIGN.md section 8).
 *
 * - **int8 twin** ({@linkcode int8Twin}): every conv — binary (`bconv2d`, `codebook_conv2d`,
 *   `bdense`) or 8-bit (`qconv2d`) — is a `QLinearConv` with u8 activations and s8 weights
 *   with per-channel scales (ONNX Runtime's fast int8 path); `bits`, `u8` and `i8`
 *   activations are u8 tensors, one byte per value. The BiNeal join (the `join` transform,
 *   `bineal_join`) is `DequantizeLinear` x2 → `Add` → `QuantizeLinear`, which ONNX Runtime
 *   fuses into its quantized add. Pools, upsampling, concat and depth-to-space run on the u8
 *   tensor where ONNX Runtime's CPU provider supports it (`MaxPool`, `Resize`, `Concat`,
 *   `DepthToSpace`, `ArgMax`), otherwise on fp32 after a `DequantizeLinear`
 *   (`AveragePool`, `GlobalAveragePool`, `Softmax`, `Sigmoid`). Conversions between u8 and
 *   fp32 are inserted only where an op needs the other form, once per tensor.
 * - **fp32 twin** ({@linkcode fp32Twin}): every conv is an fp32 `Conv`; convs whose onebit
 *   output is `bits` are followed by `Relu` (the real-valued network's activation, which
 *   ONNX Runtime fuses into the conv), joins are `Add` + `Relu`, `binarize` and `quantize`
 *   vanish.
 *
 * Weights come from the model itself: binary weights and expanded codebooks as ±1 (bit 1 =
 * -1), `qconv2d` weights as stored; a zoo model's random weights therefore give the twin the
 * same random weights. Quantization parameters are chosen so that values stay in range for
 * random inputs: a binary conv's weight scales fold a batch norm that maps the expected
 * spread of its accumulator to ±1, stored as u8 with scale 1/40 around 128 (so scales do not
 * grow from layer to layer); a `qconv2d` with u8 output keeps exactly its requantization
 * multiplier, one with f32 output its real scale. The twin is
 * for speed and size, not a bit-exact replica: pad values are ONNX's zeros, thresholds are
 * not applied, and binary activations become bytes.
 *
 * Layout: ONNX convs are NCHW. With `layout: "nhwc"` (default) the twin's inputs and outputs
 * have onebit's NHWC shapes and names (a `Transpose` at each boundary), so the same input
 * buffer feeds both; `"nchw"` leaves the transposes to the caller. Input element types
 * follow the onebit dtypes: `u8` and `bits` (unpacked: one byte per channel) are `uint8`,
 * `i8` is `int8`, `i32` is `int32`, `f32` is `float32`. Outputs: an `argmax` is `int32`;
 * otherwise the int8 twin returns `uint8` for `bits`/`u8`/`i8` and `float32` for `f32` and
 * `i32` (accumulators), the fp32 twin `float32`.
 *
 * @example
 * ```ts ignore
 * import { int8Twin } from "./int8_twin.ts";
 * import { loadModel } from "./model_file.ts";
 * import { buildBinealResNet18 } from "./zoo.ts";
 * import { createSession } from "../onnx/ort.ts";
 * const twin = int8Twin(loadModel(buildBinealResNet18({ inputSize: 64 }).bytes));
 * const session = await createSession(twin.bytes, { threads: 1 });
 * const image = new Uint8Array(64 * 64 * 3);
 * const { logits } = await session.run({ image: { type: "uint8", data: image, dims: [1, 64, 64, 3] } });
 * console.log(logits.dims); // [1, 1, 1, 1000]
 * await session.dispose();
 * ```
 *
 * @module
 */

import { unpackIndices } from "./codebook_indices.ts";
import type { Activation, ActivationDType, OpNode, WindowAttrs } from "./graph.ts";
import type { Model } from "./model_file.ts";
import type { Tensor } from "./safetensors.ts";
import {
  type ConvGeometry,
  type ElementType,
  GraphBuilder as OnnxGraphBuilder,
} from "../onnx/model_writer.ts";
import { OnnxError } from "../onnx/errors.ts";
import type { TensorValue } from "../onnx/ort.ts";

/** Precision of a twin. */
export type TwinPrecision = "int8" | "fp32";

/** Options of {@linkcode int8Twin} and {@linkcode fp32Twin}. */
export interface TwinOptions {
  /** Layout of the twin's inputs and outputs (see the module doc). Default `"nhwc"`. */
  layout?: "nhwc" | "nchw";
}

/** An input or output of a twin. */
export interface TwinTensor {
  /** Name (the onebit activation's name). */
  name: string;
  /** ONNX Runtime element type. */
  type: ElementType;
  /** Dimensions in the twin's layout. */
  dims: number[];
}

/** An ONNX twin: its bytes and its interface. */
export interface OnnxTwin {
  /** Precision of the convs. */
  precision: TwinPrecision;
  /** Layout of inputs and outputs. */
  layout: "nhwc" | "nchw";
  /** The ModelProto, serialized. */
  bytes: Uint8Array;
  /** Graph inputs, in the onebit model's order. */
  inputs: TwinTensor[];
  /** Graph outputs, in the onebit model's order. */
  outputs: TwinTensor[];
}

/** What a twin needs of a model (a loaded {@linkcode Model} has it). */
export type TwinnableModel = Pick<Model, "graph" | "tensors" | "activations">;

interface Quant {
  scale: number;
  zeroPoint: number;
}

/** One onebit activation in the twin: the ONNX tensors holding it, by form. */
interface Value {
  /** NCHW dims. */
  dims: [number, number, number, number];
  u8?: { name: string; quant: Quant };
  f32?: string;
  i32?: string;
}

/** Quantization of u8 tensors whose spread nothing tells (inputs, quantized floats). */
const DEFAULT_QUANT: Quant = { scale: 1 / 32, zeroPoint: 128 };
/** ONNX TensorProto data types used by `Cast`. */
const ONNX_FLOAT = 1;
const ONNX_INT32 = 6;

function nchw(activation: Activation): [number, number, number, number] {
  const [n, h, w, c] = activation.shape;
  return [n, c, h, w];
}

function elementType(dtype: ActivationDType): ElementType {
  switch (dtype) {
    case "bits":
    case "u8":
      return "uint8";
    case "i8":
      return "int8";
    case "i32":
      return "int32";
    case "f32":
      return "float32";
  }
}

/**
 * ±1 weights of a binary conv or dense op as s8 OIHW `[O][C][kh][kw]` (bit 1 = -1), from
 * packed words or from a codebook and its indices.
 */
export function binaryWeightsOihw(
  op: OpNode,
  tensors: ReadonlyMap<string, Tensor>,
  inC: number,
): Int8Array {
  const [kh, kw] = op.op === "bdense" ? [1, 1] : (op.attrs as WindowAttrs).kernel;
  const outC = (op.attrs as { out_channels: number }).out_channels;
  const result = new Int8Array(outC * inC * kh * kw);
  if (op.op === "codebook_conv2d") {
    const codebook = tensors.get(op.params.codebook)!.data as Uint16Array;
    const indices = unpackIndices(
      tensors.get(op.params.indices)!.data as Uint8Array,
      outC * inC,
      op.attrs.tau,
    );
    for (let o = 0; o < outC; o++) {
      for (let c = 0; c < inC; c++) {
        const codeword = codebook[indices[o * inC + c]];
        const base = (o * inC + c) * kh * kw;
        for (let tap = 0; tap < kh * kw; tap++) result[base + tap] = (codeword >> tap) & 1 ? -1 : 1;
      }
    }
    return result;
  }
  const packed = tensors.get(op.params.weights)!.data as BigUint64Array;
  const halves = new Uint32Array(packed.buffer, packed.byteOffset, packed.length * 2);
  const words = Math.ceil(inC / 64);
  for (let o = 0; o < outC; o++) {
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const row = ((o * kh + y) * kw + x) * words * 2;
        for (let c = 0; c < inC; c++) {
          const bit = (halves[row + (c >> 5)] >>> (c & 31)) & 1;
          result[((o * inC + c) * kh + y) * kw + x] = bit ? -1 : 1;
        }
      }
    }
  }
  return result;
}

/** `qconv2d` weights I8 OHWI → OIHW. */
function qconvWeightsOihw(weights: Int8Array, outC: number, kh: number, kw: number, inC: number) {
  const result = new Int8Array(weights.length);
  for (let o = 0; o < outC; o++) {
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let c = 0; c < inC; c++) {
          result[((o * inC + c) * kh + y) * kw + x] = weights[((o * kh + y) * kw + x) * inC + c];
        }
      }
    }
  }
  return result;
}

function rms(values: Int8Array): number {
  let sum = 0;
  for (const value of values) sum += value * value;
  return Math.sqrt(sum / Math.max(1, values.length)) || 1;
}

/** A scale that ONNX accepts: finite and > 0. */
function positive(value: number): number {
  const magnitude = Math.abs(value);
  return Number.isFinite(magnitude) && magnitude > 1e-30 ? magnitude : 1e-30;
}

/** Writes one twin. */
class TwinWriter {
  readonly g = new OnnxGraphBuilder("onebit_twin");
  readonly values = new Map<string, Value>();
  readonly model: TwinnableModel;
  readonly precision: TwinPrecision;

  constructor(model: TwinnableModel, precision: TwinPrecision) {
    this.model = model;
    this.precision = precision;
  }

  fresh(prefix: string): string {
    return this.g.fresh(`${prefix}:t`);
  }

  value(name: string): Value {
    return this.values.get(name)!;
  }

  asF32(value: Value, prefix: string): string {
    if (value.f32 !== undefined) return value.f32;
    if (value.u8 !== undefined) {
      value.f32 = this.g.dequantize(value.u8.name, value.u8.quant.scale, value.u8.quant.zeroPoint);
    } else {
      value.f32 = this.fresh(prefix);
      this.g.node("Cast", [value.i32!], [value.f32], { to: ONNX_FLOAT });
    }
    return value.f32;
  }

  asU8(value: Value, prefix: string): { name: string; quant: Quant } {
    if (value.u8 !== undefined) return value.u8;
    const f32 = this.asF32(value, prefix);
    value.u8 = {
      name: this.g.quantize(f32, DEFAULT_QUANT.scale, DEFAULT_QUANT.zeroPoint),
      quant: DEFAULT_QUANT,
    };
    return value.u8;
  }

  /** The form an op that works on any dtype should read: u8 when there is one (int8 twin). */
  natural(value: Value, prefix: string): { name: string; u8?: Quant } {
    if (this.precision === "int8" && value.u8 !== undefined) {
      return { name: value.u8.name, u8: value.u8.quant };
    }
    return { name: this.asF32(value, prefix) };
  }

  /** A value in the same form as `like` (u8 with its quant, or f32). */
  formed(dims: Value["dims"], name: string, u8?: Quant): Value {
    return u8 === undefined ? { dims, f32: name } : { dims, u8: { name, quant: u8 } };
  }

  input(name: string, activation: Activation, layout: "nhwc" | "nchw"): TwinTensor {
    const type = elementType(activation.dtype);
    const dims = nchw(activation);
    const [n, c, h, w] = dims;
    const declared = layout === "nhwc" ? [n, h, w, c] : [n, c, h, w];
    this.g.input(name, type, declared);
    let tensor = name;
    if (layout === "nhwc") {
      tensor = this.fresh(name);
      this.g.node("Transpose", [name], [tensor], { perm: [0, 3, 1, 2] });
    }
    const value: Value = { dims };
    if (type === "float32") value.f32 = tensor;
    else if (type === "int32") value.i32 = tensor;
    else if (type === "uint8" && this.precision === "int8") {
      value.u8 = { name: tensor, quant: DEFAULT_QUANT };
    } else if (type === "int8" && this.precision === "int8") {
      // i8 → f32 with an int8 zero point; the writer's helper only knows u8.
      const f32 = this.fresh(name);
      this.g.node("DequantizeLinear", [
        tensor,
        this.g.initializer(this.fresh(`${name}:scale`), "float32", [], Float32Array.of(1 / 16)),
        this.g.initializer(this.fresh(`${name}:zp`), "int8", [], Int8Array.of(0)),
      ], [f32]);
      value.f32 = f32;
    } else {
      value.f32 = this.fresh(name);
      this.g.node("Cast", [tensor], [value.f32], { to: ONNX_FLOAT });
    }
    this.values.set(name, value);
    return { name, type, dims: declared };
  }

  output(name: string, activation: Activation, layout: "nhwc" | "nchw"): TwinTensor {
    const value = this.value(name);
    let type: ElementType;
    let tensor: string;
    if (value.i32 !== undefined && activation.dtype === "i32") {
      type = "int32";
      tensor = value.i32;
    } else if (
      this.precision === "int8" && activation.dtype !== "f32" && activation.dtype !== "i32"
    ) {
      type = "uint8";
      tensor = this.asU8(value, name).name;
    } else {
      type = "float32";
      tensor = this.asF32(value, name);
    }
    const [n, c, h, w] = value.dims;
    if (layout === "nhwc") {
      this.g.node("Transpose", [tensor], [name], { perm: [0, 2, 3, 1] });
    } else {
      this.g.node("Identity", [tensor], [name]);
    }
    const dims = layout === "nhwc" ? [n, h, w, c] : [n, c, h, w];
    this.g.output(name, type, dims);
    return { name, type, dims };
  }

  geometry(op: OpNode, inC: number, outC: number): ConvGeometry {
    if (op.op === "bdense") {
      return {
        inC,
        outC,
        kernelH: 1,
        kernelW: 1,
        strideH: 1,
        strideW: 1,
        padTop: 0,
        padBottom: 0,
        padLeft: 0,
        padRight: 0,
      };
    }
    const { kernel, stride, pads } = op.attrs as WindowAttrs;
    return {
      inC,
      outC,
      kernelH: kernel[0],
      kernelW: kernel[1],
      strideH: stride[0],
      strideW: stride[1],
      padTop: pads[0],
      padBottom: pads[1],
      padLeft: pads[2],
      padRight: pads[3],
    };
  }

  /** Every conv: QLinearConv (int8) or Conv (fp32); returns the output value. */
  conv(op: OpNode): Value {
    const tensors = this.model.tensors;
    const input = this.model.activations.get(op.inputs[0])!;
    const output = this.model.activations.get(op.outputs[0])!;
    const inC = input.shape[3];
    const outC = output.shape[3];
    const geometry = this.geometry(op, inC, outC);
    const { kernelH: kh, kernelW: kw } = geometry;
    const taps = kh * kw * inC;
    const dims = nchw(output);
    const source = this.value(op.inputs[0]);
    let weights: Int8Array;
    let scales: Float32Array | undefined;
    let bias: Int32Array | undefined;
    if (op.op === "qconv2d") {
      const stored = tensors.get(op.params.weights)!.data as Int8Array;
      weights = qconvWeightsOihw(stored, outC, kh, kw, inC);
      if (op.params.scale !== undefined) {
        scales = tensors.get(op.params.scale)!.data as Float32Array;
      }
      if (op.params.bias !== undefined) bias = tensors.get(op.params.bias)!.data as Int32Array;
    } else {
      weights = binaryWeightsOihw(op, tensors, inC);
      if (op.params.mul !== undefined) scales = tensors.get(op.params.mul)!.data as Float32Array;
    }
    const prefix = op.name;
    const activated = (op.op !== "qconv2d") &&
      ((op.attrs as { transform: string }).transform === "binary" ||
        (op.attrs as { transform: string }).transform === "join");
    if (this.precision === "fp32") {
      const conv = this.g.conv(this.asF32(source, prefix), {
        ...geometry,
        weights: Float32Array.from(weights),
        ...(bias === undefined ? {} : { bias: Float32Array.from(bias) }),
      }, { output: this.fresh(prefix) });
      let result = conv;
      if (op.op !== "qconv2d" && (op.attrs as { transform: string }).transform === "join") {
        result = this.fresh(prefix);
        this.g.node("Add", [conv, this.asF32(this.value(op.inputs[1]), prefix)], [result]);
      }
      if (activated) result = this.g.relu(result, { output: this.fresh(prefix) });
      return { dims, f32: result };
    }
    const x = this.asU8(source, prefix);
    const xScale = x.quant.scale;
    let xZeroPoint = x.quant.zeroPoint;
    // Per-channel weight scales: the magnitude of the model's own multiplier where it has one.
    const multiplier = new Float32Array(outC);
    for (let o = 0; o < outC; o++) multiplier[o] = positive(scales?.[o] ?? 1);
    let weightScales: Float32Array;
    let yScale: number;
    let yZeroPoint = 128;
    if (op.op === "qconv2d") {
      xZeroPoint = op.attrs.x_zero_point;
      if (op.attrs.output === "u8") {
        // Keep the model's requantization multiplier exactly: x_scale * w_scale / y_scale.
        yScale = 1 / 64;
        yZeroPoint = op.attrs.y_zero_point ?? 128;
        weightScales = multiplier.map((m) => positive((m * yScale) / xScale));
      } else {
        // Real output = accumulator * scale (f32) or the accumulator itself (i32).
        weightScales = multiplier.map((m) =>
          positive((op.attrs.output === "f32" ? m : 1) / xScale)
        );
        yScale = this.spread(taps, weights, weightScales, xScale);
      }
    } else {
      // Batch norm folded into the weight scales: the real output spreads about ±1 (40
      // steps), so scales stay the same from layer to layer instead of growing with sqrt(K).
      const norm = 1 / (Math.sqrt(taps) * 40 * rms(weights) * xScale);
      weightScales = multiplier.map(() => positive(norm));
      yScale = 1 / 40;
    }
    const y = this.g.qlinearConv(x.name, {
      ...geometry,
      weights,
      weightScales,
      ...(bias === undefined ? {} : { bias }),
      xScale,
      xZeroPoint,
      yScale,
      yZeroPoint,
    }, { output: this.fresh(prefix) });
    const value: Value = { dims, u8: { name: y, quant: { scale: yScale, zeroPoint: yZeroPoint } } };
    if (op.op !== "qconv2d" && (op.attrs as { transform: string }).transform === "join") {
      return this.add(prefix, value, this.value(op.inputs[1]));
    }
    return value;
  }

  /** The u8 output scale of a conv: its expected spread over 40 steps (see the module doc). */
  spread(taps: number, weights: Int8Array, weightScales: Float32Array, xScale: number): number {
    let mean = 0;
    for (const scale of weightScales) mean += scale;
    mean /= weightScales.length;
    // Inputs ~40 steps from their zero point: the accumulator's spread in real units is
    // sqrt(taps) * 40 * x_scale * rms(w) * w_scale; 40 output steps cover it.
    return positive(Math.sqrt(taps) * xScale * rms(weights) * mean);
  }

  /** The BiNeal join of two values: an INT4-style saturating add, as QDQ Add. */
  add(prefix: string, a: Value, b: Value): Value {
    const sum = this.fresh(prefix);
    if (this.precision === "fp32") {
      this.g.node("Add", [this.asF32(a, prefix), this.asF32(b, prefix)], [sum]);
      return { dims: a.dims, f32: this.g.relu(sum, { output: this.fresh(prefix) }) };
    }
    const qa = this.asU8(a, prefix);
    const qb = this.asU8(b, prefix);
    const da = this.g.dequantize(qa.name, qa.quant.scale, qa.quant.zeroPoint);
    const db = this.g.dequantize(qb.name, qb.quant.scale, qb.quant.zeroPoint);
    this.g.node("Add", [da, db], [sum]);
    const quant = { scale: 2 * Math.max(qa.quant.scale, qb.quant.scale), zeroPoint: 128 };
    return {
      dims: a.dims,
      u8: { name: this.g.quantize(sum, quant.scale, quant.zeroPoint), quant },
    };
  }

  /** A node on the natural form of `source` that keeps that form; returns the output value. */
  keepForm(
    op: OpNode,
    type: string,
    attributes: Record<string, number | number[] | string>,
    extraInputs: string[] = [],
  ): Value {
    const form = this.natural(this.value(op.inputs[0]), op.name);
    const out = this.fresh(op.name);
    this.g.node(type, [form.name, ...extraInputs], [out], attributes);
    return this.formed(nchw(this.model.activations.get(op.outputs[0])!), out, form.u8);
  }

  /** A float node reading the f32 form of the input. */
  float(op: OpNode, type: string, attributes: Record<string, number | number[] | string> = {}) {
    const out = this.fresh(op.name);
    this.g.node(type, [this.asF32(this.value(op.inputs[0]), op.name)], [out], attributes);
    return { dims: nchw(this.model.activations.get(op.outputs[0])!), f32: out } as Value;
  }

  scales(prefix: string, sh: number, sw: number): string {
    return this.g.initializer(
      this.fresh(`${prefix}:scales`),
      "float32",
      [4],
      Float32Array.of(1, 1, sh, sw),
    );
  }

  lower(op: OpNode): Value {
    const source = this.value(op.inputs[0]);
    const dims = nchw(this.model.activations.get(op.outputs[0])!);
    const window = (attrs: WindowAttrs) => ({
      kernel_shape: [...attrs.kernel],
      strides: [...attrs.stride],
      pads: [attrs.pads[0], attrs.pads[2], attrs.pads[1], attrs.pads[3]],
    });
    switch (op.op) {
      case "bconv2d":
      case "codebook_conv2d":
      case "bdense":
      case "qconv2d":
        return this.conv(op);
      case "binarize":
        // The twin has no binary activations: the value passes through unchanged.
        return source;
      case "quantize": {
        const f32 = this.asF32(source, op.name);
        if (this.precision === "fp32") return { dims, f32 };
        const zeroPoint = op.attrs.dtype === "i8" ? op.attrs.zero_point + 128 : op.attrs.zero_point;
        const quant = { scale: op.attrs.scale, zeroPoint };
        return { dims, u8: { name: this.g.quantize(f32, quant.scale, zeroPoint), quant } };
      }
      case "maxpool":
        return this.keepForm(op, "MaxPool", window(op.attrs));
      case "avgpool":
        return this.float(op, "AveragePool", {
          ...window(op.attrs),
          count_include_pad: op.attrs.count_include_pad ? 1 : 0,
        });
      case "global_avgpool":
        return this.float(op, "GlobalAveragePool");
      case "upsample_nearest":
        return this.keepForm(
          op,
          "Resize",
          { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" },
          ["", this.scales(op.name, op.attrs.scale[0], op.attrs.scale[1])],
        );
      case "upsample_bilinear":
        return this.keepForm(
          op,
          "Resize",
          {
            mode: "linear",
            coordinate_transformation_mode: op.attrs.align_corners
              ? "align_corners"
              : "pytorch_half_pixel",
          },
          ["", this.scales(op.name, op.attrs.scale[0], op.attrs.scale[1])],
        );
      case "concat": {
        const values = op.inputs.map((name) => this.value(name));
        const out = this.fresh(op.name);
        if (this.precision === "int8" && values.every((value) => value.u8 !== undefined)) {
          // Concat moves bytes: the result keeps the first input's quantization.
          this.g.node("Concat", values.map((value) => value.u8!.name), [out], { axis: 1 });
          return { dims, u8: { name: out, quant: values[0].u8!.quant } };
        }
        this.g.node("Concat", values.map((value) => this.asF32(value, op.name)), [out], {
          axis: 1,
        });
        return { dims, f32: out };
      }
      case "depth_to_space":
        return this.keepForm(op, "DepthToSpace", {
          blocksize: op.attrs.block,
          mode: op.attrs.mode.toUpperCase(),
        });
      case "softmax":
        return this.float(op, "Softmax", { axis: 1 });
      case "sigmoid":
        return this.float(op, "Sigmoid");
      case "argmax": {
        const form = this.natural(source, op.name);
        const indices = this.fresh(op.name);
        const i32 = this.fresh(op.name);
        this.g.node("ArgMax", [form.name], [indices], { axis: 1, keepdims: 1 });
        this.g.node("Cast", [indices], [i32], { to: ONNX_INT32 });
        return { dims, i32 };
      }
      case "bineal_join":
        return this.add(op.name, source, this.value(op.inputs[1]));
    }
  }
}

function twin(model: TwinnableModel, precision: TwinPrecision, options: TwinOptions): OnnxTwin {
  const layout = options.layout ?? "nhwc";
  if (layout !== "nhwc" && layout !== "nchw") {
    throw new OnnxError("invalid_argument", `twin layout is '${layout}', expected nhwc or nchw`);
  }
  const writer = new TwinWriter(model, precision);
  const inputs = model.graph.inputs.map((input) =>
    writer.input(input.name, model.activations.get(input.name)!, layout)
  );
  for (const op of model.graph.ops) writer.values.set(op.outputs[0], writer.lower(op));
  const outputs = model.graph.outputs.map((name) =>
    writer.output(name, model.activations.get(name)!, layout)
  );
  return { precision, layout, bytes: writer.g.encode(), inputs, outputs };
}

/**
 * The int8 ONNX twin of a onebit model: every conv a `QLinearConv` (u8 activations, s8
 * weights, per-channel scales); see the module doc. Throws an `OnnxError` if the writer
 * refuses a value (e.g. a name clash with a generated name).
 *
 * @example
 * ```ts ignore
 * import { int8Twin } from "./int8_twin.ts";
 * import { readModel } from "./model_file.ts";
 * const twin = int8Twin(await readModel("resnet18.onebit"));
 * await Deno.writeFile("resnet18.int8.onnx", twin.bytes);
 * ```
 */
export function int8Twin(model: TwinnableModel, options: TwinOptions = {}): OnnxTwin {
  return twin(model, "int8", options);
}

/**
 * The fp32 ONNX twin of a onebit model: every conv an fp32 `Conv`; see the module doc.
 *
 * @example
 * ```ts ignore
 * import { fp32Twin } from "./int8_twin.ts";
 * import { readModel } from "./model_file.ts";
 * const twin = fp32Twin(await readModel("resnet18.onebit"));
 * await Deno.writeFile("resnet18.fp32.onnx", twin.bytes);
 * ```
 */
export function fp32Twin(model: TwinnableModel, options: TwinOptions = {}): OnnxTwin {
  return twin(model, "fp32", options);
}

/**
 * Random feeds for a twin's inputs (uniform over the element type; floats in [-1, 1)), from
 * `seed`, for tests and benchmarks.
 *
 * @example
 * ```ts ignore
 * import { int8Twin, twinFeeds } from "./int8_twin.ts";
 * const feeds = twinFeeds(int8Twin(model), 7);
 * const outputs = await session.run(feeds);
 * ```
 */
export function twinFeeds(
  twin: Pick<OnnxTwin, "inputs">,
  seed = 1,
): Record<string, TensorValue> {
  // xorshift32 (its state must not be 0): enough for test images.
  let state = (seed >>> 0) || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const feeds: Record<string, TensorValue> = {};
  for (const input of twin.inputs) {
    const length = input.dims.reduce((a, b) => a * b, 1);
    const dims = [...input.dims];
    switch (input.type) {
      case "uint8":
        feeds[input.name] = {
          type: "uint8",
          data: Uint8Array.from({ length }, () => Math.floor(next() * 256)),
          dims,
        };
        break;
      case "int8":
        feeds[input.name] = {
          type: "int8",
          data: Int8Array.from({ length }, () => Math.floor(next() * 256) - 128),
          dims,
        };
        break;
      case "int32":
        feeds[input.name] = {
          type: "int32",
          data: Int32Array.from({ length }, () => Math.floor(next() * 2000) - 1000),
          dims,
        };
        break;
      case "float32":
        feeds[input.name] = {
          type: "float32",
          data: Float32Array.from({ length }, () => next() * 2 - 1),
          dims,
        };
        break;
    }
  }
  return feeds;
}
