import assert from "node:assert/strict";
import { GraphBuilder } from "./builder.ts";
import {
  estimateFile,
  estimateSystolic,
  formatEstimate,
  parseAccelerator,
  type SystolicOptions,
} from "./estimate.ts";
import { loadModel, type Model } from "./model_file.ts";
import { buildBinealResNet18 } from "./zoo.ts";

/** A 4x4 array with 64-lane binary PEs, B = 16 and D = 4 bytes per cycle, a large SRAM. */
const SMALL: SystolicOptions = {
  rows: 4,
  cols: 4,
  binaryLanes: 64,
  sramBytesPerCycle: 16,
  dramBytesPerCycle: 4,
  sramBytes: 2 ** 20,
};

function oneConv(): Model {
  const b = new GraphBuilder();
  const x = b.input("x", "bits", [1, 4, 4, 64]);
  b.output(b.bconv2d(x, { name: "conv", outChannels: 32, kernel: 3 }));
  return loadModel(b.build());
}

Deno.test("estimateSystolic matches a hand computation of one binary conv", () => {
  const [layer] = estimateSystolic(oneConv(), SMALL).layers;
  // GEMM: M = 16 pixels, K = 9*64 = 576, O = 32.
  assert.deepEqual(layer.gemm, { m: 16, k: 576, o: 32 });
  assert.equal(layer.macs, 16 * 576 * 32);
  // Binary array: ceil(576 / (4*64)) = 3 row tiles x ceil(32/4) = 8 column tiles; each
  // streams max(16, 4) vectors and fills/drains 4 + 4 - 2; plus the first weight load (4).
  assert.equal(layer.onebit.unit, "binary");
  assert.equal(layer.onebit.tiles, 24);
  assert.equal(layer.onebit.computeCycles, 4 + 24 * 22);
  // Weights 32*576 bits = 2304 B, + 8 B per channel = 2560 B. Input 16*64 bits = 128 B (a
  // graph input), output 16*32 bits = 64 B (a graph output).
  // SRAM: 8 column tiles * 128 + 64 + 2560 = 3648 B → 228 cycles.
  // DRAM: 2560 + 128 + 64 = 2752 B → 688 cycles: DRAM-bound.
  assert.equal(layer.onebit.sramBytes, 3648);
  assert.equal(layer.onebit.dramBytes, 2752);
  assert.equal(layer.onebit.movementCycles, 688);
  assert.equal(layer.onebit.cycles, 688);
  assert.equal(layer.onebit.bound, "dram");
  assert.equal(layer.onebit.utilization, (16 * 576 * 32) / (532 * 16 * 64));
  // 8-bit array: 144 row tiles x 8 column tiles.
  assert.equal(layer.int8.unit, "int8");
  assert.equal(layer.int8.tiles, 1152);
  assert.equal(layer.int8.computeCycles, 4 + 1152 * 22);
  // Weights 18432 + 256 B; input 1024 B, output 512 B.
  assert.equal(layer.int8.sramBytes, 8 * 1024 + 512 + 18688);
  assert.equal(layer.int8.dramBytes, 18688 + 1024 + 512);
  assert.equal(layer.int8.movementCycles, Math.max(27392 / 16, 20224 / 4));
  assert.equal(layer.int8.cycles, 25348);
  assert.equal(layer.int8.bound, "compute");
  assert.equal(layer.ratio, 25348 / 688);
});

Deno.test("estimateSystolic spills activations that do not fit half the SRAM to DRAM", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "bits", [1, 4, 4, 64]);
  const a = b.bconv2d(x, { name: "a", outChannels: 64, kernel: 1 });
  b.output(b.bconv2d(a, { name: "b", outChannels: 64, kernel: 1 }));
  const model = loadModel(b.build());
  const options = { ...SMALL, dramBytesPerCycle: 2 };
  // Layer a: weights 64*64 bits = 512 B + 512 B of channel params; input 128 B (a graph
  // input), output 128 B. Fitting: DRAM = 1024 + 128 → 576 cycles. Spilling (SRAM 256 B,
  // half is 128 B < 256 B of activations): DRAM = 1024 + 256 → 640 cycles.
  const fits = estimateSystolic(model, options).layers[0].onebit;
  const spills = estimateSystolic(model, { ...options, sramBytes: 256 }).layers[0].onebit;
  assert.equal(fits.dramBytes, 1152);
  assert.equal(spills.dramBytes, 1280);
  // Compute: 1 row tile x 16 column tiles: 4 + 16 * (16 + 6) = 356.
  assert.equal(fits.computeCycles, 356);
  assert.equal(fits.cycles, 576);
  assert.equal(spills.cycles, 640);
});

Deno.test("estimateSystolic runs qconv2d on the 8-bit array in both models", () => {
  const b = new GraphBuilder();
  const image = b.input("image", "u8", [1, 8, 8, 3]);
  b.output(b.qconv2d(image, { outChannels: 8, kernel: 3, stride: 2 }));
  const [layer] = estimateSystolic(loadModel(b.build()), SMALL).layers;
  assert.equal(layer.onebit.unit, "int8");
  assert.deepEqual(layer.onebit, layer.int8);
  assert.equal(layer.ratio, 1);
  // M = 16, K = 27: 7 row tiles x 2 column tiles.
  assert.equal(layer.onebit.computeCycles, 4 + 14 * 22);
});

Deno.test("estimateSystolic moves bits 8x cheaper on the vector unit and drops binarize", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [1, 4, 4, 64]);
  const bits = b.binarize(x, { name: "bin", thresholds: "sign" });
  b.output(b.maxpool(bits, { name: "pool", kernel: 2, stride: 2 }));
  const [bin, pool] = estimateSystolic(loadModel(b.build()), SMALL).layers;
  assert.equal(bin.int8.cycles, 0);
  // binarize reads 16*64 f32 = 4096 B (a graph input) and writes 128 B of bits.
  assert.equal(bin.onebit.unit, "vector");
  assert.equal(bin.onebit.dramBytes, 4096);
  assert.equal(bin.onebit.cycles, 4096 / 4);
  // maxpool: 128 B in, 4 pixels * 64 bits = 32 B out (a graph output): SRAM 160 B → 10,
  // DRAM 32 B → 8. The twin moves bytes: 1024 + 256 B → SRAM 80, DRAM 64.
  assert.equal(pool.onebit.cycles, 10);
  assert.equal(pool.onebit.bound, "sram");
  assert.equal(pool.int8.cycles, 80);
  assert.equal(pool.ratio, 8);
});

Deno.test("estimateSystolic reads a codebook conv's indices, not expanded weights", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "bits", [1, 4, 4, 64]);
  b.output(b.codebookConv2d(x, { name: "cb", outChannels: 32, kernel: 3, tau: 4 }));
  const [layer] = estimateSystolic(loadModel(b.build()), SMALL).layers;
  // 32*64 indices of 4 bits + 16 codewords of 9 bits = 8336 bits = 1042 B, + 256 B.
  const weights = 1042 + 256;
  assert.equal(layer.onebit.dramBytes, weights + 128 + 64);
  // Compute is that of the expanded conv.
  assert.equal(layer.onebit.computeCycles, 4 + 24 * 22);
});

Deno.test("estimateSystolic totals add up on BiNeal ResNet-18 and favour the BNN", () => {
  const model = loadModel(buildBinealResNet18({ inputSize: 64 }).bytes);
  const { totals, layers } = estimateSystolic(model, { rows: 32, cols: 32 });
  assert.equal(layers.length, model.graph.ops.length);
  assert.equal(
    totals.onebitCycles,
    totals.onebitBinaryCycles + totals.onebitInt8Cycles + totals.onebitVectorCycles,
  );
  assert.equal(totals.int8Cycles, layers.reduce((sum, layer) => sum + layer.int8.cycles, 0));
  assert.ok(totals.ratio > 1, `ratio ${totals.ratio}`);
  assert.ok(totals.int8DramBytes > 4 * totals.onebitDramBytes);
  const text = formatEstimate(estimateSystolic(model, { rows: 32, cols: 32 }));
  assert.match(text, /^systolic 32x32: 1-bit PEs with 64 xnor-popcount lanes/);
  assert.match(text, /\nratio\s+\d+\.\d\dx fewer cycles for the BNN \(paper: 2\.8-7x\)$/);
  assert.match(text, /\ns4b4\s+bconv2d\s+binary\s/);
});

Deno.test("estimateSystolic folds a quantize into the array layer that feeds it", () => {
  const build = (twice: boolean) => {
    const b = new GraphBuilder();
    const x = b.input("x", "bits", [1, 4, 4, 64]);
    const f = b.bconv2d(x, { name: "conv", outChannels: 8, kernel: 1, transform: "float" });
    b.output(b.quantize(f, { name: "q" }));
    if (twice) b.output(b.quantize(f, { name: "q2" }));
    return loadModel(b.build());
  };
  const [conv, q] = estimateSystolic(build(false), SMALL).layers;
  assert.equal(q.onebit.unit, "fused");
  assert.equal(q.onebit.cycles, 0);
  assert.equal(q.int8.unit, "fused");
  assert.equal(q.ratio, 1);
  // The conv writes the u8 output (16 pixels * 8 = 128 B), not 512 B of f32. Compute: 1 row
  // tile x 2 column tiles: 4 + 2 * 22 = 48. Weights 8*64 bits = 64 B + 64 B of channel
  // params. SRAM 2*128 + 128 + 128 = 512 B → 32; DRAM 128 + 128 + 128 = 384 B → 96.
  assert.equal(conv.onebit.computeCycles, 48);
  assert.equal(conv.onebit.sramBytes, 512);
  assert.equal(conv.onebit.dramBytes, 384);
  assert.equal(conv.onebit.cycles, 96);
  // With two readers the f32 output is written and each quantize runs on the vector unit.
  const [unfused, q1] = estimateSystolic(build(true), SMALL).layers;
  assert.equal(unfused.onebit.sramBytes, 2 * 128 + 512 + 128);
  assert.equal(q1.onebit.unit, "vector");
  assert.ok(q1.onebit.cycles > 0);
});

Deno.test("parseAccelerator reads systolic:RxC and refuses anything else", () => {
  assert.deepEqual(parseAccelerator("systolic:16x32"), { rows: 16, cols: 32 });
  for (const bad of ["systolic:16", "gpu:4x4", "systolic:0x4", "systolic:4x4x4", "systolic:-1x4"]) {
    assert.throws(() => parseAccelerator(bad), RangeError, bad);
  }
  assert.throws(() => estimateSystolic(oneConv(), { rows: 0, cols: 4 }), RangeError);
  assert.throws(() => estimateSystolic(oneConv(), { ...SMALL, binaryLanes: 1.5 }), RangeError);
  assert.throws(() => estimateSystolic(oneConv(), { ...SMALL, dramBytesPerCycle: 0 }), RangeError);
});

Deno.test("estimateFile reads a model file with an accelerator spec", async () => {
  const path = await Deno.makeTempFile({ suffix: ".onebit" });
  try {
    const b = new GraphBuilder();
    const x = b.input("x", "bits", [1, 4, 4, 64]);
    b.output(b.bconv2d(x, { name: "conv", outChannels: 32, kernel: 3 }));
    await Deno.writeFile(path, b.build());
    const estimate = await estimateFile(path, "systolic:4x4", {
      sramBytesPerCycle: 16,
      dramBytesPerCycle: 4,
    });
    assert.equal(estimate.totals.onebitCycles, 688);
    assert.equal(estimate.accelerator.binaryLanes, 64);
    await assert.rejects(() => estimateFile(path, "systolic"), RangeError);
  } finally {
    await Deno.remove(path);
  }
});
