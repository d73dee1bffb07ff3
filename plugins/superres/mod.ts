/**
 * The `superres` plugin: an EDSR-style BiNeal super-resolver (8-bit first and last layers,
 * binary body). Returns the upscaled frame as the PNG `upscaled`.
 *
 * Model: one u8 image input `[1, H, W, 3]` and a u8 `upscaled` output `[1, sH, sW, 3]`
 * (s = 2 for the shipped model).
 *
 * @module
 */

import { encodePng } from "../../daemon/media/mod.ts";
import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import { definePlugin } from "../../daemon/sdk/plugin.ts";
import {
  imageInputOf,
  imageToInput,
  type OutputInfo,
  outputInfo,
  tensorToImage,
} from "../../daemon/sdk/vision/mod.ts";

let model: ModelInstance | null = null;
let output: OutputInfo | null = null;
let scale = 2;

export default definePlugin({
  async setup(ctx) {
    model = await ctx.loadModel("model");
    output = outputInfo(model, "upscaled", { dtype: "u8", fallback: 0 });
    const input = imageInputOf(model);
    scale = output.shape[2] / input.width;
    if (!Number.isInteger(scale) || output.shape[1] !== input.height * scale) {
      throw new Error(
        `superres: output '${output.name}' [${output.shape}] is not an integer multiple of ` +
          `the input ${input.height}x${input.width}`,
      );
    }
  },
  process(frame) {
    if (model === null || output === null) throw new Error("superres: process() before setup()");
    const outputs = model.run(imageToInput(frame.images[0], model));
    const image = tensorToImage(outputs[output.name] as Uint8Array, output.shape);
    return {
      data: { width: image.width, height: image.height, scale },
      images: { upscaled: { mediaType: "image/png", bytes: encodePng(image) } },
    };
  },
  teardown() {
    model = null;
  },
});
