import { conformanceSuite } from "../../daemon/sdk/conformance.ts";
import assert from "node:assert/strict";
import { encodePng } from "../../daemon/media/mod.ts";
import { GraphBuilder } from "../../daemon/runtime/builder.ts";
import { buildR2d2 } from "../../daemon/runtime/zoo.ts";
import { copyPlugin, openTestHost, sceneImage } from "../../daemon/sdk/testing.ts";

const HERE = import.meta.dirname!;

interface MatchData {
  keypoints: [number, number];
  matchCount: number;
  matches: { a: [number, number]; b: [number, number]; distance: number; inlier: boolean }[];
  homography: number[] | null;
  inliers: number;
  against: string;
}

/** Thresholds 0: a random-weight model's maps are not calibrated, the pipeline is under test. */
const OPTIONS = { repeatabilityMin: 0, reliabilityMin: 0, maxKeypoints: 300 };

function assertIdentity(data: MatchData) {
  assert.ok(data.keypoints[0] > 10, `keypoints ${data.keypoints}`);
  assert.ok(data.matchCount >= 8, `${data.matchCount} matches`);
  assert.ok(data.homography !== null);
  const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  data.homography!.forEach((value, i) =>
    assert.ok(Math.abs(value - identity[i]) < 1e-3, `H[${i}] = ${value}`)
  );
  assert.equal(data.inliers, data.matchCount);
  for (const match of data.matches) {
    assert.ok(match.inlier);
    assert.equal(match.distance, 0);
    assert.deepEqual(match.a, match.b);
  }
}

Deno.test("match of an image against itself gives the identity with every match an inlier", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_match_" });
  try {
    const model = buildR2d2({ width: 0.125, inputSize: [48, 64], descriptorBits: 128 });
    const dir = await copyPlugin(HERE, `${root}/match`, {
      files: { "model.safetensors": model.bytes },
      manifest: { input: { width: 64, height: 48, channels: 3 } },
    });
    await using plugin = await openTestHost(dir, { options: OPTIONS });
    const png = encodePng(sceneImage(128, 96, { seed: 4 }));
    const outcome = await plugin.infer([png, png]);
    const data = outcome.result.data as unknown as MatchData;
    assert.equal(data.against, "pair");
    assertIdentity(data);
    // Keypoints come back in original pixels (128x96, not the 64x48 input).
    assert.ok(data.matches.some((m) => m.a[0] > 64 || m.a[1] > 48));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * The trained model's layout at a small size: a stride-2 8-bit stem, so the descriptors and
 * the maps are on a half grid (24x32 for a 48x64 input); random weights.
 */
function halfGridModel(): Uint8Array {
  const b = new GraphBuilder({ seed: 5 });
  const image = b.input("image", "u8", [1, 48, 64, 3]);
  const stem = b.qconv2d(image, { name: "stem", outChannels: 16, kernel: 3, stride: 2 });
  const x = b.binealBlock(b.binarize(stem, { name: "stem.bin" }), { name: "b1", channels: 32 });
  const descriptors = b.bconv2d(x, { name: "descriptors", outChannels: 128, kernel: 1 });
  const features = b.bconv2d(x, {
    name: "maps.conv",
    outChannels: 8,
    kernel: 1,
    transform: "float",
  });
  const q = b.quantize(features, { name: "maps.q" });
  const map = (name: string) =>
    b.sigmoid(
      b.qconv2d(q, { name: `${name}.logits`, outChannels: 1, kernel: 1, output: "f32" }),
      { name },
    );
  b.output(descriptors, map("reliability"), map("repeatability"));
  return b.build({ name: "match_half_grid", task: "match" });
}

Deno.test("match maps keypoints of a stride-2 model's half grid to original pixels", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_match_" });
  try {
    const dir = await copyPlugin(HERE, `${root}/match`, {
      files: { "model.safetensors": halfGridModel() },
      manifest: { input: { width: 64, height: 48, channels: 3 } },
    });
    await using plugin = await openTestHost(dir, { options: OPTIONS });
    const png = encodePng(sceneImage(128, 96, { seed: 4 }));
    const data = (await plugin.infer([png, png])).result.data as unknown as MatchData;
    assertIdentity(data);
    // Cell x of the 32-wide grid is input pixel 2x, original pixel 4x (128 / 32).
    for (const match of data.matches) {
      assert.ok(match.a[0] % 4 === 0 && match.a[1] % 4 === 0, `point ${match.a}`);
    }
    assert.ok(data.matches.some((m) => m.a[0] > 64), "no point in the right half");
    assert.ok(data.matches.some((m) => m.a[1] > 48), "no point in the lower half");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("match against a stored reference image, and refuses frames 1 without one", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_match_" });
  try {
    const model = buildR2d2({ width: 0.125, inputSize: [48, 64], descriptorBits: 128 });
    const png = encodePng(sceneImage(64, 48, { seed: 9 }));
    const dir = await copyPlugin(HERE, `${root}/match`, {
      files: { "model.safetensors": model.bytes, "reference.png": png },
      manifest: { input: { width: 64, height: 48, channels: 3 }, frames: 1 },
    });
    {
      await using plugin = await openTestHost(dir, {
        options: { ...OPTIONS, reference: "reference.png" },
      });
      const data = (await plugin.infer([png])).result.data as unknown as MatchData;
      assert.equal(data.against, "reference");
      assertIdentity(data);
    }
    await assert.rejects(openTestHost(dir, { options: OPTIONS }), /must name an image/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

conformanceSuite("match", {
  dir: HERE,
  files: {
    "model.safetensors":
      buildR2d2({ width: 0.125, inputSize: [48, 64], descriptorBits: 128 }).bytes,
  },
  manifest: { input: { width: 64, height: 48, channels: 3 } },
});
