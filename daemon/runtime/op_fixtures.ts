/**
 * Small random graphs for executor tests: one graph per op type with random shapes,
 * attributes and valid random params (`opModel`), random inputs for any graph
 * (`randomInputs`), and random graphs for memory-plan tests (`randomChainModel`). Everything
 * is generated from a seed, so a failure names what to rerun.
 *
 * @module
 */

import type {
  ActivationDType,
  BinaryTransform,
  Graph,
  GraphInput,
  OpNode,
  OpType,
  PadValue,
  Shape4,
  WindowAttrs,
} from "./graph.ts";
import { packIndices } from "./codebook_indices.ts";
import type { DType, DTypeArrays, Tensor } from "./safetensors.ts";
import { type Fixture, packedBits, randomInt, seededRandom } from "./test_fixtures.ts";

type Random = () => number;

const CHANNELS = [1, 3, 8, 63, 64, 65, 130];

function pick<T>(random: Random, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)];
}

function tensorOf<D extends DType>(
  dtype: D,
  shape: number[],
  value: (index: number) => number,
): Tensor<D> {
  const length = shape.reduce((a, b) => a * b, 1);
  const types: Record<DType, new (length: number) => DTypeArrays[DType]> = {
    U8: Uint8Array,
    I8: Int8Array,
    U16: Uint16Array,
    I16: Int16Array,
    U32: Uint32Array,
    I32: Int32Array,
    U64: BigUint64Array,
    I64: BigInt64Array,
    F32: Float32Array,
    F64: Float64Array,
  };
  const data = new types[dtype](length) as DTypeArrays[D];
  for (let index = 0; index < length; index++) {
    (data as unknown as number[])[index] = value(index);
  }
  return { dtype, shape, data };
}

/** Builds one graph: inputs, params and ops added by name. */
class Builder {
  readonly random: Random;
  readonly inputs: GraphInput[] = [];
  readonly ops: OpNode[] = [];
  readonly tensors = new Map<string, Tensor>();

  constructor(random: Random) {
    this.random = random;
  }

  int(min: number, max: number): number {
    return randomInt(this.random, min, max);
  }

  real(min: number, max: number): number {
    return Math.fround(min + this.random() * (max - min));
  }

  input(dtype: ActivationDType, shape: Shape4): string {
    const name = `in${this.inputs.length}`;
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  tensor(tensor: Tensor): string {
    const name = `t${this.tensors.size}`;
    this.tensors.set(name, tensor);
    return name;
  }

  bits(rows: number, words: number[], channels: number): string {
    return this.tensor({
      dtype: "U64",
      shape: words,
      data: packedBits(this.random, rows, channels),
    });
  }

  fixture(ops: OpNode[]): Fixture {
    const graph: Graph = {
      inputs: this.inputs,
      outputs: [ops[ops.length - 1].outputs[0]],
      ops,
    };
    return { graph, tensors: this.tensors };
  }
}

/** A random window (kernel 1..maxKernel, stride 1..2, pads below the kernel) over h x w. */
function randomWindow(b: Builder, h: number, w: number, maxKernel: number): WindowAttrs {
  const kh = b.int(1, Math.min(maxKernel, h + 2));
  const kw = b.int(1, Math.min(maxKernel, w + 2));
  let pads: [number, number, number, number] = [
    b.int(0, kh - 1),
    b.int(0, kh - 1),
    b.int(0, kw - 1),
    b.int(0, kw - 1),
  ];
  // The padded input must hold the kernel.
  if (h + pads[0] + pads[1] < kh || w + pads[2] + pads[3] < kw) {
    pads = [kh - 1, kh - 1, kw - 1, kw - 1];
  }
  return { kernel: [kh, kw], stride: [b.int(1, 2), b.int(1, 2)], pads };
}

function windowOut(shape: Shape4, window: WindowAttrs): [number, number] {
  const [, h, w] = shape;
  const [kh, kw] = window.kernel;
  const [sh, sw] = window.stride;
  const [t, bo, l, r] = window.pads;
  return [Math.floor((h + t + bo - kh) / sh) + 1, Math.floor((w + l + r - kw) / sw) + 1];
}

function randomShape(b: Builder, channels?: number): Shape4 {
  return [b.int(1, 2), b.int(1, 6), b.int(1, 6), channels ?? pick(b.random, CHANNELS)];
}

/** Transform attrs and params of a binary op with `outC` outputs. */
function transformOf(
  b: Builder,
  outC: number,
  transform: BinaryTransform,
  accRange: number,
): { attrs: Record<string, unknown>; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const attrs: Record<string, unknown> = { out_channels: outC, transform };
  const thresholds = () => {
    params.thresholds = b.tensor(tensorOf("I32", [outC], () => b.int(-accRange, accRange)));
    if (b.random() < 0.7) {
      params.flips = b.tensor(tensorOf("I32", [outC], () => b.int(0, 1)));
    }
  };
  const affine = (scale: number) => {
    params.mul = b.tensor(tensorOf("F32", [outC], () => b.real(-scale, scale)));
    params.bias = b.tensor(tensorOf("F32", [outC], () => b.real(-3, 3)));
  };
  switch (transform) {
    case "binary":
      thresholds();
      break;
    case "int32":
      break;
    case "float":
      affine(1);
      break;
    case "int8":
      attrs.qmin = b.int(-128, 0);
      attrs.qmax = b.int(attrs.qmin as number, 127);
      affine(128 / Math.max(accRange, 1));
      break;
    case "join":
      attrs.qmin = -8;
      attrs.qmax = 7;
      affine(8 / Math.max(accRange, 1));
      params.thresholds = b.tensor(tensorOf("I32", [outC], () => b.int(-8, 8)));
      if (b.random() < 0.7) params.flips = b.tensor(tensorOf("I32", [outC], () => b.int(0, 1)));
      break;
  }
  return { attrs, params };
}

const TRANSFORMS: readonly BinaryTransform[] = ["binary", "int32", "float", "int8", "join"];
const PADS: readonly PadValue[] = ["plus_one", "minus_one", "zero"];
const ANY: readonly ActivationDType[] = ["bits", "u8", "i8", "i32", "f32"];

function node(
  op: OpType,
  inputs: string[],
  attrs: Record<string, unknown> = {},
  params: Record<string, string> = {},
): OpNode {
  return { op, name: op, inputs, outputs: ["out"], attrs, params } as unknown as OpNode;
}

function binaryConv(b: Builder, codebook: boolean): OpNode {
  const shape = randomShape(b);
  let window: WindowAttrs;
  if (codebook && b.random() < 0.7) {
    // The gather kernel's shape: 3x3, any stride and pads.
    let pads: [number, number, number, number] = [
      b.int(0, 2),
      b.int(0, 2),
      b.int(0, 2),
      b.int(0, 2),
    ];
    if (shape[1] + pads[0] + pads[1] < 3 || shape[2] + pads[2] + pads[3] < 3) pads = [2, 2, 2, 2];
    window = { kernel: [3, 3], stride: [b.int(1, 2), b.int(1, 2)], pads };
  } else {
    window = randomWindow(b, shape[1], shape[2], codebook ? 4 : 5);
  }
  const x = b.input("bits", shape);
  const [kh, kw] = window.kernel;
  const [oh, ow] = windowOut(shape, window);
  const outC = pick(b.random, CHANNELS);
  const transform = pick(b.random, TRANSFORMS);
  const { attrs, params } = transformOf(b, outC, transform, kh * kw * shape[3]);
  const inputs = [x];
  if (transform === "join") inputs.push(b.input("i8", [shape[0], oh, ow, outC]));
  const all = { ...window, pad_value: pick(b.random, PADS), ...attrs };
  if (!codebook) {
    params.weights = b.bits(outC * kh * kw, [outC, kh, kw, Math.ceil(shape[3] / 64)], shape[3]);
    return node("bconv2d", inputs, all, params);
  }
  const tau = b.int(1, 6);
  const taps = kh * kw;
  params.codebook = b.tensor(tensorOf("U16", [2 ** tau], () => b.int(0, 2 ** taps - 1)));
  const indices = Array.from({ length: outC * shape[3] }, () => b.int(0, 2 ** tau - 1));
  const packed = packIndices(indices, tau);
  params.indices = b.tensor({ dtype: "U8", shape: [packed.length], data: packed });
  return node("codebook_conv2d", inputs, { ...all, tau }, params);
}

function randomModel(b: Builder, type: OpType): OpNode {
  const random = b.random;
  switch (type) {
    case "binarize": {
      const dtype = pick(random, ["f32", "u8", "i8"] as const);
      const shape = randomShape(b);
      const x = b.input(dtype, shape);
      const params: Record<string, string> = {};
      if (dtype === "f32" && random() < 0.6) {
        params.thresholds = b.tensor(tensorOf("F32", [shape[3]], () => b.real(-1, 1)));
      } else if (dtype === "u8") {
        params.thresholds = b.tensor(tensorOf("I32", [shape[3]], () => b.int(0, 256)));
      } else if (dtype === "i8" && random() < 0.6) {
        params.thresholds = b.tensor(tensorOf("I32", [shape[3]], () => b.int(-128, 128)));
      }
      return node("binarize", [x], {}, params);
    }
    case "quantize": {
      const dtype = pick(random, ["u8", "i8"] as const);
      const x = b.input("f32", randomShape(b));
      const zero = dtype === "u8" ? b.int(0, 255) : b.int(-128, 127);
      return node("quantize", [x], {
        dtype,
        scale: pick(random, [0.5, 0.03125, 0.07]),
        zero_point: zero,
      });
    }
    case "bconv2d":
      return binaryConv(b, false);
    case "codebook_conv2d":
      return binaryConv(b, true);
    case "bdense": {
      const shape: Shape4 = [b.int(1, 3), 1, 1, pick(random, CHANNELS)];
      const x = b.input("bits", shape);
      const outC = pick(random, CHANNELS);
      const transform = pick(random, TRANSFORMS);
      const { attrs, params } = transformOf(b, outC, transform, shape[3]);
      const inputs = [x];
      if (transform === "join") inputs.push(b.input("i8", [shape[0], 1, 1, outC]));
      params.weights = b.bits(outC, [outC, Math.ceil(shape[3] / 64)], shape[3]);
      return node("bdense", inputs, attrs, params);
    }
    case "qconv2d": {
      const shape = randomShape(b, pick(random, [1, 3, 4, 17, 64]));
      const x = b.input("u8", shape);
      const window = randomWindow(b, shape[1], shape[2], 5);
      const outC = pick(random, [1, 5, 16, 33]);
      const output = pick(random, ["u8", "i32", "f32"] as const);
      const [kh, kw] = window.kernel;
      const k = kh * kw * shape[3];
      const attrs: Record<string, unknown> = {
        ...window,
        out_channels: outC,
        output,
        x_zero_point: b.int(0, 255),
      };
      if (output === "u8") attrs.y_zero_point = b.int(0, 255);
      const params: Record<string, string> = {
        weights: b.tensor(tensorOf("I8", [outC, kh, kw, shape[3]], () => b.int(-128, 127))),
      };
      if (random() < 0.7) {
        params.bias = b.tensor(tensorOf("I32", [outC], () => b.int(-5000, 5000)));
      }
      if (output !== "i32") {
        params.scale = b.tensor(tensorOf("F32", [outC], () => b.real(0.1, 2) / (k * 64)));
      }
      return node("qconv2d", [x], attrs, params);
    }
    case "maxpool":
    case "avgpool": {
      const shape = randomShape(b);
      // f32 twice as often: it is the dtype the pool kernels take.
      const x = b.input(pick(random, [...ANY, "f32"] as const), shape);
      const window = randomWindow(b, shape[1], shape[2], 4);
      const attrs: Record<string, unknown> = { ...window };
      if (type === "avgpool") attrs.count_include_pad = random() < 0.5;
      return node(type, [x], attrs);
    }
    case "global_avgpool":
      return node(type, [b.input(pick(random, ANY), randomShape(b))]);
    case "upsample_nearest":
      return node(type, [b.input(pick(random, ANY), randomShape(b))], {
        scale: [b.int(1, 3), b.int(1, 3)],
      });
    case "upsample_bilinear":
      return node(type, [b.input("f32", randomShape(b))], {
        scale: [b.int(1, 3), b.int(1, 3)],
        align_corners: random() < 0.5,
      });
    case "concat": {
      const dtype = pick(random, ANY);
      const [n, h, w] = randomShape(b);
      const inputs = Array.from(
        { length: b.int(2, 4) },
        () => b.input(dtype, [n, h, w, pick(random, CHANNELS)]),
      );
      return node(type, inputs);
    }
    case "depth_to_space": {
      const block = b.int(1, 3);
      const shape = randomShape(b, block * block * pick(random, [1, 2, 3, 65]));
      return node(type, [b.input(pick(random, ANY), shape)], {
        block,
        mode: pick(random, ["dcr", "crd"] as const),
      });
    }
    case "softmax":
    case "sigmoid":
      return node(type, [b.input("f32", randomShape(b))]);
    case "argmax":
      return node(type, [
        b.input(pick(random, ["f32", "i32", "u8", "i8"] as const), randomShape(b)),
      ]);
    case "bineal_join": {
      const shape = randomShape(b);
      const qmin = b.int(-10, -6);
      const qmax = b.int(5, 9);
      const params: Record<string, string> = {
        thresholds: b.tensor(tensorOf("I32", [shape[3]], () => b.int(-9, 9))),
      };
      if (random() < 0.7) {
        params.flips = b.tensor(tensorOf("I32", [shape[3]], () => b.int(0, 1)));
      }
      return node(type, [b.input("i8", shape), b.input("i8", shape)], { qmin, qmax }, params);
    }
  }
}

/**
 * A graph of one `type` op with random shapes, attributes and params from `seed` (its
 * inputs are graph inputs, its output the graph output `out`).
 *
 * @example
 * ```ts
 * import { opModel } from "./op_fixtures.ts";
 * const { graph } = opModel("bconv2d", 7);
 * console.log(graph.ops[0].attrs);
 * ```
 */
export function opModel(type: OpType, seed: number): Fixture {
  const builder = new Builder(seededRandom(seed * 7919 + type.length));
  const op = randomModel(builder, type);
  return builder.fixture([op]);
}

/**
 * Random inputs for `inputs` from `seed`: bits with 0 tail bits, i8 half in the INT4 range
 * -8..7, f32 in -4..4 with some exact zeros, -0 and multiples of 1/64 (rounding ties).
 */
export function randomInputs(
  inputs: readonly GraphInput[],
  seed: number,
): Record<string, BigUint64Array | Uint8Array | Int8Array | Int32Array | Float32Array> {
  const random = seededRandom(seed);
  const result: Record<
    string,
    BigUint64Array | Uint8Array | Int8Array | Int32Array | Float32Array
  > = {};
  for (const input of inputs) {
    const [n, h, w, c] = input.shape;
    const pixels = n * h * w;
    const length = pixels * c;
    switch (input.dtype) {
      case "bits":
        result[input.name] = packedBits(random, pixels, c);
        break;
      case "u8":
        result[input.name] = Uint8Array.from({ length }, () => randomInt(random, 0, 255));
        break;
      case "i8":
        result[input.name] = Int8Array.from(
          { length },
          () => random() < 0.5 ? randomInt(random, -8, 7) : randomInt(random, -128, 127),
        );
        break;
      case "i32":
        result[input.name] = Int32Array.from({ length }, () => randomInt(random, -50, 50) * 9973);
        break;
      case "f32":
        result[input.name] = Float32Array.from({ length }, () => {
          const roll = random();
          if (roll < 0.05) return 0;
          if (roll < 0.1) return -0;
          // Multiples of 1/64: quantizing them by 2^-k or 0.5 hits exact ties.
          if (roll < 0.4) return Math.round(random() * 512 - 256) / 64;
          return Math.fround(random() * 8 - 4);
        });
        break;
    }
  }
  return result;
}

/**
 * A random f32 graph for memory-plan tests: `ops` elementwise and concat ops over random
 * earlier activations (so lifetimes interleave), several outputs. Valid by construction.
 */
export function randomChainModel(seed: number, ops: number): Fixture {
  const random = seededRandom(seed);
  const [n, h, w] = [1, randomInt(random, 1, 8), randomInt(random, 1, 8)];
  const live: { name: string; channels: number }[] = [];
  const inputs: GraphInput[] = [];
  const inputCount = randomInt(random, 1, 3);
  for (let i = 0; i < inputCount; i++) {
    const channels = randomInt(random, 1, 40);
    inputs.push({ name: `x${i}`, dtype: "f32", shape: [n, h, w, channels] });
    live.push({ name: `x${i}`, channels });
  }
  const nodes: OpNode[] = [];
  const used = new Set<string>();
  for (let index = 0; index < ops; index++) {
    const name = `a${index}`;
    const choice = random();
    // Prefer recent activations so some die early and others live long.
    const source = () => live[Math.max(0, live.length - 1 - randomInt(random, 0, 4))];
    if (choice < 0.3 && live.length >= 2) {
      const a = source();
      const b = live[randomInt(random, 0, live.length - 1)];
      nodes.push(node("concat", [a.name, b.name]));
      used.add(a.name).add(b.name);
      live.push({ name, channels: a.channels + b.channels });
    } else {
      const a = source();
      nodes.push(node(choice < 0.65 ? "sigmoid" : "softmax", [a.name]));
      used.add(a.name);
      live.push({ name, channels: a.channels });
    }
    const last = nodes[nodes.length - 1] as unknown as { name: string; outputs: string[] };
    last.name = `op${index}`;
    last.outputs = [name];
  }
  // Everything never read is an output (validation refuses unused activations); the last
  // activation always is.
  const outputs = live.map((a) => a.name).filter((a) => !used.has(a));
  return { graph: { inputs, outputs, ops: nodes }, tensors: new Map() };
}

/** Every op type that {@linkcode opModel} generates. */
export const OP_MODEL_TYPES: readonly OpType[] = [
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
];
