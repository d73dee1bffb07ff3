import { conformanceSuite } from "../../daemon/sdk/conformance.ts";
import assert from "node:assert/strict";
import { decodePng, encodePng } from "../../daemon/media/mod.ts";
import { buildFcn } from "../../daemon/runtime/zoo.ts";
import { copyPlugin, openTestHost, sceneImage } from "../../daemon/sdk/testing.ts";

const HERE = import.meta.dirname!;

interface Area {
  classId: number;
  label: string;
  pixels: number;
  fraction: number;
}

/** Classes of the trained model: background and the ten Fashion-MNIST classes. */
const CLASSES = 11;

Deno.test("segment returns masks at the original size, areas covering every pixel, labels", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_segment_" });
  try {
    const labels = (await Deno.readTextFile(`${HERE}/labels.txt`)).split("\n")
      .filter((line) => line !== "");
    assert.equal(labels.length, CLASSES);
    const model = buildFcn({ width: 0.125, inputSize: [32, 64], classes: CLASSES });
    const dir = await copyPlugin(HERE, `${root}/segment`, {
      files: { "model.safetensors": model.bytes },
      manifest: { input: { width: 64, height: 32, channels: 3 } },
    });
    await using plugin = await openTestHost(dir);
    const outcome = await plugin.infer([encodePng(sceneImage(90, 50))]);
    const data = outcome.result.data as unknown as { width: number; height: number; areas: Area[] };
    assert.deepEqual([data.width, data.height], [90, 50]);
    assert.equal(data.areas.reduce((sum, area) => sum + area.pixels, 0), 90 * 50);
    for (const area of data.areas) {
      assert.ok(area.classId >= 0 && area.classId < CLASSES);
      assert.equal(area.label, labels[area.classId]);
    }
    const images = outcome.result.images!;
    const mask = decodePng(images.mask.bytes, { pixelsMax: 1 << 20 });
    assert.deepEqual([mask.width, mask.height, mask.channels], [90, 50, 3]);
    const ids = decodePng(images.classes.bytes, { pixelsMax: 1 << 20 });
    assert.deepEqual([ids.width, ids.height, ids.channels], [90, 50, 1]);
    const counted = new Map<number, number>();
    for (const id of ids.data) counted.set(id, (counted.get(id) ?? 0) + 1);
    for (const area of data.areas) assert.equal(counted.get(area.classId), area.pixels);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

conformanceSuite("segment", {
  dir: HERE,
  files: {
    "model.safetensors": buildFcn({ width: 0.125, inputSize: [32, 64], classes: CLASSES }).bytes,
  },
  manifest: { input: { width: 64, height: 32, channels: 3 } },
});
