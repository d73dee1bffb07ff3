/**
 * Binds each op of a graph, once at model-instance creation, to a {@linkcode Step}: a closure
 * over the op's arena views, packed weights, laid-out transform parameters and prebuilt
 * `Window2d` buffers that runs the op with one FFI call (kernel ops) or one tight TypeScript
 * loop (`ops/*.ts`), allocating nothing. Also the op's static work counts for the profile.
 *
 * Where each op runs:
 *
 * | op | runs in |
 * |---|---|
 * | `binarize` | `ob_bitpack` |
 * | `bconv2d`, `bdense` | `ob_bconv2d`, `ob_bdense` (every transform, join with its residual) |
 * | `codebook_conv2d` | `ob_bconv2d` on weights expanded at load, or `ob_codebook_conv2d` (gather, 3x3 only) |
 * | `qconv2d` | `ob_qconv2d_u8` / `_i32` / `_f32` |
 * | `maxpool` | `ob_maxpool2d_bits` for bits, TypeScript for the other dtypes |
 * | `avgpool` | `ob_avgpool2d_f32` for f32 without `count_include_pad`, else TypeScript |
 * | `global_avgpool` | `ob_global_avgpool_f32` for f32, else TypeScript |
 * | `quantize` | `ob_quantize_f32` (TypeScript when the scale is 0 or infinite as f32) |
 * | `upsample_bilinear` | `ob_upsample_bilinear_f32` |
 * | `sigmoid` | `ob_sigmoid_f32` |
 * | `argmax` | `ob_argmax_f32` for f32, else TypeScript |
 * | the rest | TypeScript (`ops/<name>.ts`) |
 *
 * The qconv and pool kernels are called through the library's symbols with a `Window2d`
 * buffer built here once, rather than through the `qconv.ts` / `pool.ts` helpers, which build
 * a new shape buffer on every call.
 *
 * @module
 */

import { BinaryConv2d, BinaryDense, type OutputTransform } from "../kernels/bconv.ts";
import { bitpack } from "../kernels/bitpack.ts";
import { argmaxF32, quantizeF32, sigmoidF32, upsampleBilinearF32 } from "../kernels/elementwise.ts";
import { CodebookConv2d, expandCodebook as expandCodebookKernel } from "../kernels/codebook.ts";
import type { KernelContext } from "../kernels/library.ts";
import { packQconvWeights, qconv2d, qconv2dFloat, qconv2dInt32 } from "../kernels/qconv.ts";
import { avgPool2d, maxPool2dBits } from "../kernels/pool.ts";
import { type Window2d, windowParams } from "../kernels/shape.ts";
import {
  type Activation,
  type OpNode,
  type OpNodeOf,
  type Shape4,
  type TransformAttrs,
  type WindowAttrs,
} from "./graph.ts";
import { argmax } from "./ops/argmax.ts";
import { avgPool, avgPoolBits, globalAvgPool, globalAvgPoolBits } from "./ops/avgpool.ts";
import { binealJoin } from "./ops/bineal_join.ts";
import { expandCodebook } from "./ops/codebook_expand.ts";
import { unpackIndices } from "./codebook_indices.ts";
import { concatBits, concatBytes } from "./ops/concat.ts";
import { depthToSpace, depthToSpaceBits } from "./ops/depth_to_space.ts";
import { maxPool, type MaxPoolArray } from "./ops/maxpool.ts";
import { quantize } from "./ops/quantize.ts";
import { softmax } from "./ops/softmax.ts";
import { upsampleNearest } from "./ops/upsample.ts";
import { windowGeometry } from "./ops/window.ts";
import type { Tensor } from "./safetensors.ts";

/** The typed array of each activation dtype: bits are packed u64 words. */
export type ActivationArray = BigUint64Array | Uint8Array | Int8Array | Int32Array | Float32Array;

/** How a codebook conv runs: expanded weights + `ob_bconv2d`, the gather kernel, or measured. */
export type CodebookMode = "expand" | "gather" | "auto";

/** An activation's place in the arena and its views. */
export interface ActivationSlot {
  /** Activation name. */
  readonly name: string;
  /** Dtype and shape. */
  readonly activation: Activation;
  /** Byte offset in the arena (64-byte aligned). */
  readonly offset: number;
  /** Bytes of the activation. */
  readonly bytes: number;
  /** The dtype's view: BigUint64Array (bits), Uint8Array, Int8Array, Int32Array, Float32Array. */
  readonly view: ActivationArray;
  /** For bits: the same words as u32 halves (little-endian, low half first). */
  readonly halves: Uint32Array | null;
  /** The same bytes as raw elements of the dtype's width, for exact copies. */
  readonly raw: Uint8Array | Uint32Array;
}

/**
 * Static work of one run of an op. Binary convs and dense layers count their ±1
 * multiply-accumulates as bit-ops (`pixels x O x kh x kw x C`), plus 2 flops per output for
 * the affine transforms (float, int8, join; join adds 3 int ops: add, clamp, compare) or 1
 * int op per output for the threshold and int32 transforms. `qconv2d` counts 2 int ops per
 * MAC and 1 flop per requantized or dequantized output. Pools count one op per tap visited
 * (the binary max pool as bit-ops), the other ops a small fixed number per element, flops
 * for f32 data and int ops otherwise; copies (concat, upsample_nearest, depth_to_space) count
 * none. Bytes read are the inputs and the parameter tensors; bytes written the output.
 */
export interface OpCounts {
  /** ±1 multiply-accumulates of binary ops (and bit ANDs of the binary max pool). */
  readonly bitOps: number;
  /** Integer operations (int8 MACs count 2). */
  readonly intOps: number;
  /** Floating-point operations. */
  readonly flops: number;
  /** Bytes of activations and parameters read. */
  readonly bytesRead: number;
  /** Bytes of the output written. */
  readonly bytesWritten: number;
}

/** An op bound to its buffers: `run` executes it once. */
export interface Step {
  /** The op. */
  readonly op: OpNode;
  /** What runs it: the kernel symbol, or `"ts"` for TypeScript. */
  readonly kernel: string;
  /** Static work per run. */
  readonly counts: OpCounts;
  /** Runs the op; allocates nothing. */
  readonly run: () => void;
}

/** What {@linkcode bindOp} decided for a codebook conv, and why. */
export interface CodebookChoice {
  /** Op name. */
  readonly op: string;
  /** The path that runs. */
  readonly path: "expand" | "gather";
  /**
   * Why: `forced` (the mode asked for it), `measured` (auto: the faster of both),
   * `gather_unavailable` (the gather kernel needs a 3x3 kernel).
   */
  readonly reason: "forced" | "measured" | "gather_unavailable";
  /** Best time of the expand path in ms, when measured. */
  readonly expandMs?: number;
  /** Best time of the gather path in ms, when measured. */
  readonly gatherMs?: number;
}

/** Everything {@linkcode bindOp} needs. */
export interface BindContext {
  /** The kernel context every kernel op runs on. */
  readonly ctx: KernelContext;
  /** The model's parameter tensors. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** Every activation's slot. */
  readonly slots: ReadonlyMap<string, ActivationSlot>;
  /** The whole arena as bytes (copies within it allocate nothing). */
  readonly arena: Uint8Array;
  /** Codebook conv path. */
  readonly codebook: CodebookMode;
  /** Receives the decision of every codebook conv. */
  readonly choices: CodebookChoice[];
}

function slotOf(bind: BindContext, name: string): ActivationSlot {
  const slot = bind.slots.get(name);
  if (slot === undefined) throw new Error(`executor: activation '${name}' has no slot`);
  return slot;
}

function param<T extends Tensor["data"]>(
  bind: BindContext,
  op: OpNode,
  role: string,
): T | undefined {
  const name = op.params[role];
  if (name === undefined) return undefined;
  const tensor = bind.tensors.get(name);
  if (tensor === undefined) throw new Error(`executor: op '${op.name}' names missing '${name}'`);
  return tensor.data as T;
}

function required<T extends Tensor["data"]>(bind: BindContext, op: OpNode, role: string): T {
  const data = param<T>(bind, op, role);
  if (data === undefined) throw new Error(`executor: op '${op.name}' has no param '${role}'`);
  return data;
}

function paramBytes(bind: BindContext, op: OpNode): number {
  let bytes = 0;
  for (const name of Object.values(op.params)) {
    bytes += bind.tensors.get(name)?.data.byteLength ?? 0;
  }
  return bytes;
}

function pixelsOf(shape: Shape4): number {
  return shape[0] * shape[1] * shape[2];
}

function elementsOf(shape: Shape4): number {
  return pixelsOf(shape) * shape[3];
}

/** The kernel `Window2d` of a window op over `input` with `outC` output channels. */
export function window2d(input: Shape4, attrs: WindowAttrs, outC: number): Window2d {
  const [batch, inH, inW, inC] = input;
  return {
    batch,
    inH,
    inW,
    inC,
    outC,
    kernelH: attrs.kernel[0],
    kernelW: attrs.kernel[1],
    strideH: attrs.stride[0],
    strideW: attrs.stride[1],
    padTop: attrs.pads[0],
    padBottom: attrs.pads[1],
    padLeft: attrs.pads[2],
    padRight: attrs.pads[3],
  };
}

/** The output transform of a binary op from its attributes and params. */
function outputTransform(bind: BindContext, op: OpNode, attrs: TransformAttrs): OutputTransform {
  const i32 = (role: string) => required<Int32Array>(bind, op, role);
  const f32 = (role: string) => required<Float32Array>(bind, op, role);
  const flips = param<Int32Array>(bind, op, "flips");
  switch (attrs.transform) {
    case "binary":
      return { kind: "binary", thresholds: i32("thresholds"), flips };
    case "int32":
      return { kind: "int32" };
    case "float":
      return { kind: "float", mul: f32("mul"), bias: f32("bias") };
    case "int8":
      return {
        kind: "int8",
        mul: f32("mul"),
        bias: f32("bias"),
        qmin: attrs.qmin,
        qmax: attrs.qmax,
      };
    case "join":
      return {
        kind: "join",
        mul: f32("mul"),
        bias: f32("bias"),
        thresholds: i32("thresholds"),
        flips,
        qmin: attrs.qmin,
        qmax: attrs.qmax,
      };
  }
}

/** Counts of a binary op: `macs` ±1 MACs, `outputs` transformed values. */
function binaryCounts(
  bind: BindContext,
  op: OpNode,
  macs: number,
  outputs: number,
  transform: TransformAttrs["transform"],
): OpCounts {
  const affine = transform === "float" || transform === "int8" || transform === "join";
  return {
    bitOps: macs,
    intOps: affine ? (transform === "join" ? 3 * outputs : 0) : outputs,
    flops: affine ? 2 * outputs : 0,
    bytesRead: readBytes(bind, op),
    bytesWritten: slotOf(bind, op.outputs[0]).bytes,
  };
}

function readBytes(bind: BindContext, op: OpNode): number {
  let bytes = paramBytes(bind, op);
  for (const input of op.inputs) bytes += slotOf(bind, input).bytes;
  return bytes;
}

/** Counts of an op doing `ops` element operations, as flops for f32 data, else int ops. */
function elementCounts(bind: BindContext, op: OpNode, ops: number, float: boolean): OpCounts {
  return {
    bitOps: 0,
    intOps: float ? 0 : ops,
    flops: float ? ops : 0,
    bytesRead: readBytes(bind, op),
    bytesWritten: slotOf(bind, op.outputs[0]).bytes,
  };
}

function bconv2dStep(bind: BindContext, op: OpNodeOf<"bconv2d">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const residual = op.inputs.length > 1 ? slotOf(bind, op.inputs[1]).view as Int8Array : undefined;
  const shape = window2d(input.activation.shape, op.attrs, op.attrs.out_channels);
  const conv = new BinaryConv2d(bind.ctx, {
    shape,
    pad: op.attrs.pad_value,
    transform: outputTransform(bind, op, op.attrs),
  }, required<BigUint64Array>(bind, op, "weights"));
  const inputWords = input.view as BigUint64Array;
  const out = output.view;
  const macs = pixelsOf(output.activation.shape) * shape.outC * shape.kernelH * shape.kernelW *
    shape.inC;
  return {
    op,
    kernel: "ob_bconv2d",
    counts: binaryCounts(bind, op, macs, elementsOf(output.activation.shape), op.attrs.transform),
    run: () => conv.run(inputWords, out, residual),
  };
}

function bdenseStep(bind: BindContext, op: OpNodeOf<"bdense">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const residual = op.inputs.length > 1 ? slotOf(bind, op.inputs[1]).view as Int8Array : undefined;
  const [batch, , , inFeatures] = input.activation.shape;
  const outFeatures = op.attrs.out_channels;
  const dense = new BinaryDense(
    bind.ctx,
    { inFeatures, outFeatures, transform: outputTransform(bind, op, op.attrs) },
    required<BigUint64Array>(bind, op, "weights"),
  );
  const inputWords = input.view as BigUint64Array;
  const out = output.view;
  return {
    op,
    kernel: "ob_bdense",
    counts: binaryCounts(
      bind,
      op,
      batch * outFeatures * inFeatures,
      batch * outFeatures,
      op.attrs.transform,
    ),
    run: () => dense.run(batch, inputWords, out, residual),
  };
}

/** Best of a few timed runs of `run` in ms, after one warm-up (bounded: at most 4 calls). */
function bestTimeMs(run: () => void): number {
  run();
  let best = Infinity;
  for (let attempt = 0; attempt < 3; attempt++) {
    const start = performance.now();
    run();
    const elapsed = performance.now() - start;
    best = Math.min(best, elapsed);
    if (elapsed > 50) break; // a slow layer: one measurement is enough
  }
  return best;
}

function codebookStep(bind: BindContext, op: OpNodeOf<"codebook_conv2d">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const residual = op.inputs.length > 1 ? slotOf(bind, op.inputs[1]).view as Int8Array : undefined;
  const shape = window2d(input.activation.shape, op.attrs, op.attrs.out_channels);
  const spec = {
    shape,
    pad: op.attrs.pad_value,
    transform: outputTransform(bind, op, op.attrs),
  };
  const layer = {
    tau: op.attrs.tau,
    outC: shape.outC,
    inC: shape.inC,
    codebook: required<Uint16Array>(bind, op, "codebook"),
    // Stored packed at tau bits per index (graph.ts); the kernel library takes one u8 each.
    indices: unpackIndices(
      required<Uint8Array>(bind, op, "indices"),
      shape.outC * shape.inC,
      op.attrs.tau,
    ),
  };
  const inputWords = input.view as BigUint64Array;
  const out = output.view;
  const gatherable = shape.kernelH === 3 && shape.kernelW === 3;
  const expanded = () => {
    const weights = gatherable
      ? expandCodebookKernel(bind.ctx, layer)
      : expandCodebook(layer.codebook, layer.indices, shape);
    const conv = new BinaryConv2d(bind.ctx, spec, weights);
    return () => conv.run(inputWords, out, residual);
  };
  const gathered = () => {
    const conv = new CodebookConv2d(bind.ctx, spec, layer);
    return () => conv.run(inputWords, out, residual);
  };
  let run: () => void;
  let choice: CodebookChoice;
  if (!gatherable) {
    run = expanded();
    choice = {
      op: op.name,
      path: "expand",
      reason: bind.codebook === "expand" ? "forced" : "gather_unavailable",
    };
  } else if (bind.codebook !== "auto") {
    run = bind.codebook === "expand" ? expanded() : gathered();
    choice = { op: op.name, path: bind.codebook, reason: "forced" };
  } else {
    // Time both on the layer's real shape, in the arena (nothing is live at load time, and
    // the kernels' time does not depend on the data).
    const expand = expanded();
    const gather = gathered();
    const expandMs = bestTimeMs(expand);
    const gatherMs = bestTimeMs(gather);
    const path = gatherMs < expandMs ? "gather" : "expand";
    run = path === "gather" ? gather : expand;
    choice = { op: op.name, path, reason: "measured", expandMs, gatherMs };
  }
  bind.choices.push(Object.freeze(choice));
  const macs = pixelsOf(output.activation.shape) * shape.outC * shape.kernelH * shape.kernelW *
    shape.inC;
  return {
    op,
    kernel: choice.path === "gather" ? "ob_codebook_conv2d" : "ob_bconv2d",
    counts: binaryCounts(bind, op, macs, elementsOf(output.activation.shape), op.attrs.transform),
    run,
  };
}

function qconv2dStep(bind: BindContext, op: OpNodeOf<"qconv2d">): Step {
  const { ctx } = bind;
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const shape = window2d(input.activation.shape, op.attrs, op.attrs.out_channels);
  const params = windowParams(shape);
  const packed = packQconvWeights(ctx, shape, required<Int8Array>(bind, op, "weights"));
  const bias = param<Int32Array>(bind, op, "bias");
  const x = input.view as Uint8Array;
  const macs = pixelsOf(output.activation.shape) * shape.outC * shape.kernelH * shape.kernelW *
    shape.inC;
  const outputs = elementsOf(output.activation.shape);
  const counts: OpCounts = {
    bitOps: 0,
    intOps: 2 * macs,
    flops: op.attrs.output === "i32" ? 0 : outputs,
    bytesRead: readBytes(bind, op),
    bytesWritten: output.bytes,
  };
  const kernel = `ob_qconv2d_${op.attrs.output}`;
  // Built once, like `params`: a run passes the same objects to the kernel wrapper.
  const inputs = {
    input: x,
    packedWeights: packed,
    bias,
    xZeroPoint: op.attrs.x_zero_point,
    label: `qconv2d '${op.name}'`,
  };
  let run: () => void;
  switch (op.attrs.output) {
    case "u8": {
      const args = Object.freeze({
        ...inputs,
        scale: required<Float32Array>(bind, op, "scale"),
        yZeroPoint: op.attrs.y_zero_point ?? 0,
        output: output.view as Uint8Array,
      });
      run = () => qconv2d(ctx, params, args);
      break;
    }
    case "i32": {
      const args = Object.freeze({ ...inputs, output: output.view as Int32Array });
      run = () => qconv2dInt32(ctx, params, args);
      break;
    }
    case "f32": {
      const args = Object.freeze({
        ...inputs,
        scale: required<Float32Array>(bind, op, "scale"),
        output: output.view as Float32Array,
      });
      run = () => qconv2dFloat(ctx, params, args);
      break;
    }
  }
  return { op, kernel, counts, run };
}

function binarizeStep(bind: BindContext, op: OpNodeOf<"binarize">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const values = input.view as Float32Array | Int8Array | Uint8Array;
  const words = output.view as BigUint64Array;
  const thresholds = param<Float32Array | Int32Array>(bind, op, "thresholds");
  const sizes = Object.freeze({
    pixels: pixelsOf(input.activation.shape),
    channels: input.activation.shape[3],
  });
  const { ctx } = bind;
  return {
    op,
    kernel: "ob_bitpack",
    counts: elementCounts(
      bind,
      op,
      elementsOf(input.activation.shape),
      input.activation.dtype === "f32",
    ),
    run: () => bitpack(ctx, values, sizes, words, thresholds),
  };
}

function quantizeStep(bind: BindContext, op: OpNodeOf<"quantize">): Step {
  const input = slotOf(bind, op.inputs[0]).view as Float32Array;
  const output = slotOf(bind, op.outputs[0]).view as Uint8Array | Int8Array;
  const params = Object.freeze({ scale: op.attrs.scale, zeroPoint: op.attrs.zero_point });
  const counts = elementCounts(bind, op, 2 * input.length, true);
  const scale = Math.fround(params.scale);
  if (scale > 0 && Number.isFinite(scale)) {
    const { ctx } = bind;
    return {
      op,
      kernel: "ob_quantize_f32",
      counts,
      run: () => quantizeF32(ctx, input, output, params),
    };
  }
  // A scale that is 0 or infinite as f32 (the kernel refuses it) keeps the TypeScript loop.
  return { op, kernel: "ts", counts, run: () => quantize(input, output, params) };
}

function maxpoolStep(bind: BindContext, op: OpNodeOf<"maxpool">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const { shape, dtype } = input.activation;
  const taps = op.attrs.kernel[0] * op.attrs.kernel[1];
  const visits = elementsOf(output.activation.shape) * taps;
  if (dtype === "bits") {
    const { ctx } = bind;
    const params = windowParams(window2d(shape, op.attrs, shape[3]));
    const x = input.view as BigUint64Array;
    const y = output.view as BigUint64Array;
    const options = Object.freeze({ label: `maxpool '${op.name}'` });
    return {
      op,
      kernel: "ob_maxpool2d_bits",
      counts: { ...elementCounts(bind, op, 0, false), bitOps: visits },
      run: () => maxPool2dBits(ctx, params, x, y, options),
    };
  }
  const geometry = windowGeometry(shape, op.attrs);
  const x = input.view as MaxPoolArray;
  const y = output.view as MaxPoolArray;
  return {
    op,
    kernel: "ts",
    counts: elementCounts(bind, op, visits, dtype === "f32"),
    run: () => maxPool(x, y, geometry),
  };
}

function avgpoolStep(bind: BindContext, op: OpNodeOf<"avgpool">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const { shape, dtype } = input.activation;
  const y = output.view as Float32Array;
  const taps = op.attrs.kernel[0] * op.attrs.kernel[1];
  const counts = elementCounts(bind, op, elementsOf(output.activation.shape) * (taps + 1), true);
  if (dtype === "f32" && !op.attrs.count_include_pad) {
    const { ctx } = bind;
    const params = windowParams(window2d(shape, op.attrs, shape[3]));
    const x = input.view as Float32Array;
    const options = Object.freeze({ label: `avgpool '${op.name}'` });
    return {
      op,
      kernel: "ob_avgpool2d_f32",
      counts,
      run: () => avgPool2d(ctx, params, x, y, options),
    };
  }
  const geometry = windowGeometry(shape, op.attrs);
  const options = Object.freeze({
    countIncludePad: op.attrs.count_include_pad,
    scratch: new Float64Array(shape[3]),
  });
  if (dtype === "bits") {
    const halves = input.halves as Uint32Array;
    return { op, kernel: "ts", counts, run: () => avgPoolBits(halves, y, geometry, options) };
  }
  const x = input.view as Uint8Array | Int8Array | Int32Array | Float32Array;
  return { op, kernel: "ts", counts, run: () => avgPool(x, y, geometry, options) };
}

function globalAvgpoolStep(bind: BindContext, op: OpNodeOf<"global_avgpool">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const [batch, height, width, channels] = input.activation.shape;
  const y = output.view as Float32Array;
  const counts = elementCounts(bind, op, elementsOf(input.activation.shape) + y.length, true);
  if (input.activation.dtype === "f32") {
    const { ctx } = bind;
    const x = input.view as Float32Array;
    const what = `global_avgpool '${op.name}'`;
    return {
      op,
      kernel: "ob_global_avgpool_f32",
      counts,
      run: () =>
        ctx.check(
          ctx.lib.symbols.ob_global_avgpool_f32(
            ctx.handle,
            batch,
            height,
            width,
            channels,
            x,
            x.length,
            y,
            y.length,
          ),
          what,
        ),
    };
  }
  const sizes = Object.freeze({ batch, pixels: height * width, channels });
  const scratch = new Float64Array(channels);
  if (input.activation.dtype === "bits") {
    const halves = input.halves as Uint32Array;
    return { op, kernel: "ts", counts, run: () => globalAvgPoolBits(halves, y, sizes, scratch) };
  }
  const x = input.view as Uint8Array | Int8Array | Int32Array;
  return { op, kernel: "ts", counts, run: () => globalAvgPool(x, y, sizes, scratch) };
}

function upsampleNearestStep(bind: BindContext, op: OpNodeOf<"upsample_nearest">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const [batch, inH, inW, channels] = input.activation.shape;
  const [scaleH, scaleW] = op.attrs.scale;
  const sizes = Object.freeze({ batch, inH, inW, channels, scaleH, scaleW });
  const layout = Object.freeze({
    inOffset: input.offset,
    outOffset: output.offset,
    pixelBytes: input.bytes / pixelsOf(input.activation.shape),
  });
  const { arena } = bind;
  return {
    op,
    kernel: "ts",
    counts: elementCounts(bind, op, 0, false),
    run: () => upsampleNearest(arena, layout, sizes),
  };
}

function upsampleBilinearStep(bind: BindContext, op: OpNodeOf<"upsample_bilinear">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const [batch, inH, inW, channels] = input.activation.shape;
  const [scaleH, scaleW] = op.attrs.scale;
  const sizes = Object.freeze({ batch, inH, inW, channels, scaleH, scaleW });
  const alignCorners = op.attrs.align_corners;
  const x = input.view as Float32Array;
  const y = output.view as Float32Array;
  const { ctx } = bind;
  return {
    op,
    kernel: "ob_upsample_bilinear_f32",
    counts: elementCounts(bind, op, 9 * y.length, true),
    run: () => upsampleBilinearF32(ctx, sizes, alignCorners, x, y),
  };
}

function concatStep(bind: BindContext, op: OpNodeOf<"concat">): Step {
  const inputs = op.inputs.map((name) => slotOf(bind, name));
  const output = slotOf(bind, op.outputs[0]);
  const pixels = pixelsOf(output.activation.shape);
  const counts = elementCounts(bind, op, 0, false);
  if (output.activation.dtype === "bits") {
    const halves = inputs.map((slot) => slot.halves as Uint32Array);
    const channels = Int32Array.from(inputs, (slot) => slot.activation.shape[3]);
    const out = output.halves as Uint32Array;
    return { op, kernel: "ts", counts, run: () => concatBits(halves, channels, out, pixels) };
  }
  const layout = Object.freeze({
    inputOffsets: Float64Array.from(inputs, (slot) => slot.offset),
    inputBytes: Float64Array.from(inputs, (slot) => slot.bytes / pixels),
    outOffset: output.offset,
  });
  const { arena } = bind;
  return { op, kernel: "ts", counts, run: () => concatBytes(arena, layout, pixels) };
}

function depthToSpaceStep(bind: BindContext, op: OpNodeOf<"depth_to_space">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const output = slotOf(bind, op.outputs[0]);
  const [batch, inH, inW, inC] = input.activation.shape;
  const sizes = Object.freeze({ batch, inH, inW, inC, block: op.attrs.block, mode: op.attrs.mode });
  const counts = elementCounts(bind, op, 0, false);
  if (input.activation.dtype === "bits") {
    const x = input.halves as Uint32Array;
    const y = output.halves as Uint32Array;
    return { op, kernel: "ts", counts, run: () => depthToSpaceBits(x, y, sizes) };
  }
  const x = input.raw;
  const y = output.raw;
  return { op, kernel: "ts", counts, run: () => depthToSpace(x, y, sizes) };
}

function softmaxStep(bind: BindContext, op: OpNodeOf<"softmax">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const x = input.view as Float32Array;
  const y = slotOf(bind, op.outputs[0]).view as Float32Array;
  const channels = input.activation.shape[3];
  const sizes = Object.freeze({ pixels: pixelsOf(input.activation.shape), channels });
  const scratch = new Float64Array(channels);
  return {
    op,
    kernel: "ts",
    counts: elementCounts(bind, op, 5 * x.length, true),
    run: () => softmax(x, y, sizes, scratch),
  };
}

function sigmoidStep(bind: BindContext, op: OpNodeOf<"sigmoid">): Step {
  const x = slotOf(bind, op.inputs[0]).view as Float32Array;
  const y = slotOf(bind, op.outputs[0]).view as Float32Array;
  const { ctx } = bind;
  return {
    op,
    kernel: "ob_sigmoid_f32",
    counts: elementCounts(bind, op, 4 * x.length, true),
    run: () => sigmoidF32(ctx, x, y),
  };
}

function argmaxStep(bind: BindContext, op: OpNodeOf<"argmax">): Step {
  const input = slotOf(bind, op.inputs[0]);
  const x = input.view as Float32Array | Int32Array | Uint8Array | Int8Array;
  const y = slotOf(bind, op.outputs[0]).view as Int32Array;
  const sizes = Object.freeze({
    pixels: pixelsOf(input.activation.shape),
    channels: input.activation.shape[3],
  });
  const counts = elementCounts(bind, op, x.length, input.activation.dtype === "f32");
  if (x instanceof Float32Array) {
    const { ctx } = bind;
    return { op, kernel: "ob_argmax_f32", counts, run: () => argmaxF32(ctx, sizes, x, y) };
  }
  return { op, kernel: "ts", counts, run: () => argmax(x, y, sizes) };
}

function binealJoinStep(bind: BindContext, op: OpNodeOf<"bineal_join">): Step {
  const a = slotOf(bind, op.inputs[0]);
  const b = slotOf(bind, op.inputs[1]).view as Int8Array;
  const y = slotOf(bind, op.outputs[0]).halves as Uint32Array;
  const params = Object.freeze({
    pixels: pixelsOf(a.activation.shape),
    channels: a.activation.shape[3],
    qmin: op.attrs.qmin,
    qmax: op.attrs.qmax,
    thresholds: required<Int32Array>(bind, op, "thresholds"),
    flips: param<Int32Array>(bind, op, "flips"),
  });
  const x = a.view as Int8Array;
  return {
    op,
    kernel: "ts",
    counts: elementCounts(bind, op, 4 * x.length, false),
    run: () => binealJoin(x, b, y, params),
  };
}

/**
 * Binds one op of a validated graph to its buffers (see the module doc for where each op
 * runs). Packs weights and lays out parameters now; a codebook conv in `auto` mode also
 * times both of its paths here and records the choice in `bind.choices`. Throws a
 * `KernelError` when a kernel refuses the op's parameters.
 */
export function bindOp(op: OpNode, bind: BindContext): Step {
  switch (op.op) {
    case "binarize":
      return binarizeStep(bind, op);
    case "quantize":
      return quantizeStep(bind, op);
    case "bconv2d":
      return bconv2dStep(bind, op);
    case "codebook_conv2d":
      return codebookStep(bind, op);
    case "bdense":
      return bdenseStep(bind, op);
    case "qconv2d":
      return qconv2dStep(bind, op);
    case "maxpool":
      return maxpoolStep(bind, op);
    case "avgpool":
      return avgpoolStep(bind, op);
    case "global_avgpool":
      return globalAvgpoolStep(bind, op);
    case "upsample_nearest":
      return upsampleNearestStep(bind, op);
    case "upsample_bilinear":
      return upsampleBilinearStep(bind, op);
    case "concat":
      return concatStep(bind, op);
    case "depth_to_space":
      return depthToSpaceStep(bind, op);
    case "softmax":
      return softmaxStep(bind, op);
    case "sigmoid":
      return sigmoidStep(bind, op);
    case "argmax":
      return argmaxStep(bind, op);
    case "bineal_join":
      return binealJoinStep(bind, op);
  }
}
