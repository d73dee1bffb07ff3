import { conformanceSuite } from "../../daemon/sdk/conformance.ts";
import assert from "node:assert/strict";
import { decodePng, encodePng } from "../../daemon/media/mod.ts";
import { buildEdsr } from "../../daemon/runtime/zoo.ts";
import { copyPlugin, openTestHost, sceneImage } from "../../daemon/sdk/testing.ts";

const HERE = import.meta.dirname!;

Deno.test("superres returns a PNG at twice the input size", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_superres_" });
  try {
    const model = buildEdsr({ width: 0.125, inputSize: [24, 32], blocks: 2 });
    const dir = await copyPlugin(HERE, `${root}/superres`, {
      files: { "model.safetensors": model.bytes },
      manifest: { input: { width: 32, height: 24, channels: 3 } },
    });
    await using plugin = await openTestHost(dir);
    const outcome = await plugin.infer([encodePng(sceneImage(64, 48))]);
    assert.deepEqual(outcome.result.data, { width: 64, height: 48, scale: 2 });
    const png = decodePng(outcome.result.images!.upscaled.bytes, { pixelsMax: 1 << 20 });
    assert.deepEqual([png.width, png.height, png.channels], [64, 48, 3]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

conformanceSuite("superres", {
  dir: HERE,
  files: { "model.safetensors": buildEdsr({ width: 0.125, inputSize: [24, 32], blocks: 2 }).bytes },
  manifest: { input: { width: 32, height: 24, channels: 3 } },
});
