import assert from "node:assert/strict";
import {
  chainModel,
  convModel,
  GraphBuilder,
  IR_VERSION,
  OPSET_VERSION,
  qlinearConvModel,
  readModel,
} from "./model_writer.ts";
import { OnnxError } from "./errors.ts";

const shape = {
  batch: 2,
  inH: 9,
  inW: 7,
  inC: 3,
  outC: 5,
  kernelH: 3,
  kernelW: 3,
  strideH: 2,
  strideW: 1,
  padTop: 1,
  padBottom: 0,
  padLeft: 2,
  padRight: 1,
};

function codeIs(code: string, fragment = "") {
  return (error: unknown) =>
    error instanceof OnnxError && error.code === code && error.message.includes(fragment);
}

Deno.test("qlinearConvModel writes one QLinearConv with ONNX pads order and per-channel scales", () => {
  const weights = new Int8Array(5 * 3 * 9).map((_, index) => (index % 255) - 127);
  const model = readModel(qlinearConvModel(shape, {
    weights,
    weightScales: Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5),
    bias: Int32Array.of(1, -2, 3, -4, 5),
    xScale: 0.05,
    xZeroPoint: 3,
    yScale: 0.25,
    yZeroPoint: 200,
  }));
  assert.equal(model.irVersion, IR_VERSION);
  assert.equal(model.opset, OPSET_VERSION);
  assert.deepEqual(model.nodes.map((node) => node.opType), ["QLinearConv"]);
  const node = model.nodes[0];
  assert.equal(node.inputs.length, 9);
  assert.equal(node.outputs[0], "y");
  assert.deepEqual(node.attributes, {
    kernel_shape: [3, 3],
    strides: [2, 1],
    pads: [1, 2, 0, 1],
    dilations: [1, 1],
    group: 1,
  });
  const initializers = new Map(model.initializers.map((tensor) => [tensor.name, tensor]));
  const w = initializers.get(node.inputs[3])!;
  assert.equal(w.type, "int8");
  assert.deepEqual(w.dims, [5, 3, 3, 3]);
  assert.deepEqual(new Int8Array(w.raw.buffer, w.raw.byteOffset, w.raw.length), weights);
  const wScale = initializers.get(node.inputs[4])!;
  assert.deepEqual([wScale.type, wScale.dims], ["float32", [5]]);
  const wZeroPoint = initializers.get(node.inputs[5])!;
  assert.deepEqual([wZeroPoint.type, Array.from(wZeroPoint.raw)], ["int8", [0, 0, 0, 0, 0]]);
  assert.deepEqual(Array.from(initializers.get(node.inputs[7])!.raw), [200]);
  assert.equal(initializers.get(node.inputs[8])!.type, "int32");
  assert.deepEqual(model.inputs, [{ name: "x", type: "uint8", dims: [2, 3, 9, 7] }]);
  // out_h = (9 + 1 + 0 - 3) / 2 + 1 = 4, out_w = (7 + 2 + 1 - 3) / 1 + 1 = 8
  assert.deepEqual(model.outputs, [{ name: "y", type: "uint8", dims: [2, 5, 4, 8] }]);
});

Deno.test("convModel leaves the bias out when none is given", () => {
  const model = readModel(convModel(shape, { weights: new Float32Array(5 * 3 * 9) }));
  assert.deepEqual(model.nodes.map((node) => node.opType), ["Conv"]);
  assert.equal(model.nodes[0].inputs.length, 2);
  assert.deepEqual(model.outputs, [{ name: "y", type: "float32", dims: [2, 5, 4, 8] }]);
});

Deno.test("chainModel converts between u8 and f32 where the layer kind changes", () => {
  const geometry = {
    kernelH: 1,
    kernelW: 1,
    strideH: 1,
    strideW: 1,
    padTop: 0,
    padBottom: 0,
    padLeft: 0,
    padRight: 0,
  };
  const q = {
    weightScales: new Float32Array(4).fill(0.01),
    xScale: 0.02,
    xZeroPoint: 0,
    yScale: 0.05,
    yZeroPoint: 0,
  };
  const model = readModel(chainModel({ batch: 1, inH: 4, inW: 4, inC: 2 }, [
    { kind: "conv", ...geometry, inC: 2, outC: 4, weights: new Float32Array(8) },
    { kind: "relu" },
    { kind: "qlinear_conv", ...geometry, ...q, inC: 4, outC: 4, weights: new Int8Array(16) },
    { kind: "conv", ...geometry, inC: 4, outC: 1, weights: new Float32Array(4) },
  ]));
  assert.deepEqual(model.nodes.map((node) => node.opType), [
    "Conv",
    "Relu",
    "QuantizeLinear",
    "QLinearConv",
    "DequantizeLinear",
    "Conv",
  ]);
  assert.deepEqual(model.inputs, [{ name: "x", type: "float32", dims: [1, 2, 4, 4] }]);
  assert.deepEqual(model.outputs, [{ name: "y", type: "float32", dims: [1, 1, 4, 4] }]);
  assert.equal(model.nodes.at(-1)!.outputs[0], "y");
});

Deno.test("chainModel refuses a layer whose input channels disagree with the tensor", () => {
  const geometry = {
    kernelH: 1,
    kernelW: 1,
    strideH: 1,
    strideW: 1,
    padTop: 0,
    padBottom: 0,
    padLeft: 0,
    padRight: 0,
  };
  assert.throws(
    () =>
      chainModel({ batch: 1, inH: 4, inW: 4, inC: 2 }, [
        { kind: "conv", ...geometry, inC: 3, outC: 4, weights: new Float32Array(12) },
      ]),
    codeIs("shape_mismatch", "expects 3 input channels, the tensor has 2"),
  );
  assert.throws(
    () => chainModel({ batch: 1, inH: 4, inW: 4, inC: 2 }, [{ kind: "relu" }]),
    codeIs("invalid_argument"),
  );
});

Deno.test("GraphBuilder refuses duplicate, unknown and mis-sized tensors", () => {
  const graph = new GraphBuilder();
  graph.input("x", "float32", [1, 4]);
  assert.throws(() => graph.input("x", "float32", [1, 4]), codeIs("duplicate_name", "'x'"));
  assert.throws(() => graph.relu("nope"), codeIs("unknown_name", "'nope'"));
  assert.throws(() => graph.output("nope", "float32", [1]), codeIs("unknown_name"));
  assert.throws(
    () => graph.initializer("w", "float32", [2, 3], new Float32Array(5)),
    codeIs("shape_mismatch", "holds 5 values"),
  );
  assert.throws(
    // deliberately the wrong array type for int8
    () => graph.initializer("w", "int8", [2], new Uint8Array(2) as unknown as Int8Array),
    codeIs("invalid_argument", "Uint8Array"),
  );
  assert.throws(() => graph.input("z", "uint8", [1, 0]), codeIs("invalid_argument"));
  assert.throws(() => new GraphBuilder().encode(), codeIs("invalid_argument", "0 inputs"));
});

Deno.test("qlinearConvModel refuses bad scales, zero points and weight scale counts", () => {
  const base = {
    weights: new Int8Array(5 * 3 * 9),
    weightScales: new Float32Array(5).fill(0.1),
    xScale: 0.05,
    xZeroPoint: 3,
    yScale: 0.25,
    yZeroPoint: 200,
  };
  assert.throws(
    () => qlinearConvModel(shape, { ...base, xZeroPoint: 256 }),
    codeIs("invalid_argument", "256"),
  );
  assert.throws(
    () => qlinearConvModel(shape, { ...base, yScale: 0 }),
    codeIs("invalid_argument", "yScale"),
  );
  assert.throws(
    () => qlinearConvModel(shape, { ...base, weightScales: new Float32Array(4).fill(1) }),
    codeIs("shape_mismatch", "weightScales holds 4"),
  );
  assert.throws(
    () => qlinearConvModel(shape, { ...base, weights: new Int8Array(10) }),
    codeIs("shape_mismatch", "holds 10 values"),
  );
  assert.throws(
    () => qlinearConvModel({ ...shape, strideH: 0 }, base),
    codeIs("invalid_argument", "strideH is 0"),
  );
});
