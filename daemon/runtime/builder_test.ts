import assert from "node:assert/strict";
import { GraphBuilder, powerLawCodebook } from "./builder.ts";
import { ModelError } from "./errors.ts";
import type { OpNode } from "./graph.ts";
import { loadModel } from "./model_file.ts";
import { seededRandom } from "./test_fixtures.ts";

/** A graph using every op method, with odd channel counts and both join forms. */
function everyOp(seed: number): GraphBuilder {
  const b = new GraphBuilder({ seed });
  const image = b.input("image", "u8", [1, 12, 10, 3]);
  const stem = b.qconv2d(image, { name: "stem", outChannels: 65, kernel: 3, stride: 2 });
  const x = b.binarize(stem, { name: "bin" });
  const pooled = b.maxpool(x, { kernel: 2, stride: 1, pads: [0, 1, 0, 1] });
  const fused = b.binealBlock(pooled, { name: "fused", channels: 70, stride: 2 });
  const separate = b.binealBlock(fused, { name: "sep", channels: 70, join: "separate" });
  const sparse = b.binealBlock(separate, { name: "sparse", channels: 64, sparse: true, tau: 4 });
  const cb = b.codebookConv2d(sparse, {
    outChannels: 33,
    kernel: 3,
    transform: "int32",
    padValue: "zero",
    tau: 6,
    alpha: 1.5,
  });
  const up = b.upsampleNearest(sparse, { scale: [2, 1] });
  const cat = b.concat([up, b.upsampleNearest(separate, { scale: [2, 1] })]);
  const f = b.bconv2d(cat, { outChannels: 8, kernel: [1, 3], transform: "float" });
  const bilinear = b.upsampleBilinear(f, { scale: 2, alignCorners: true });
  const mask = b.argmax(bilinear);
  const smooth = b.avgpool(bilinear, { kernel: 3, stride: 2, countIncludePad: true });
  const q = b.quantize(b.globalAvgpool(sparse), { dtype: "i8", scale: 1 / 64 });
  const dense = b.bdense(b.binarize(q, { thresholds: "sign" }), {
    outChannels: 10,
    transform: "float",
  });
  const probs = b.softmax(dense);
  const r = b.bdense(b.binarize(q), { outChannels: 12, transform: "int8", qmin: -16, qmax: 15 });
  const joined = b.bdense(b.maxpool(sparse, { kernel: 2, stride: 2 }), {
    outChannels: 12,
    transform: "join",
    residual: r,
    qmin: -16,
    qmax: 15,
  });
  const scores = b.sigmoid(b.qconv2d(b.quantize(f), { outChannels: 4, kernel: 1, output: "f32" }));
  const acc = b.qconv2d(b.quantize(f), { outChannels: 4, kernel: 1, output: "i32", bias: false });
  const d2s = b.depthToSpace(cb, { block: 1, mode: "crd" });
  const sr = b.depthToSpace(
    b.bconv2d(cat, { outChannels: 12, kernel: 3, transform: "int8", qmin: -128, qmax: 127 }),
    { block: 2 },
  );
  b.output(mask, smooth, probs, joined, scores, acc, d2s, sr);
  return b;
}

Deno.test("GraphBuilder every op method gives a model the loader accepts", () => {
  const b = everyOp(3);
  const model = loadModel(b.build({ name: "every-op", task: "test" }), { name: "every-op" });
  const types = new Set(model.graph.ops.map((op) => op.op));
  for (
    const op of [
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
    ]
  ) {
    assert.ok(types.has(op as OpNode["op"]), `no ${op} op`);
  }
  // The builder's own shape tracking agrees with the loader's inference everywhere.
  for (const [name, activation] of b.activations()) {
    assert.deepEqual(model.activations.get(name), activation, name);
  }
  assert.equal(model.producer, "onebit builder");
  assert.equal(model.name, "every-op");
});

Deno.test("GraphBuilder same seed gives the same bytes, another seed other weights", () => {
  assert.deepEqual(everyOp(5).build(), everyOp(5).build());
  assert.notDeepEqual(everyOp(5).build(), everyOp(6).build());
});

Deno.test("GraphBuilder graph() and tensors() describe what build() writes", () => {
  const b = everyOp(1);
  const model = loadModel(b.build());
  assert.equal(b.graph().ops.length, model.graph.ops.length);
  assert.deepEqual([...b.tensors().keys()].sort(), [...model.tensors.keys()].sort());
  const validated = b.validate();
  assert.deepEqual(validated.activations.get("stem")?.shape, [1, 6, 5, 65]);
});

Deno.test("binealBlock builds a stride-matched 1x1 shortcut and a 3x3 branch in INT4", () => {
  const b = new GraphBuilder();
  const x = b.binarize(b.input("x", "f32", [1, 7, 9, 40]), { thresholds: "sign" });
  const y = b.binealBlock(x, { name: "blk", channels: 96, stride: 2 });
  b.output(y);
  const ops = b.graph().ops;
  const short = ops.find((op) => op.name === "blk.short")!;
  const conv = ops.find((op) => op.name === "blk")!;
  assert.equal(short.op, "bconv2d");
  assert.equal(conv.op, "bconv2d");
  if (short.op !== "bconv2d" || conv.op !== "bconv2d") return;
  assert.deepEqual(short.attrs.kernel, [1, 1]);
  assert.deepEqual(short.attrs.stride, [2, 2]);
  assert.equal(short.attrs.transform, "int8");
  assert.equal(short.attrs.qmin, -8);
  assert.equal(short.attrs.qmax, 7);
  assert.deepEqual(conv.attrs.kernel, [3, 3]);
  assert.deepEqual(conv.attrs.stride, [2, 2]);
  assert.equal(conv.attrs.transform, "join");
  assert.deepEqual(conv.inputs, [x, "blk.short"]);
  // Both branches of a 7x9 input at stride 2 are 4x5.
  assert.deepEqual(b.shape("blk.short"), [1, 4, 5, 96]);
  assert.deepEqual(b.shape(y), [1, 4, 5, 96]);
  loadModel(b.build());
});

Deno.test("binealBlock separate and sparse use bineal_join and codebook_conv2d", () => {
  const b = new GraphBuilder();
  const x = b.binarize(b.input("x", "f32", [1, 6, 6, 64]), { thresholds: "sign" });
  const y = b.binealBlock(x, { name: "s", channels: 64, join: "separate", sparse: true, tau: 6 });
  b.output(y);
  const ops = b.graph().ops;
  assert.deepEqual(ops.map((op) => op.op), [
    "binarize",
    "bconv2d",
    "codebook_conv2d",
    "bineal_join",
  ]);
  const conv = ops[2];
  if (conv.op !== "codebook_conv2d") throw new Error("expected a codebook conv");
  assert.equal(conv.attrs.tau, 6);
  assert.equal(conv.attrs.transform, "int8");
  assert.equal(b.tensors().get(conv.params.codebook)?.shape[0], 64);
  loadModel(b.build());
});

Deno.test("GraphBuilder random parameters lie in the documented ranges", () => {
  const b = new GraphBuilder({ seed: 9 });
  const x = b.binarize(b.input("x", "f32", [1, 4, 4, 256]), { thresholds: "sign" });
  const y = b.bconv2d(x, { name: "c", outChannels: 512, kernel: 3, transform: "binary" });
  const r = b.bconv2d(x, { name: "r", outChannels: 512, kernel: 3, transform: "int8" });
  b.output(y, r);
  const tensors = b.tensors();
  const taps = 9 * 256;
  const thresholds = tensors.get("c.t")!.data as Int32Array;
  const bound = Math.sqrt(taps) / 2 + 1;
  assert.ok(thresholds.every((t) => Math.abs(t) <= bound), "thresholds within ±sqrt(K)/2");
  assert.ok(thresholds.some((t) => t > 0) && thresholds.some((t) => t < 0), "both signs");
  const flips = tensors.get("c.f")!.data as Int32Array;
  const flipped = flips.reduce((sum, f) => sum + f, 0);
  assert.ok(flipped > 20 && flipped < 120, `about 1 in 8 flipped, got ${flipped} of 512`);
  // int8 to INT4: mul maps ±2 sigma onto -8..7, bias near the middle of the range.
  const mul = tensors.get("r.mul")!.data as Float32Array;
  const bias = tensors.get("r.bias")!.data as Float32Array;
  for (const m of mul) {
    const span = 2 * 2 * Math.sqrt(taps) * m;
    assert.ok(span > 15 * 0.7 && span < 15 * 1.3, `±2 sigma spans ${span}`);
  }
  assert.ok(bias.every((v) => Math.abs(v + 0.5) <= 0.5));
});

Deno.test("GraphBuilder packed weights keep the channel tail at 0", () => {
  const b = new GraphBuilder({ seed: 2 });
  const x = b.binarize(b.input("x", "f32", [1, 2, 2, 65]), { thresholds: "sign" });
  b.output(b.bconv2d(x, { name: "c", outChannels: 3, kernel: 1 }));
  const weights = b.tensors().get("c.w")!.data as BigUint64Array;
  assert.equal(weights.length, 3 * 2);
  for (let row = 0; row < 3; row++) assert.equal(weights[row * 2 + 1] >> 1n, 0n);
  assert.ok(weights.some((word) => word !== 0n));
});

Deno.test("powerLawCodebook draws distinct codewords with power-law frequencies", () => {
  const { codebook, indices } = powerLawCodebook(seededRandom(11), {
    taps: 9,
    tau: 5,
    alpha: 1,
    kernels: 20000,
  });
  assert.equal(codebook.length, 32);
  assert.equal(new Set(codebook).size, 32, "codewords never repeat");
  assert.ok(codebook.every((word) => word < 512));
  const counts = new Array(32).fill(0);
  for (const index of indices) counts[index]++;
  // Sorted by popularity: the first codeword is the most frequent, and the top four take a
  // large share (a uniform choice would give them 1/8).
  assert.equal(Math.max(...counts), counts[0]);
  const top = counts.slice(0, 4).reduce((a, b) => a + b, 0) / indices.length;
  assert.ok(top > 0.3, `top four codewords take ${top}`);
  assert.throws(() => powerLawCodebook(seededRandom(1), { taps: 2, tau: 3, alpha: 1, kernels: 1 }));
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ModelError) return error.code;
    throw error;
  }
  return "none";
}

Deno.test("GraphBuilder refuses misuse with a ModelError naming the op", () => {
  const b = new GraphBuilder();
  const image = b.input("image", "u8", [1, 8, 8, 3]);
  const x = b.binarize(image);
  assert.equal(code(() => b.qconv2d(x, { outChannels: 4, kernel: 3 })), "shape_mismatch");
  assert.equal(code(() => b.bconv2d(image, { outChannels: 4, kernel: 3 })), "shape_mismatch");
  assert.equal(code(() => b.bconv2d(x, { outChannels: 4, kernel: 3, pads: 3 })), "graph_invalid");
  assert.equal(code(() => b.bconv2d(x, { outChannels: 4, kernel: 16 })), "graph_invalid");
  assert.equal(code(() => b.bconv2d(x, { outChannels: 0, kernel: 1 })), "graph_invalid");
  assert.equal(code(() => b.bconv2d(x, { outChannels: 4, kernel: 9, pads: 0 })), "shape_mismatch");
  assert.equal(
    code(() => b.bconv2d(x, { outChannels: 4, kernel: 3, transform: "join" })),
    "graph_invalid",
  );
  const r = b.bconv2d(x, { outChannels: 4, kernel: 1, stride: 2, transform: "int8" });
  assert.equal(
    code(() => b.bconv2d(x, { outChannels: 4, kernel: 3, transform: "join", residual: r })),
    "shape_mismatch",
  );
  assert.equal(
    code(() => b.bconv2d(x, { outChannels: 4, kernel: 1, residual: r })),
    "graph_invalid",
  );
  assert.equal(
    code(() => b.codebookConv2d(x, { outChannels: 4, kernel: 3, tau: 9 })),
    "graph_invalid",
  );
  assert.equal(
    code(() => b.codebookConv2d(x, { outChannels: 4, kernel: 1, tau: 2 })),
    "graph_invalid",
  );
  assert.equal(code(() => b.binarize(image, { thresholds: "sign" })), "param_invalid");
  assert.equal(code(() => b.concat([x])), "graph_invalid");
  assert.equal(code(() => b.concat([x, image])), "shape_mismatch");
  assert.equal(code(() => b.depthToSpace(x, { block: 2 })), "shape_mismatch");
  assert.equal(code(() => b.upsampleNearest(x, { scale: 9 })), "graph_invalid");
  assert.equal(code(() => b.upsampleBilinear(x)), "shape_mismatch");
  assert.equal(code(() => b.quantize(x)), "shape_mismatch");
  assert.equal(code(() => b.binarize("nothing")), "graph_invalid");
  assert.equal(code(() => b.input("image", "u8", [1, 1, 1, 1])), "graph_invalid");
  assert.equal(code(() => b.maxpool(x, { kernel: 2, name: x })), "graph_invalid");
  b.output(x);
  assert.equal(code(() => b.output(x)), "graph_invalid");
  // `r` and the pooled activations are never used: the model file refuses that.
  const error = (() => {
    try {
      b.build({ file: "unused.onebit" });
    } catch (error) {
      return error;
    }
  })();
  assert.ok(error instanceof ModelError);
  assert.equal(error.code, "graph_invalid");
  assert.match(error.message, /Cannot write model 'unused.onebit': .*never used/);
});

/** ±1 value of channel `c` of a packed row (bit 1 = -1). */
function sign(words: BigUint64Array, row: number, perRow: number, c: number): number {
  return (words[row * perRow + (c >> 6)] >> BigInt(c & 63)) & 1n ? -1 : 1;
}

Deno.test("binealBlock on random bits gives a mix of both signs, not a clamped constant", () => {
  const b = new GraphBuilder({ seed: 21 });
  const size = 6;
  const channels = 64;
  const x = b.binarize(b.input("x", "f32", [1, size, size, channels]), { thresholds: "sign" });
  const y = b.binealBlock(x, { name: "blk", channels, stride: 1 });
  b.output(y);
  const t = b.tensors();
  const random = seededRandom(5);
  const input = Array.from({ length: size * size * channels }, () => (random() < 0.5 ? -1 : 1));
  // Reference of the fused block: both branches to INT4 (round half even is irrelevant for
  // these statistics), saturating add, threshold, flip. Padded taps are +1.
  const int4 = (acc: number, mul: number, bias: number) =>
    Math.min(7, Math.max(-8, Math.round(acc * mul + bias)));
  const branch = (prefix: string, k: number, oy: number, ox: number, o: number) => {
    const w = t.get(`${prefix}.w`)!.data as BigUint64Array;
    let acc = 0;
    for (let ky = 0; ky < k; ky++) {
      for (let kx = 0; kx < k; kx++) {
        const iy = oy + ky - (k >> 1);
        const ix = ox + kx - (k >> 1);
        for (let c = 0; c < channels; c++) {
          const v = iy < 0 || ix < 0 || iy >= size || ix >= size
            ? 1
            : input[(iy * size + ix) * channels + c];
          acc += v * sign(w, (o * k + ky) * k + kx, 1, c);
        }
      }
    }
    const mul = (t.get(`${prefix}.mul`)!.data as Float32Array)[o];
    const bias = (t.get(`${prefix}.bias`)!.data as Float32Array)[o];
    return int4(acc, mul, bias);
  };
  let minus = 0;
  let clamped = 0;
  const thresholds = t.get("blk.t")!.data as Int32Array;
  const flips = t.get("blk.f")!.data as Int32Array;
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      for (let o = 0; o < channels; o++) {
        const a = branch("blk", 3, oy, ox, o);
        const r = branch("blk.short", 1, oy, ox, o);
        if (a === -8 || a === 7) clamped++;
        const sum = Math.min(7, Math.max(-8, a + r));
        // -1 when the sum is below the threshold, above it for a flipped channel.
        if (flips[o] === 1 ? sum > thresholds[o] : sum < thresholds[o]) minus++;
      }
    }
  }
  const total = size * size * channels;
  assert.ok(minus > 0.25 * total && minus < 0.75 * total, `${minus} of ${total} are -1`);
  assert.ok(clamped < 0.25 * total, `${clamped} of ${total} INT4 values clamp`);
});
