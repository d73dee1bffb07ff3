/**
 * Models generated in memory for tests (no binary fixtures are committed): a seeded random
 * source, packed random weights, a small graph that uses every op, and a raw writer that
 * skips validation so tests can build files the loader must refuse.
 *
 * @module
 */

import { packIndices } from "./codebook_indices.ts";
import type { Graph, OpNode } from "./graph.ts";
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, modelChecksum } from "./model_file.ts";
import { type DType, type DTypeArrays, serializeSafetensors, type Tensor } from "./safetensors.ts";
import { packedBits, randomInt, seededRandom } from "./random_params.ts";

// The seeded parameters live with the model builder, which is not test code.
export { packedBits, randomInt, seededRandom };

/** A U8 tensor of tau-bit indices packed as `codebook_conv2d` stores them. */
function packedIndexTensor(indices: readonly number[], tau: number): Tensor<"U8"> {
  const data = packIndices(indices, tau);
  return { dtype: "U8", shape: [data.length], data };
}

function filled<D extends DType>(
  dtype: D,
  shape: number[],
  value: (index: number) => number | bigint,
): Tensor<D> {
  const length = shape.reduce((a, b) => a * b, 1);
  const arrays: { [K in DType]: new (length: number) => DTypeArrays[K] } = {
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
  const data = new arrays[dtype](length);
  for (let index = 0; index < length; index++) {
    (data as unknown as (number | bigint)[])[index] = value(index);
  }
  return { dtype, shape, data };
}

/** A fixture: a graph and the tensors it needs. */
export interface Fixture {
  /** The graph. */
  graph: Graph;
  /** Every tensor the graph names, and no other. */
  tensors: Map<string, Tensor>;
}

/**
 * A small model that uses every op type once or more: an int8 stem, binarize, binary max
 * pool, BiNeal branches joined both ways, a codebook conv, classification, segmentation and
 * super-resolution style heads. Weights are random (from `seed`) but valid.
 */
export function everyOpModel(seed = 1): Fixture {
  const random = seededRandom(seed);
  const tensors = new Map<string, Tensor>();
  const ops: OpNode[] = [];
  const add = (name: string, tensor: Tensor) => {
    tensors.set(name, tensor);
    return name;
  };
  const int = (min: number, max: number) => () => randomInt(random, min, max);
  const real = () => Math.fround(random() * 2 - 1);
  const bits = (shape: number[], channels: number) =>
    add(`w${tensors.size}`, {
      dtype: "U64",
      shape,
      data: packedBits(random, shape.slice(0, -1).reduce((a, b) => a * b, 1), channels),
    });
  const perChannel = (prefix: string, channels: number) => ({
    mul: add(`${prefix}.mul`, filled("F32", [channels], real)),
    bias: add(`${prefix}.bias`, filled("F32", [channels], real)),
  });
  const thresholds = (prefix: string, channels: number) => ({
    thresholds: add(`${prefix}.t`, filled("I32", [channels], int(-20, 20))),
    flips: add(`${prefix}.f`, filled("I32", [channels], int(0, 1))),
  });
  const window = (k: number, s: number, p: number) => ({
    kernel: [k, k] as [number, number],
    stride: [s, s] as [number, number],
    pads: [p, p, p, p] as [number, number, number, number],
  });

  ops.push({
    op: "qconv2d",
    name: "stem",
    inputs: ["image"],
    outputs: ["stem"],
    attrs: {
      ...window(3, 1, 1),
      out_channels: 16,
      output: "u8",
      x_zero_point: 0,
      y_zero_point: 128,
    },
    params: {
      weights: add("stem.w", filled("I8", [16, 3, 3, 3], int(-128, 127))),
      bias: add("stem.b", filled("I32", [16], int(-1000, 1000))),
      scale: add("stem.s", filled("F32", [16], () => Math.fround(0.001 + random() / 100))),
    },
  });
  ops.push({
    op: "binarize",
    name: "bin",
    inputs: ["stem"],
    outputs: ["x0"],
    attrs: {},
    params: { thresholds: add("bin.t", filled("I32", [16], int(100, 150))) },
  });
  ops.push({
    op: "maxpool",
    name: "pool",
    inputs: ["x0"],
    outputs: ["x1"],
    attrs: window(2, 2, 0),
    params: {},
  });
  // BiNeal block: a 1x1 binary shortcut and a 3x3 branch, both to INT4, joined and binarized;
  // once with the standalone join and once fused into the conv (65 channels: a tail word).
  ops.push({
    op: "bconv2d",
    name: "short",
    inputs: ["x1"],
    outputs: ["r"],
    attrs: {
      ...window(1, 1, 0),
      pad_value: "plus_one",
      out_channels: 65,
      transform: "int8",
      qmin: -8,
      qmax: 7,
    },
    params: { weights: bits([65, 1, 1, 1], 16), ...perChannel("short", 65) },
  });
  ops.push({
    op: "bconv2d",
    name: "branch",
    inputs: ["x1"],
    outputs: ["a"],
    attrs: {
      ...window(3, 1, 1),
      pad_value: "zero",
      out_channels: 65,
      transform: "int8",
      qmin: -8,
      qmax: 7,
    },
    params: { weights: bits([65, 3, 3, 1], 16), ...perChannel("branch", 65) },
  });
  ops.push({
    op: "bineal_join",
    name: "join1",
    inputs: ["a", "r"],
    outputs: ["j1"],
    attrs: { qmin: -8, qmax: 7 },
    params: thresholds("join1", 65),
  });
  ops.push({
    op: "bconv2d",
    name: "join2",
    inputs: ["j1", "r"],
    outputs: ["j2"],
    attrs: {
      ...window(3, 1, 1),
      pad_value: "minus_one",
      out_channels: 65,
      transform: "join",
      qmin: -8,
      qmax: 7,
    },
    params: {
      weights: bits([65, 3, 3, 2], 65),
      ...perChannel("join2", 65),
      ...thresholds("join2", 65),
    },
  });
  ops.push({
    op: "codebook_conv2d",
    name: "cb",
    inputs: ["j2"],
    outputs: ["c"],
    attrs: {
      ...window(3, 1, 1),
      pad_value: "plus_one",
      out_channels: 32,
      transform: "binary",
      tau: 4,
    },
    params: {
      codebook: add("cb.codebook", filled("U16", [16], (index) => (index * 37 + 5) % 512)),
      indices: add("cb.indices", packedIndexTensor(Array.from({ length: 32 * 65 }, int(0, 15)), 4)),
      thresholds: add("cb.t", filled("I32", [32], int(-30, 30))),
    },
  });
  // Classification head: pool to 1x1, binary dense, softmax.
  ops.push({
    op: "maxpool",
    name: "gpool",
    inputs: ["c"],
    outputs: ["c1"],
    attrs: window(4, 1, 0),
    params: {},
  });
  ops.push({
    op: "bdense",
    name: "fc",
    inputs: ["c1"],
    outputs: ["logits"],
    attrs: { out_channels: 10, transform: "float" },
    params: { weights: bits([10, 1], 32), ...perChannel("fc", 10) },
  });
  ops.push({
    op: "softmax",
    name: "prob",
    inputs: ["logits"],
    outputs: ["probs"],
    attrs: {},
    params: {},
  });
  // Scores head: global average, quantize, int8 1x1 conv, sigmoid.
  ops.push({
    op: "global_avgpool",
    name: "gap",
    inputs: ["c"],
    outputs: ["g"],
    attrs: {},
    params: {},
  });
  ops.push({
    op: "quantize",
    name: "q",
    inputs: ["g"],
    outputs: ["gq"],
    attrs: { dtype: "u8", scale: 0.0078125, zero_point: 128 },
    params: {},
  });
  ops.push({
    op: "qconv2d",
    name: "head",
    inputs: ["gq"],
    outputs: ["s"],
    attrs: { ...window(1, 1, 0), out_channels: 5, output: "f32", x_zero_point: 128 },
    params: {
      weights: add("head.w", filled("I8", [5, 1, 1, 32], int(-128, 127))),
      scale: add("head.s", filled("F32", [5], () => 0.01)),
    },
  });
  ops.push({
    op: "sigmoid",
    name: "sig",
    inputs: ["s"],
    outputs: ["scores"],
    attrs: {},
    params: {},
  });
  // Segmentation head: upsample, concat with the stem bits, 1x1 float conv, bilinear, argmax.
  ops.push({
    op: "upsample_nearest",
    name: "up",
    inputs: ["c"],
    outputs: ["cu"],
    attrs: { scale: [2, 2] },
    params: {},
  });
  ops.push({
    op: "concat",
    name: "cat",
    inputs: ["cu", "x0"],
    outputs: ["m"],
    attrs: {},
    params: {},
  });
  ops.push({
    op: "bconv2d",
    name: "seg",
    inputs: ["m"],
    outputs: ["seg"],
    attrs: { ...window(1, 1, 0), pad_value: "plus_one", out_channels: 4, transform: "float" },
    params: { weights: bits([4, 1, 1, 1], 48), ...perChannel("seg", 4) },
  });
  ops.push({
    op: "upsample_bilinear",
    name: "segup",
    inputs: ["seg"],
    outputs: ["segup"],
    attrs: { scale: [2, 2], align_corners: false },
    params: {},
  });
  ops.push({
    op: "argmax",
    name: "mask",
    inputs: ["segup"],
    outputs: ["mask"],
    attrs: {},
    params: {},
  });
  ops.push({
    op: "avgpool",
    name: "smooth",
    inputs: ["segup"],
    outputs: ["smooth"],
    attrs: { ...window(3, 2, 1), count_include_pad: false },
    params: {},
  });
  // Super-resolution head: int32 conv to 12 channels, depth to space by 2.
  ops.push({
    op: "bconv2d",
    name: "sr",
    inputs: ["m"],
    outputs: ["sr"],
    attrs: { ...window(3, 1, 1), pad_value: "plus_one", out_channels: 12, transform: "int32" },
    params: { weights: bits([12, 3, 3, 1], 48) },
  });
  ops.push({
    op: "depth_to_space",
    name: "d2s",
    inputs: ["sr"],
    outputs: ["hr"],
    attrs: { block: 2, mode: "dcr" },
    params: {},
  });
  const graph: Graph = {
    inputs: [{ name: "image", dtype: "u8", shape: [1, 8, 8, 3] }],
    outputs: ["probs", "scores", "mask", "smooth", "hr"],
    ops,
  };
  return { graph, tensors };
}

/**
 * A model file from any graph value and tensors, with a correct checksum but no validation,
 * for tests of what the loader refuses. `metadata` entries replace the generated ones.
 */
export function rawModelBytes(
  graph: unknown,
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const base: Record<string, string> = {
    format: MODEL_FORMAT,
    format_version: MODEL_FORMAT_VERSION,
    graph: typeof graph === "string" ? graph : JSON.stringify(graph),
    name: "fixture",
    task: "test",
    producer: "test_fixtures.ts",
  };
  const merged = { ...base, ...metadata };
  if (!Object.hasOwn(metadata, "checksum")) merged.checksum = modelChecksum(tensors, merged);
  return serializeSafetensors(tensors, { metadata: merged });
}
