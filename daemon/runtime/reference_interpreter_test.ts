/**
 * The reference interpreter itself on hand-computed graphs, so the executor is checked
 * against something known to be right, not only against a second implementation.
 */

import assert from "node:assert/strict";
import { modelFromGraph } from "./executor.ts";
import type { Graph, OpNode } from "./graph.ts";
import { referenceRun } from "./reference_interpreter.ts";
import type { Tensor } from "./safetensors.ts";

function oneOp(
  inputs: Graph["inputs"],
  op: Omit<OpNode, "name" | "outputs">,
  tensors: Record<string, Tensor>,
) {
  const graph = {
    inputs,
    outputs: ["y"],
    ops: [{ ...op, name: "op", outputs: ["y"] } as OpNode],
  } as Graph;
  return modelFromGraph(graph, new Map(Object.entries(tensors)));
}

const window1x1 = { kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0] };

Deno.test("referenceRun computes ±1 dot products and each output transform", () => {
  // x = (-1, +1, -1); w0 = (+1, +1, +1) -> acc -1; w1 = (-1, +1, -1) -> acc 3.
  const weights: Tensor = { dtype: "U64", shape: [2, 1, 1, 1], data: BigUint64Array.of(0n, 5n) };
  const x = BigUint64Array.of(5n);
  const run = (transform: string, params: Record<string, Tensor>, extra = {}) =>
    referenceRun(
      oneOp([{ name: "x", dtype: "bits", shape: [1, 1, 1, 3] }], {
        op: "bconv2d",
        inputs: ["x"],
        attrs: {
          ...window1x1,
          pad_value: "plus_one",
          out_channels: 2,
          transform,
          ...extra,
        },
        params: Object.fromEntries(Object.keys({ weights, ...params }).map((k) => [k, k])),
      } as never, { weights, ...params }),
      { x },
    ).y;
  assert.deepEqual(run("int32", {}), Int32Array.of(-1, 3));
  const mul: Tensor = { dtype: "F32", shape: [2], data: Float32Array.of(0.5, 0.5) };
  const bias: Tensor = { dtype: "F32", shape: [2], data: Float32Array.of(0, 1) };
  assert.deepEqual(run("float", { mul, bias }), Float32Array.of(-0.5, 2.5));
  // int8: -0.5 -> -0 (ties to even), 2.5 -> 2.
  assert.deepEqual(
    run("int8", { mul, bias }, { qmin: -128, qmax: 127 }),
    Int8Array.of(0, 2),
  );
  // binary: -1 < 0 -> bit 1 (-1); channel 1 flipped: 3 > 3 is false -> +1.
  const thresholds: Tensor = { dtype: "I32", shape: [2], data: Int32Array.of(0, 3) };
  const flips: Tensor = { dtype: "I32", shape: [2], data: Int32Array.of(0, 1) };
  assert.deepEqual(run("binary", { thresholds, flips }), BigUint64Array.of(1n));
});

Deno.test("referenceRun reads padded taps as +1, -1 or 0", () => {
  // A 1x1 image of +1 under a 3x3 kernel of -1: the centre gives -1, 8 padded taps the rest.
  const weights: Tensor = {
    dtype: "U64",
    shape: [1, 3, 3, 1],
    data: new BigUint64Array(9).fill(1n),
  };
  const expected = { plus_one: -9, minus_one: 7, zero: -1 };
  for (const [pad, acc] of Object.entries(expected)) {
    const model = oneOp([{ name: "x", dtype: "bits", shape: [1, 1, 1, 1] }], {
      op: "bconv2d",
      inputs: ["x"],
      attrs: {
        kernel: [3, 3],
        stride: [1, 1],
        pads: [1, 1, 1, 1],
        pad_value: pad,
        out_channels: 1,
        transform: "int32",
      },
      params: { weights: "w" },
    } as never, { w: weights });
    assert.deepEqual(referenceRun(model, { x: BigUint64Array.of(0n) }).y, Int32Array.of(acc), pad);
  }
});

Deno.test("referenceRun requantizes qconv2d like QLinearConv", () => {
  // acc = bias + (x - zp) * w = 1 + (130 - 128) * 2 = 5; 5 * 0.5 = 2.5 -> 2, + y_zp 100.
  const model = oneOp([{ name: "x", dtype: "u8", shape: [1, 1, 1, 1] }], {
    op: "qconv2d",
    inputs: ["x"],
    attrs: { ...window1x1, out_channels: 1, output: "u8", x_zero_point: 128, y_zero_point: 100 },
    params: { weights: "w", bias: "b", scale: "s" },
  } as never, {
    w: { dtype: "I8", shape: [1, 1, 1, 1], data: Int8Array.of(2) },
    b: { dtype: "I32", shape: [1], data: Int32Array.of(1) },
    s: { dtype: "F32", shape: [1], data: Float32Array.of(0.5) },
  });
  assert.deepEqual(referenceRun(model, { x: Uint8Array.of(130) }).y, Uint8Array.of(102));
  assert.deepEqual(referenceRun(model, { x: Uint8Array.of(0) }).y, Uint8Array.of(0));
});

Deno.test("referenceRun reads codebook weights through the indices", () => {
  // 1x2 kernel, codebook [0b00, 0b10]: index 1 = (+1, -1). Input 1x1x2x1 = (+1, -1), no pad.
  const model = oneOp([{ name: "x", dtype: "bits", shape: [1, 1, 2, 1] }], {
    op: "codebook_conv2d",
    inputs: ["x"],
    attrs: {
      kernel: [1, 2],
      stride: [1, 1],
      pads: [0, 0, 0, 0],
      pad_value: "plus_one",
      out_channels: 2,
      transform: "int32",
      tau: 1,
    },
    params: { codebook: "cb", indices: "ix" },
  } as never, {
    cb: { dtype: "U16", shape: [2], data: Uint16Array.of(0, 2) },
    // Indices (0, 1) packed at 1 bit each: bit 0 = 0, bit 1 = 1.
    ix: { dtype: "U8", shape: [1], data: Uint8Array.of(0b10) },
  });
  assert.deepEqual(referenceRun(model, { x: BigUint64Array.of(0n, 1n) }).y, Int32Array.of(0, 2));
});
