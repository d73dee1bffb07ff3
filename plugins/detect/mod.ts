/**
 * The `detect` plugin: a CenterNet-style BiNeal detector. Heatmap peaks (3x3 max-pool NMS,
 * top K above a threshold) become boxes from the size and offset regressions, returned in
 * the pixel coordinates of the original image with labels and scores.
 *
 * Model: one u8 image input and three outputs on one grid (stride = input / grid):
 * `heatmap` f32 `[1, h, w, classes]` (after the sigmoid), `size` and `offset` f32
 * `[1, h, w, 2]`.
 *
 * @module
 */

import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import { definePlugin } from "../../daemon/sdk/plugin.ts";
import {
  decodeCenterNet,
  frameGeometry,
  imageInputOf,
  imageToInput,
  labelOf,
  outputInfo,
  readLabels,
} from "../../daemon/sdk/vision/mod.ts";

let model: ModelInstance | null = null;
let labels: string[] = [];
let grid = { height: 0, width: 0, classes: 0, stride: 4 };

export default definePlugin({
  async setup(ctx) {
    model = await ctx.loadModel("model");
    const heatmap = outputInfo(model, "heatmap", { dtype: "f32" });
    outputInfo(model, "size", { dtype: "f32" });
    outputInfo(model, "offset", { dtype: "f32" });
    const [, height, width, classes] = heatmap.shape;
    const input = imageInputOf(model);
    grid = { height, width, classes, stride: input.width / width };
    labels = await readLabels(`${ctx.dir}/${ctx.options.labels}`);
  },
  process(frame, ctx) {
    if (model === null) throw new Error("detect: process() before setup()");
    const outputs = model.run(imageToInput(frame.images[0], model));
    const geometry = frameGeometry(frame, ctx.manifest);
    // The model sees the manifest's input; its input may differ (imageToInput resizes).
    const sx = ctx.manifest.input.width / imageInputOf(model).width;
    const sy = ctx.manifest.input.height / imageInputOf(model).height;
    const detections = decodeCenterNet({
      heatmap: outputs.heatmap as Float32Array,
      size: outputs.size as Float32Array,
      offset: outputs.offset as Float32Array,
      gridHeight: grid.height,
      gridWidth: grid.width,
      classes: grid.classes,
    }, {
      stride: grid.stride,
      threshold: ctx.options.threshold as number,
      k: ctx.options.k as number,
      sizeUnit: ctx.options.sizeUnit as "grid" | "input",
      map: (x, y) => geometry.toOriginal(x * sx, y * sy),
      clampWidth: geometry.originalWidth,
      clampHeight: geometry.originalHeight,
    });
    const boxes = detections.map((box) => ({
      label: labelOf(labels, box.classId),
      classId: box.classId,
      score: box.score,
      box: [box.x1, box.y1, box.x2, box.y2],
    }));
    return {
      data: {
        boxes,
        width: geometry.originalWidth,
        height: geometry.originalHeight,
      },
    };
  },
  teardown() {
    model = null;
  },
});
