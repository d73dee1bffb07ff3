import { conformanceSuite } from "../../daemon/sdk/conformance.ts";
import assert from "node:assert/strict";
import { encodePng } from "../../daemon/media/mod.ts";
import { buildCenterNet } from "../../daemon/runtime/zoo.ts";
import { copyPlugin, openTestHost, sceneImage } from "../../daemon/sdk/testing.ts";

const HERE = import.meta.dirname!;

interface Box {
  label: string;
  classId: number;
  score: number;
  box: [number, number, number, number];
}

Deno.test("detect returns at most k scored boxes inside the original image", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_detect_" });
  try {
    const model = buildCenterNet({ width: 0.125, inputSize: 64, classes: 3, headChannels: 8 });
    const dir = await copyPlugin(HERE, `${root}/detect`, {
      files: { "model.safetensors": model.bytes, "labels.txt": "cat\ndog\ncar\n" },
      manifest: { input: { width: 64, height: 64, channels: 3, resize: "letterbox" } },
    });
    // Threshold 0 so the random-weight model yields boxes: their geometry is under test.
    await using plugin = await openTestHost(dir, { options: { threshold: 0, k: 7 } });
    const outcome = await plugin.infer([encodePng(sceneImage(120, 80))]);
    const data = outcome.result.data as unknown as { boxes: Box[]; width: number; height: number };
    assert.deepEqual([data.width, data.height], [120, 80]);
    assert.equal(data.boxes.length, 7);
    for (const [index, { label, classId, score, box }] of data.boxes.entries()) {
      assert.equal(label, ["cat", "dog", "car"][classId]);
      assert.ok(score >= 0 && score <= 1);
      if (index > 0) assert.ok(score <= data.boxes[index - 1].score);
      const [x1, y1, x2, y2] = box;
      assert.ok(0 <= x1 && x1 <= x2 && x2 <= 120, `box ${box}`);
      assert.ok(0 <= y1 && y1 <= y2 && y2 <= 80, `box ${box}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detect refuses a model without the CenterNet outputs", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_detect_" });
  try {
    const { buildEdsr } = await import("../../daemon/runtime/zoo.ts");
    const wrong = buildEdsr({ width: 0.125, inputSize: 16, blocks: 1 });
    const dir = await copyPlugin(HERE, `${root}/detect`, {
      files: { "model.safetensors": wrong.bytes },
    });
    await assert.rejects(openTestHost(dir), /no output 'heatmap'/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

conformanceSuite("detect", {
  dir: HERE,
  files: {
    "model.safetensors":
      buildCenterNet({ width: 0.125, inputSize: 64, classes: 3, headChannels: 8 }).bytes,
  },
  manifest: { input: { width: 64, height: 64, channels: 3, resize: "letterbox" } },
});
