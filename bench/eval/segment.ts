/**
 * Segmentation accuracy: mIoU over the 11 classes (background and the ten Fashion-MNIST
 * classes) on the held-out composite scenes of the training package (`python -m onebit_train
 * evalset segment`: test photos with test glyphs composited at random scales, exact masks).
 *
 * The prediction is what the plugin returns: the model's `mask` output (or its first) read
 * with the SDK's `classMap` and resized to the scene with `resizeClassMap`, as
 * plugins/segment/mod.ts does. The IoU of a class is over the whole set (one confusion matrix
 * per variant); classes absent from both the truth and the prediction are skipped.
 *
 * @module
 */

import type { Image } from "../../daemon/sdk/image.ts";
import { classMap, imageToInput, outputInfo, resizeClassMap } from "../../daemon/sdk/vision/mod.ts";
import { type EvalAccuracy, type EvalContext, type EvalVariant, readEvalset } from "./task.ts";

/** The evalset's `manifest.json` (train/onebit_train/tasks/segment.py `write_evalset`). */
interface SegmentEvalset {
  count: number;
  height: number;
  width: number;
  channels: number;
  classes: number;
  labels: string[];
  images: string;
  masks: string;
}

/** Pixel counts, truth x prediction, `classes` x `classes` row-major. */
type Confusion = Float64Array;

/**
 * Mean IoU of a confusion matrix over the classes present in the truth or the prediction.
 *
 * @example
 * ```ts
 * import { meanIou } from "./segment.ts";
 * // 2 classes: truth 0 predicted 0 (3 pixels), truth 1 predicted 0 (1 pixel).
 * console.log(meanIou(new Float64Array([3, 0, 1, 0]), 2)); // (3/4 + 0) / 2 = 0.375
 * ```
 */
export function meanIou(confusion: Confusion, classes: number): number {
  let sum = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    const inter = confusion[c * classes + c];
    let union = -inter;
    for (let k = 0; k < classes; k++) {
      union += confusion[c * classes + k] + confusion[k * classes + c];
    }
    if (union > 0) {
      sum += inter / union;
      present++;
    }
  }
  return present === 0 ? 0 : sum / present;
}

/** Fraction of the pixels on the diagonal of a confusion matrix. */
export function pixelAccuracy(confusion: Confusion, classes: number): number {
  let diagonal = 0;
  let total = 0;
  for (let i = 0; i < confusion.length; i++) {
    total += confusion[i];
    if (i % classes === Math.floor(i / classes)) diagonal += confusion[i];
  }
  return total === 0 ? 0 : diagonal / total;
}

/** The class map `variant` returns for `image`, at the image's size (as the plugin does). */
function predict(variant: EvalVariant, image: Image): Uint16Array {
  const { instance } = variant;
  const output = outputInfo(instance, "mask", { fallback: 0 });
  const [, height, width, channels] = output.shape;
  const outputs = instance.run(imageToInput(image, instance));
  const map = classMap(outputs[output.name] as Float32Array | Int32Array, {
    width,
    height,
    channels,
  });
  return resizeClassMap(map, image.width, image.height).classes;
}

/** mIoU (and pixel accuracy) of every variant on the first `limit` held-out scenes. */
export async function evaluateSegment(
  variants: readonly EvalVariant[],
  context: EvalContext,
): Promise<EvalAccuracy> {
  const { dir, set } = await readEvalset<SegmentEvalset>(
    "segment",
    (set) =>
      set.count > 0 && set.classes > 1 && set.channels === 3
        ? null
        : `describes ${set.count} scenes of ${set.channels} channels and ${set.classes} classes, ` +
          "expected RGB scenes and 2 or more classes",
  );
  const { height, width, classes } = set;
  const pixels = height * width;
  const images = await Deno.readFile(`${dir}/${set.images}`);
  const masks = await Deno.readFile(`${dir}/${set.masks}`);
  if (images.length !== set.count * pixels * 3 || masks.length !== set.count * pixels) {
    throw new Error(
      `eval: ${dir} holds ${images.length} image and ${masks.length} mask bytes, expected ` +
        `${set.count} scenes of ${width}x${height}`,
    );
  }
  const count = Math.min(context.limit, set.count);
  const confusions = new Map(variants.map((v) => [v.name, new Float64Array(classes * classes)]));
  // The all-background prediction, a floor every trained model must clear.
  const background = new Float64Array(classes * classes);
  for (let index = 0; index < count; index++) {
    const image: Image = {
      width,
      height,
      channels: 3,
      data: images.subarray(index * pixels * 3, (index + 1) * pixels * 3),
    };
    const truth = masks.subarray(index * pixels, (index + 1) * pixels);
    for (let p = 0; p < pixels; p++) background[truth[p] * classes]++;
    for (const variant of variants) {
      const predicted = predict(variant, image);
      const confusion = confusions.get(variant.name)!;
      for (let p = 0; p < pixels; p++) {
        const id = predicted[p];
        if (id >= classes) {
          throw new Error(
            `eval: ${variant.name} predicts class ${id} in scene ${index}, the evalset has ` +
              `${classes} classes`,
          );
        }
        confusion[truth[p] * classes + id]++;
      }
    }
  }
  const measure = (metric: (c: Confusion, k: number) => number) =>
    Object.fromEntries(
      variants.map((v) => [v.name, metric(confusions.get(v.name)!, classes)]),
    );
  const accuracy = measure(pixelAccuracy);
  const percent = (value: number) => `${(100 * value).toFixed(2)}%`;
  return {
    metric: "miou_composite_test",
    label: "mIoU",
    count,
    values: measure(meanIou),
    extra: Object.fromEntries(
      variants.map((v) => [v.name, { pixel_accuracy: accuracy[v.name] }]),
    ),
    format: percent,
    note: `mIoU over ${classes} classes (background and the Fashion-MNIST classes) on ` +
      `${width}x${height} held-out scenes (test photos, test glyphs); pixel accuracy ` +
      variants.map((v) => `${percent(accuracy[v.name])} (${v.name})`).join(", ") +
      `. All-background prediction: mIoU ${percent(meanIou(background, classes))}, pixel ` +
      `accuracy ${percent(pixelAccuracy(background, classes))}.`,
  };
}
