import assert from "node:assert/strict";
import { ModelError } from "./errors.ts";
import { loadModel, type Model } from "./model_file.ts";
import {
  buildBinealResNet18,
  buildCenterNet,
  buildEdsr,
  buildFcn,
  buildR2d2,
  ZOO,
  type ZooModel,
} from "./zoo.ts";

function load(zoo: ZooModel): Model {
  return loadModel(zoo.bytes, { name: `${zoo.name}.onebit` });
}

function outputs(model: Model): Record<string, string> {
  return Object.fromEntries(
    model.graph.outputs.map((name) => {
      const { dtype, shape } = model.activations.get(name)!;
      return [name, `${dtype}[${shape.join(",")}]`];
    }),
  );
}

function count(model: Model, op: string): number {
  return model.graph.ops.filter((node) => node.op === op).length;
}

Deno.test("buildBinealResNet18 has 8-bit first and last layers and 16 BiNeal blocks", () => {
  for (const width of [1, 1.5]) {
    const zoo = buildBinealResNet18({ width, inputSize: 32, classes: 10 });
    const model = load(zoo);
    assert.equal(zoo.name, `bineal_resnet18_w${width}x`);
    assert.equal(model.task, "classify");
    assert.deepEqual(outputs(model), { logits: "f32[1,1,1,10]" });
    const ops = model.graph.ops;
    assert.equal(ops[0].op, "qconv2d");
    assert.equal(ops.at(-1)!.op, "qconv2d");
    assert.equal(count(model, "qconv2d"), 2);
    // 16 BiNeal blocks: a 3x3 join conv and a 1x1 shortcut each.
    assert.equal(count(model, "bconv2d"), 32);
    const widest = Math.round(512 * width);
    assert.deepEqual(model.activations.get("s4b4")!.shape, [1, 1, 1, widest]);
    assert.deepEqual(model.activations.get("s1b1")!.shape, [1, 8, 8, Math.round(64 * width)]);
  }
});

Deno.test("buildBinealResNet18 sparse builds every 3x3 conv as a codebook conv", () => {
  const model = load(buildBinealResNet18({ inputSize: 32, sparse: true, tau: 4 }));
  assert.equal(count(model, "codebook_conv2d"), 16);
  assert.equal(count(model, "bconv2d"), 16);
  for (const op of model.graph.ops) {
    if (op.op === "codebook_conv2d") assert.equal(op.attrs.tau, 4);
  }
  assert.match(model.name, /_sparse_tau4$/);
});

Deno.test("buildBinealResNet18 sparse stores every 3x3 kernel in tau bits", () => {
  const plain = buildBinealResNet18({ inputSize: 32 });
  const plainModel = load(plain);
  // Binary 3x3 kernels of the 16 blocks, O*C summed over the four stages.
  const kernels = 4 * 64 * 64 + (64 + 3 * 128) * 128 + (128 + 3 * 256) * 256 +
    (256 + 3 * 512) * 512;
  assert.equal(kernels, 1_220_608);
  let plain3x3 = 0;
  for (const op of plainModel.graph.ops) {
    if (op.op === "bconv2d" && op.attrs.kernel[0] === 3) {
      plain3x3 += plainModel.tensors.get(op.params.weights)!.data.byteLength;
    }
  }
  assert.equal(plain3x3, (kernels * 9) / 8);
  for (const tau of [4, 5, 6]) {
    const sparse = buildBinealResNet18({ inputSize: 32, sparse: true, tau });
    const model = load(sparse);
    let indexBytes = 0;
    let codebookBytes = 0;
    for (const op of model.graph.ops) {
      if (op.op !== "codebook_conv2d") continue;
      indexBytes += model.tensors.get(op.params.indices)!.data.byteLength;
      codebookBytes += model.tensors.get(op.params.codebook)!.data.byteLength;
    }
    assert.equal(indexBytes, (kernels * tau) / 8, `tau ${tau}`);
    assert.equal(codebookBytes, 16 * 2 ** tau * 2, `tau ${tau}`);
    // Everything else is the same tensors; only the graph JSON differs (a few bytes).
    const saved = plain3x3 - indexBytes - codebookBytes;
    assert.ok(
      Math.abs(plain.bytes.length - sparse.bytes.length - saved) < 4096,
      `tau ${tau}: plain ${plain.bytes.length}, sparse ${sparse.bytes.length}, saved ${saved}`,
    );
  }
});

Deno.test("buildBinealResNet18 with a separate join uses bineal_join ops", () => {
  const model = load(buildBinealResNet18({ inputSize: 32, join: "separate" }));
  assert.equal(count(model, "bineal_join"), 16);
});

Deno.test("buildCenterNet outputs heatmap, size and offset at a quarter of the input", () => {
  const model = load(buildCenterNet({ inputSize: [64, 96], classes: 3 }));
  assert.deepEqual(outputs(model), {
    heatmap: "f32[1,16,24,3]",
    size: "f32[1,16,24,2]",
    offset: "f32[1,16,24,2]",
  });
  assert.equal(count(model, "upsample_nearest"), 3);
  assert.equal(count(model, "sigmoid"), 1);
  assert.equal(count(model, "qconv2d"), 4);
});

Deno.test("buildFcn outputs an i32 mask at the input size and refuses odd sizes", () => {
  const model = load(buildFcn({ inputSize: [64, 128], classes: 5, sparse: true }));
  assert.deepEqual(outputs(model), { mask: "i32[1,64,128,1]" });
  assert.equal(count(model, "concat"), 1);
  assert.equal(count(model, "upsample_bilinear"), 1);
  assert.throws(() => buildFcn({ inputSize: [60, 128] }), ModelError);
});

Deno.test("buildEdsr upscales by depth-to-space with 8-bit first and last convs", () => {
  const model = load(buildEdsr({ inputSize: [16, 24], blocks: 3, scale: 3, width: 0.5 }));
  assert.deepEqual(outputs(model), { upscaled: "u8[1,48,72,3]" });
  assert.equal(count(model, "qconv2d"), 2);
  assert.equal(count(model, "depth_to_space"), 1);
  assert.deepEqual(model.activations.get("body3")!.shape, [1, 16, 24, 32]);
});

Deno.test("buildR2d2 keeps the resolution and outputs binary descriptors", () => {
  const model = load(buildR2d2({ inputSize: [24, 32], descriptorBits: 256 }));
  assert.deepEqual(outputs(model), {
    descriptors: "bits[1,24,32,256]",
    reliability: "f32[1,24,32,1]",
    repeatability: "f32[1,24,32,1]",
  });
  for (const activation of model.activations.values()) {
    assert.deepEqual(activation.shape.slice(1, 3), [24, 32]);
  }
  assert.throws(() => buildR2d2({ descriptorBits: 64 as 128 }), ModelError);
});

Deno.test("ZOO builders are deterministic per seed and refuse a bad width", () => {
  for (const [family, build] of Object.entries(ZOO)) {
    const options = { inputSize: 32, seed: 4, batch: 2 };
    const a = build(options);
    assert.deepEqual(a.bytes, build(options).bytes, family);
    assert.notDeepEqual(a.bytes, build({ ...options, seed: 5 }).bytes, family);
    assert.equal(load(a).graph.inputs[0].shape[0], 2);
    assert.throws(() => build({ inputSize: 32, width: 0 }), ModelError);
  }
});
