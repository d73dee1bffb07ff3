import assert from "node:assert/strict";
import { GraphBuilder } from "./builder.ts";
import { binaryWeightsOihw, fp32Twin, int8Twin, type OnnxTwin, twinFeeds } from "./int8_twin.ts";
import { loadModel, type Model } from "./model_file.ts";
import { ZOO } from "./zoo.ts";
import { readModel as readOnnx } from "../onnx/model_writer.ts";
import { createSession } from "../onnx/ort.ts";

async function run(twin: OnnxTwin): Promise<Record<string, { type: string; dims: number[] }>> {
  const session = await createSession(twin.bytes, { threads: 1 });
  try {
    const outputs = await session.run(twinFeeds(twin, 3));
    return Object.fromEntries(
      Object.entries(outputs).map(([name, value]) => {
        const length = value.dims.reduce((a, b) => a * b, 1);
        assert.equal(value.data.length, length, name);
        return [name, { type: value.type, dims: [...value.dims] }];
      }),
    );
  } finally {
    await session.dispose();
  }
}

/** The NHWC outputs a twin should have: names, ONNX types and onebit shapes. */
function expected(model: Model, precision: "int8" | "fp32") {
  return Object.fromEntries(model.graph.outputs.map((name) => {
    const { dtype, shape } = model.activations.get(name)!;
    const producer = model.graph.ops.find((op) => op.outputs[0] === name);
    let type = "float32";
    if (producer?.op === "argmax") type = "int32";
    else if (precision === "int8" && ["bits", "u8", "i8"].includes(dtype)) type = "uint8";
    return [name, { type, dims: [...shape] }];
  }));
}

function opCounts(bytes: Uint8Array): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of readOnnx(bytes).nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}

function convCount(model: Model): number {
  return model.graph.ops.filter((op) =>
    ["bconv2d", "codebook_conv2d", "bdense", "qconv2d"].includes(op.op)
  ).length;
}

Deno.test("int8Twin and fp32Twin of every zoo family run in ONNX Runtime with onebit's shapes", async () => {
  for (const [family, build] of Object.entries(ZOO)) {
    const model = loadModel(build({ inputSize: 32, width: 0.5, sparse: family === "fcn" }).bytes);
    for (const make of [int8Twin, fp32Twin]) {
      const twin = make(model);
      assert.deepEqual(
        await run(twin),
        expected(model, twin.precision),
        `${family} ${twin.precision}`,
      );
      assert.deepEqual(
        twin.inputs,
        [{ name: "image", type: "uint8", dims: [...model.graph.inputs[0].shape] }],
      );
      const counts = opCounts(twin.bytes);
      if (twin.precision === "int8") {
        assert.equal(counts.QLinearConv, convCount(model), family);
        assert.equal(counts.Conv, undefined);
      } else {
        assert.equal(counts.Conv, convCount(model), family);
        assert.equal(counts.QLinearConv, undefined);
      }
    }
  }
});

/** A model with inputs of three dtypes and an output of every kind. */
function mixedModel(): Model {
  const b = new GraphBuilder({ seed: 4 });
  const image = b.input("image", "u8", [1, 8, 12, 3]);
  const feature = b.input("feature", "f32", [1, 4, 6, 16]);
  const mask = b.input("mask", "bits", [1, 4, 6, 8]);
  const stem = b.binarize(b.qconv2d(image, { outChannels: 16, kernel: 3, stride: 2 }));
  const cat = b.concat([stem, b.binarize(feature, { thresholds: "sign" }), mask]);
  const x = b.binealBlock(cat, { channels: 24, join: "separate" });
  const smooth = b.avgpool(b.bconv2d(x, { outChannels: 4, kernel: 3, transform: "float" }), {
    kernel: 3,
    stride: 1,
    countIncludePad: false,
  });
  const acc = b.depthToSpace(b.bconv2d(x, { outChannels: 8, kernel: 1, transform: "int32" }), {
    name: "acc",
    block: 2,
    mode: "crd",
  });
  const pooled = b.maxpool(x, { kernel: [4, 6], stride: [4, 6], pads: 0 });
  const r = b.bdense(pooled, { outChannels: 10, transform: "int8" });
  const joined = b.bdense(pooled, {
    name: "joined",
    outChannels: 10,
    transform: "join",
    residual: r,
  });
  const probs = b.softmax(
    b.qconv2d(b.quantize(b.globalAvgpool(x)), { outChannels: 5, kernel: 1, output: "f32" }),
    { name: "probs" },
  );
  const labels = b.argmax(b.upsampleBilinear(smooth, { scale: 2 }), { name: "labels" });
  const big = b.upsampleNearest(b.quantize(smooth, { dtype: "i8" }), {
    name: "big",
    scale: [1, 2],
  });
  b.output(joined, probs, labels, acc, big);
  return loadModel(b.build());
}

Deno.test("twins handle every input dtype and output kind, NHWC and NCHW", async () => {
  const model = mixedModel();
  for (const make of [int8Twin, fp32Twin]) {
    const nhwc = make(model);
    assert.deepEqual(nhwc.inputs.map((input) => [input.name, input.type, input.dims]), [
      ["image", "uint8", [1, 8, 12, 3]],
      ["feature", "float32", [1, 4, 6, 16]],
      ["mask", "uint8", [1, 4, 6, 8]],
    ]);
    assert.deepEqual(await run(nhwc), expected(model, nhwc.precision));
    const nchw = make(model, { layout: "nchw" });
    assert.deepEqual(nchw.inputs[0].dims, [1, 3, 8, 12]);
    const outputs = await run(nchw);
    assert.deepEqual(outputs.labels.dims, [1, 1, 8, 12]);
    assert.deepEqual(outputs.acc.dims, [1, 2, 8, 12]);
    assert.equal(opCounts(nchw.bytes).Transpose, undefined);
  }
  assert.throws(() => int8Twin(model, { layout: "chwn" as "nchw" }), /layout/);
});

Deno.test("int8Twin joins INT4 branches with a quantized Add", () => {
  const counts = opCounts(int8Twin(mixedModel()).bytes);
  // One bineal_join and one join transform: DequantizeLinear x2 → Add → QuantizeLinear each.
  assert.equal(counts.Add, 2);
  assert.ok(counts.DequantizeLinear >= 4);
  assert.ok(counts.QuantizeLinear >= 2);
});

Deno.test("int8Twin keeps a u8 qconv2d's requantization multiplier", () => {
  const b = new GraphBuilder({ seed: 8 });
  const image = b.input("image", "u8", [1, 4, 4, 3]);
  b.output(b.qconv2d(image, { name: "stem", outChannels: 6, kernel: 3, yZeroPoint: 100 }));
  const model = loadModel(b.build());
  const scale = model.tensors.get("stem.s")!.data as Float32Array;
  const onnx = readOnnx(int8Twin(model).bytes);
  const conv = onnx.nodes.find((node) => node.opType === "QLinearConv")!;
  const value = (name: string) => {
    const init = onnx.initializers.find((tensor) => tensor.name === name)!;
    return init.type === "float32"
      ? new Float32Array(init.raw.slice().buffer)
      : init.type === "uint8"
      ? init.raw
      : new Int8Array(init.raw.slice().buffer);
  };
  const [xScale, xZero, , wScale, , yScale, yZero] = conv.inputs.slice(1).map(value);
  assert.equal(xZero[0], 128);
  assert.equal(yZero[0], 100);
  for (let o = 0; o < 6; o++) {
    const multiplier = (xScale[0] * wScale[o]) / yScale[0];
    assert.ok(Math.abs(multiplier - scale[o]) <= 1e-6 * scale[o], `channel ${o}`);
  }
  // Weights OHWI → OIHW.
  const stored = model.tensors.get("stem.w")!.data as Int8Array;
  const weights = value(conv.inputs[3]) as Int8Array;
  assert.equal(weights[((2 * 3 + 1) * 3 + 0) * 3 + 2], stored[((2 * 3 + 0) * 3 + 2) * 3 + 1]);
});

Deno.test("binaryWeightsOihw unpacks packed words and expands codebooks as ±1", () => {
  const b = new GraphBuilder({ seed: 6 });
  const x = b.input("x", "bits", [1, 3, 3, 70]);
  const conv = b.bconv2d(x, { name: "c", outChannels: 2, kernel: [1, 2], pads: 0 });
  const cb = b.codebookConv2d(x, { name: "k", outChannels: 3, kernel: 3, tau: 2 });
  b.output(conv, cb);
  const model = loadModel(b.build());
  const [convOp, cbOp] = model.graph.ops;
  const packed = model.tensors.get("c.w")!.data as BigUint64Array;
  const unpacked = binaryWeightsOihw(convOp, model.tensors, 70);
  assert.equal(unpacked.length, 2 * 70 * 2);
  for (let o = 0; o < 2; o++) {
    for (let kx = 0; kx < 2; kx++) {
      for (let c = 0; c < 70; c++) {
        const word = packed[(o * 2 + kx) * 2 + (c >> 6)];
        const expected = (word >> BigInt(c & 63)) & 1n ? -1 : 1;
        assert.equal(unpacked[(o * 70 + c) * 2 + kx], expected);
      }
    }
  }
  const codebook = model.tensors.get("k.codebook")!.data as Uint16Array;
  // Indices are packed at tau = 2 bits: kernel (o 2, c 5) = index 145 sits in byte 36,
  // bits 2..3.
  const indices = model.tensors.get("k.indices")!.data as Uint8Array;
  assert.equal(indices.length, Math.ceil((3 * 70 * 2) / 8));
  const expanded = binaryWeightsOihw(cbOp, model.tensors, 70);
  const word = codebook[(indices[36] >> 2) & 3];
  for (let tap = 0; tap < 9; tap++) {
    assert.equal(expanded[(2 * 70 + 5) * 9 + tap], (word >> tap) & 1 ? -1 : 1);
  }
});

Deno.test("twinFeeds fills every input with seeded data of its type", () => {
  const twin = int8Twin(mixedModel());
  const feeds = twinFeeds(twin, 9);
  assert.deepEqual(Object.keys(feeds), ["image", "feature", "mask"]);
  assert.ok(feeds.image.data instanceof Uint8Array);
  assert.ok(feeds.feature.data instanceof Float32Array);
  assert.ok((feeds.feature.data as Float32Array).every((v) => v >= -1 && v < 1));
  assert.deepEqual(feeds.image.data, twinFeeds(twin, 9).image.data);
  assert.notDeepEqual(feeds.image.data, twinFeeds(twin, 10).image.data);
});
