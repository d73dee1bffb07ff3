/**
 * The `segment` plugin: an FCN-style BiNeal segmenter. Returns the per-pixel class map as
 * two PNGs, `mask` (a colour per class, the Cityscapes palette first) and `classes` (gray,
 * pixel value = class id), and the area of every class present.
 *
 * Model: one u8 image input and one output at the input size: i32 class ids
 * `[1, H, W, 1]` (`mask`, an argmax head) or f32 scores `[1, H, W, classes]`.
 *
 * @module
 */

import { encodePng } from "../../daemon/media/mod.ts";
import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import { definePlugin } from "../../daemon/sdk/plugin.ts";
import {
  classAreas,
  classMap,
  imageToInput,
  labelOf,
  type OutputInfo,
  outputInfo,
  paletteMask,
  readLabels,
  resizeClassMap,
} from "../../daemon/sdk/vision/mod.ts";

let model: ModelInstance | null = null;
let output: OutputInfo | null = null;
let labels: string[] = [];

export default definePlugin({
  async setup(ctx) {
    model = await ctx.loadModel("model");
    output = outputInfo(model, "mask", { fallback: 0 });
    if (output.dtype !== "i32" && output.dtype !== "f32") {
      throw new Error(`segment: output '${output.name}' is ${output.dtype}, expected i32 or f32`);
    }
    labels = await readLabels(`${ctx.dir}/${ctx.options.labels}`);
  },
  process(frame, ctx) {
    if (model === null || output === null) throw new Error("segment: process() before setup()");
    const outputs = model.run(imageToInput(frame.images[0], model));
    const [, height, width, channels] = output.shape;
    let map = classMap(outputs[output.name] as Float32Array | Int32Array, {
      width,
      height,
      channels,
    });
    const size = ctx.options.maskSize === "original"
      ? frame.originalSizes[0]
      : { width: ctx.manifest.input.width, height: ctx.manifest.input.height };
    map = resizeClassMap(map, size.width, size.height);
    const ids = new Uint8Array(map.classes.length);
    for (let i = 0; i < ids.length; i++) ids[i] = Math.min(255, map.classes[i]);
    const areas = classAreas(map).map((area) => ({
      classId: area.classId,
      label: labelOf(labels, area.classId),
      pixels: area.pixels,
      fraction: area.fraction,
    }));
    return {
      data: { width: map.width, height: map.height, areas },
      images: {
        mask: { mediaType: "image/png", bytes: encodePng(paletteMask(map)) },
        classes: {
          mediaType: "image/png",
          bytes: encodePng({ width: map.width, height: map.height, channels: 1, data: ids }),
        },
      },
    };
  },
  teardown() {
    model = null;
  },
});
