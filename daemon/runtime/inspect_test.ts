import assert from "node:assert/strict";
import { GraphBuilder } from "./builder.ts";
import { ModelError } from "./errors.ts";
import { formatBytes, formatCount, formatInspect, inspectFile, inspectModel } from "./inspect.ts";
import { loadModel } from "./model_file.ts";

/**
 * image u8 8x8x3 → qconv 3x3 to 16 u8 → binarize → bconv 3x3/2 to 65 bits →
 * codebook conv 3x3 (tau 4) to 32 bits → global avgpool → softmax.
 */
function tinyModel(): Uint8Array {
  const b = new GraphBuilder({ seed: 1 });
  const image = b.input("image", "u8", [1, 8, 8, 3]);
  const q = b.qconv2d(image, { name: "q", outChannels: 16, kernel: 3 });
  const bits = b.binarize(q, { name: "bits" });
  const b2 = b.bconv2d(bits, { name: "b2", outChannels: 65, kernel: 3, stride: 2 });
  const cb = b.codebookConv2d(b2, { name: "cb", outChannels: 32, kernel: 3, tau: 4, flips: false });
  b.output(b.softmax(b.globalAvgpool(cb, { name: "gap" }), { name: "probs" }));
  return b.build({ name: "tiny", task: "classify" });
}

Deno.test("inspectModel counts a tiny model as computed by hand", () => {
  const bytes = tinyModel();
  const report = inspectModel(loadModel(bytes, { name: "tiny.onebit" }));
  const byName = Object.fromEntries(report.ops.map((op) => [op.name, op]));
  // qconv: 8*8 pixels * 16 out * 27 taps; weights 432 I8, bias and scale 16 x 4 bytes each.
  assert.equal(byName.q.flops, 64 * 16 * 27);
  assert.equal(byName.q.bops, 0);
  assert.equal(byName.q.params, 432 + 16 + 16);
  assert.equal(byName.q.paramBytes, 432 + 64 + 64);
  assert.equal(byName.q.paramBits, 432 * 8 + 32 * 32);
  // binarize: 16 I32 thresholds.
  assert.equal(byName.bits.params, 16);
  assert.equal(byName.bits.paramBytes, 64);
  // bconv 3x3/2 to 65: 4*4 pixels * 65 * 9 * 16 BOPs; 585 packed rows of one word, 9360
  // real weights; 65 thresholds and 65 flips.
  assert.equal(byName.b2.bops, 16 * 65 * 9 * 16);
  assert.equal(byName.b2.params, 9360 + 130);
  assert.equal(byName.b2.paramBytes, 585 * 8 + 130 * 4);
  assert.equal(byName.b2.paramBits, 9360 + 130 * 32);
  // codebook conv 65 → 32: dense BOPs 16*32*9*65; codeword path 16 pixels * 65 channels * 16
  // codewords * 9 taps, and 16*32*65 adds; params 16 codewords + 32*65 indices + 32
  // thresholds; bits 16*9 + 2080*4 + 32*32; the indices stored packed, 2080*4/8 bytes.
  assert.equal(byName.cb.bops, 16 * 32 * 9 * 65);
  assert.equal(byName.cb.codebookBops, 16 * 65 * 16 * 9);
  assert.equal(byName.cb.codebookAdds, 16 * 32 * 65);
  assert.equal(byName.cb.params, 16 + 2080 + 32);
  assert.equal(byName.cb.paramBytes, 32 + 1040 + 128);
  assert.equal(byName.cb.paramBits, 16 * 9 + 2080 * 4 + 32 * 32);
  assert.equal(byName.gap.params, 0);
  assert.equal(byName.probs.bops + byName.probs.flops, 0);
  const { totals } = report;
  assert.equal(totals.ops, 6);
  assert.equal(totals.params, 464 + 16 + 9490 + 2128);
  assert.equal(totals.paramBytes, 560 + 64 + 5200 + 1200);
  assert.equal(totals.bops, 149760 + 299520);
  assert.equal(totals.flops, 27648);
  assert.equal(totals.opsEquivalent, 449280 / 64 + 27648);
  assert.equal(totals.sparseBops, 149760 + 149760);
  assert.equal(totals.sparseAdds, 33280);
  assert.deepEqual(report.opCounts, {
    qconv2d: 1,
    binarize: 1,
    bconv2d: 1,
    codebook_conv2d: 1,
    global_avgpool: 1,
    softmax: 1,
  });
  assert.equal(report.fileBytes, bytes.length);
  assert.equal(report.name, "tiny");
  assert.equal(report.file, "tiny.onebit");
  // The largest set of activations live together: q (8*8*16 = 1024 B) while binarize writes
  // bits (8*8 pixels * 1 word = 512 B).
  assert.equal(report.peakActivationBytes, 1024 + 512);
  assert.deepEqual(report.inputs, [{ name: "image", dtype: "u8", shape: [1, 8, 8, 3] }]);
  assert.deepEqual(report.outputs, [{ name: "probs", dtype: "f32", shape: [1, 1, 1, 32] }]);
});

Deno.test("formatInspect prints one row per op and the totals", () => {
  const text = formatInspect(inspectModel(loadModel(tinyModel(), { name: "tiny.onebit" })));
  assert.match(text, /^model tiny \(tiny\.onebit\), task classify/);
  assert.match(text, /\ncb\s+codebook_conv2d\s+bits\[1x4x4x32\]\s+2\.13k\s+1\.17 KiB\s+300k\n/);
  assert.match(text, /\nq\s+qconv2d\s+u8\[1x8x8x16\]\s+464\s+560 B\s+27\.6k\n/);
  assert.match(text, /\nOPs\s+34\.7k \(BOPs\/64 \+ FLOPs\)/);
  assert.match(text, /\ncodebook\s+300k BOPs \+ 33\.3k adds/);
  assert.match(text, /\npeak memory\s+1\.50 KiB of activations$/);
});

Deno.test("formatCount and formatBytes use SI and binary units", () => {
  assert.equal(formatCount(999), "999");
  assert.equal(formatCount(1234567), "1.23M");
  assert.equal(formatCount(1.86e9), "1.86G");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(3 * 2 ** 20), "3.00 MiB");
});

Deno.test("inspectFile reads a model file and refuses a corrupt one", async () => {
  const path = await Deno.makeTempFile({ suffix: ".onebit" });
  try {
    const bytes = tinyModel();
    await Deno.writeFile(path, bytes);
    const report = await inspectFile(path);
    assert.equal(report.totals.bops, 449280);
    assert.equal(report.fileBytes, bytes.length);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(path, bytes);
    await assert.rejects(() => inspectFile(path), (error: unknown) => {
      assert.ok(error instanceof ModelError);
      assert.equal(error.code, "checksum_mismatch");
      return true;
    });
  } finally {
    await Deno.remove(path);
  }
});
