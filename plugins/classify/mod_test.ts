import { conformanceSuite } from "../../daemon/sdk/conformance.ts";
import assert from "node:assert/strict";
import { encodePng } from "../../daemon/media/mod.ts";
import { buildBinealResNet18 } from "../../daemon/runtime/zoo.ts";
import { copyPlugin, openTestHost, sceneImage } from "../../daemon/sdk/testing.ts";

const HERE = import.meta.dirname!;

Deno.test("classify returns k Fashion-MNIST labels with probabilities, best first", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_classify_" });
  try {
    // A random-weight model of the trained architecture's shape: the structure is under test.
    const model = buildBinealResNet18({ width: 0.125, inputSize: 28, classes: 10 });
    const dir = await copyPlugin(HERE, `${root}/classify`, {
      files: { "model.safetensors": model.bytes },
      manifest: { input: { width: 28, height: 28, channels: 3 } },
    });
    await using plugin = await openTestHost(dir, { options: { k: 4 } });
    const outcome = await plugin.infer([encodePng(sceneImage(64, 48))]);
    const data = outcome.result.data as unknown as {
      top: { classId: number; label: string; score: number }[];
      classes: number;
    };
    assert.equal(data.classes, 10);
    assert.equal(data.top.length, 4);
    const labels = (await Deno.readTextFile(`${HERE}/labels.txt`)).split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"));
    for (let i = 0; i < data.top.length; i++) {
      const entry = data.top[i];
      assert.equal(entry.label, labels[entry.classId]);
      assert.ok(entry.score >= 0 && entry.score <= 1);
      if (i > 0) assert.ok(entry.score <= data.top[i - 1].score);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("classify refuses to load without its model file", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_classify_" });
  try {
    const dir = await copyPlugin(HERE, `${root}/classify`);
    // The folder ships its trained model: remove the copy's to see the refusal.
    await Deno.remove(`${dir}/model.safetensors`);
    await assert.rejects(openTestHost(dir), /model\.safetensors/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

conformanceSuite("classify", {
  dir: HERE,
  files: {
    "model.safetensors": buildBinealResNet18({ width: 0.125, inputSize: 28, classes: 10 }).bytes,
  },
  manifest: { input: { width: 28, height: 28, channels: 3 } },
});
