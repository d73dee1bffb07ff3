/**
 * The `classify` plugin: runs a BiNeal classifier on the frame and returns the top-k
 * labels with their softmax probabilities.
 *
 * Model: one u8 image input (`image`, `[1, H, W, 1|3]`) and an f32 `logits` output with
 * one score per class (else the model's first output).
 *
 * @module
 */

import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import { definePlugin } from "../../daemon/sdk/plugin.ts";
import {
  imageToInput,
  labelOf,
  outputInfo,
  readLabels,
  softmax,
  topK,
} from "../../daemon/sdk/vision/mod.ts";

let model: ModelInstance | null = null;
let logits = "logits";
let labels: string[] = [];
let input: Uint8Array | undefined;

export default definePlugin({
  async setup(ctx) {
    model = await ctx.loadModel("model");
    logits = outputInfo(model, "logits", { dtype: "f32", fallback: 0 }).name;
    labels = await readLabels(`${ctx.dir}/${ctx.options.labels}`);
    ctx.log("debug", `classify: ${labels.length} labels, output '${logits}'`);
  },
  process(frame, ctx) {
    if (model === null) throw new Error("classify: process() before setup()");
    const inputs = imageToInput(frame.images[0], model, { out: input });
    input = Object.values(inputs)[0];
    const scores = model.run(inputs)[logits] as Float32Array;
    const probabilities = softmax(scores);
    const minScore = ctx.options.minScore as number;
    const top = topK(probabilities, ctx.options.k as number)
      .filter((entry) => entry.score >= minScore)
      .map((entry) => ({
        classId: entry.index,
        label: labelOf(labels, entry.index),
        score: entry.score,
      }));
    return { data: { top, classes: scores.length } };
  },
  teardown() {
    model = null;
  },
});
