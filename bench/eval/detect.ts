/**
 * Detection accuracy: mAP@0.5 over the ten Fashion-MNIST classes on the held-out composite
 * scenes of the training package (`python -m onebit_train evalset detect`: test glyphs
 * composited at random scales onto held-out photos, exact boxes).
 *
 * The detections are what the plugin returns: the model's `heatmap`, `size` and `offset`
 * decoded by the SDK's `decodeCenterNet` with the plugin's options (stride from the grid, its
 * default `k` and `sizeUnit`, boxes mapped to the scene and clamped to it, as
 * plugins/detect/mod.ts does), except for the score threshold: 0.05 instead of the plugin's
 * 0.3, so the precision-recall curve reaches low-scoring detections (the usual mAP protocol).
 * AP is VOC's all-point interpolated AP at IoU ≥ 0.5, averaged over the classes that occur;
 * train/onebit_train/tasks/detect.py computes the same number with the exported semantics.
 *
 * @module
 */

import type { Image } from "../../daemon/sdk/image.ts";
import {
  decodeCenterNet,
  type Detection,
  imageInputOf,
  imageToInput,
  outputInfo,
} from "../../daemon/sdk/vision/mod.ts";
import {
  type EvalAccuracy,
  type EvalContext,
  type EvalVariant,
  readEvalset,
  type TaskEval,
} from "./task.ts";

/** Score threshold of the evaluation (the plugin's default is 0.3). */
export const EVAL_THRESHOLD = 0.05;
/** IoU at which a detection matches a ground-truth box. */
export const IOU_MATCH = 0.5;

/** The evalset's `manifest.json` (train/onebit_train/tasks/detect.py `write_evalset`). */
interface DetectEvalset {
  count: number;
  height: number;
  width: number;
  channels: number;
  classes: number;
  labels: string[];
  images: string;
  annotations: string;
}

/** One scene's ground truth: boxes `[x1, y1, x2, y2]` in pixels and their classes. */
export interface GroundTruth {
  boxes: number[][];
  labels: number[];
}

/** Intersection over union of two `[x1, y1, x2, y2]` boxes (0 when both are empty). */
export function iou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * VOC all-point interpolated average precision of ranked hits (`true` = true positive)
 * against `total` ground-truth boxes: the area under the precision-recall curve after
 * making precision non-increasing.
 *
 * @example
 * ```ts
 * import { averagePrecision } from "./detect.ts";
 * console.log(averagePrecision([true, false, true], 2)); // 0.5 + 0.5 * 2/3 ≈ 0.833
 * ```
 */
export function averagePrecision(hits: readonly boolean[], total: number): number {
  if (total <= 0) throw new Error(`averagePrecision: ${total} ground-truth boxes, expected > 0`);
  const recall = [0];
  const precision = [0];
  let found = 0;
  hits.forEach((hit, index) => {
    if (hit) found++;
    recall.push(found / total);
    precision.push(found / (index + 1));
  });
  recall.push(1);
  precision.push(0);
  for (let i = precision.length - 2; i >= 0; i--) {
    precision[i] = Math.max(precision[i], precision[i + 1]);
  }
  let ap = 0;
  for (let i = 0; i + 1 < recall.length; i++) {
    if (recall[i + 1] !== recall[i]) ap += (recall[i + 1] - recall[i]) * precision[i + 1];
  }
  return ap;
}

/**
 * Per-class AP at IoU ≥ {@linkcode IOU_MATCH} and their mean over the classes with ground
 * truth. `detections[i]` are scene i's detections (best first), `truth[i]` its boxes.
 * A class's detections are ranked by score, then scene, then rank in the scene; each is a
 * true positive when its best-overlapping ground-truth box of the class reaches the IoU and
 * is not matched yet (VOC's protocol).
 *
 * @example
 * ```ts
 * import { meanAveragePrecision } from "./detect.ts";
 * const truth = [{ boxes: [[0, 0, 10, 10]], labels: [0] }];
 * const found = [[{ classId: 0, score: 0.9, x1: 1, y1: 0, x2: 10, y2: 10 }]];
 * console.log(meanAveragePrecision(found, truth, 1).map); // 1
 * ```
 */
export function meanAveragePrecision(
  detections: readonly (readonly Detection[])[],
  truth: readonly GroundTruth[],
  classes: number,
): { map: number; perClass: Map<number, number> } {
  if (detections.length !== truth.length) {
    throw new Error(
      `meanAveragePrecision: ${detections.length} scenes of detections, ${truth.length} of truth`,
    );
  }
  const perClass = new Map<number, number>();
  for (let c = 0; c < classes; c++) {
    const boxes = truth.map((t) => t.boxes.filter((_, k) => t.labels[k] === c));
    const total = boxes.reduce((sum, b) => sum + b.length, 0);
    if (total === 0) continue;
    const ranked: { score: number; scene: number; rank: number; box: number[] }[] = [];
    detections.forEach((found, scene) =>
      found.forEach((d, rank) => {
        if (d.classId === c) {
          ranked.push({ score: d.score, scene, rank, box: [d.x1, d.y1, d.x2, d.y2] });
        }
      })
    );
    ranked.sort((a, b) => b.score - a.score || a.scene - b.scene || a.rank - b.rank);
    const matched = boxes.map((b) => b.map(() => false));
    const hits = ranked.map(({ scene, box }) => {
      let best = -1;
      let bestIou = -1;
      boxes[scene].forEach((g, k) => {
        const overlap = iou(box, g);
        if (overlap > bestIou) [best, bestIou] = [k, overlap];
      });
      if (best < 0 || bestIou < IOU_MATCH || matched[scene][best]) return false;
      matched[scene][best] = true;
      return true;
    });
    perClass.set(c, averagePrecision(hits, total));
  }
  const values = [...perClass.values()];
  const map = values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
  return { map, perClass };
}

/** The detections `variant` returns for `image`, in its pixels (as the plugin does). */
function detect(variant: EvalVariant, image: Image, context: EvalContext): Detection[] {
  const { instance } = variant;
  const heatmap = outputInfo(instance, "heatmap", { dtype: "f32" });
  const [, gridHeight, gridWidth, classes] = heatmap.shape;
  const input = imageInputOf(instance);
  const outputs = instance.run(imageToInput(image, instance));
  // The model sees `input`; the scene may differ in size (imageToInput resizes).
  const sx = image.width / input.width;
  const sy = image.height / input.height;
  const options = context.manifest.options ?? {};
  return decodeCenterNet({
    heatmap: outputs.heatmap as Float32Array,
    size: outputs.size as Float32Array,
    offset: outputs.offset as Float32Array,
    gridHeight,
    gridWidth,
    classes,
  }, {
    stride: input.width / gridWidth,
    threshold: EVAL_THRESHOLD,
    k: (options.k?.default ?? 100) as number,
    sizeUnit: (options.sizeUnit?.default ?? "grid") as "grid" | "input",
    map: (x, y) => [x * sx, y * sy],
    clampWidth: image.width,
    clampHeight: image.height,
  });
}

/** mAP@0.5 (and per-class AP) of every variant on the first `limit` held-out scenes. */
export const evaluateDetect: TaskEval = async (
  variants: readonly EvalVariant[],
  context: EvalContext,
): Promise<EvalAccuracy> => {
  const { dir, set } = await readEvalset<DetectEvalset>(
    "detect",
    (set) =>
      set.count > 0 && set.classes > 0 && set.channels === 3
        ? null
        : `describes ${set.count} scenes of ${set.channels} channels and ${set.classes} classes, ` +
          "expected RGB scenes and 1 or more classes",
  );
  const { height, width, classes } = set;
  const bytes = height * width * 3;
  const images = await Deno.readFile(`${dir}/${set.images}`);
  const truth: GroundTruth[] = JSON.parse(await Deno.readTextFile(`${dir}/${set.annotations}`));
  if (images.length !== set.count * bytes || truth.length !== set.count) {
    throw new Error(
      `eval: ${dir} holds ${images.length} image bytes and ${truth.length} annotations, ` +
        `expected ${set.count} scenes of ${width}x${height}`,
    );
  }
  for (const variant of variants) {
    const heatmap = outputInfo(variant.instance, "heatmap", { dtype: "f32" });
    if (heatmap.shape[3] !== classes) {
      throw new Error(
        `eval: ${variant.name} has ${heatmap.shape[3]} heatmap classes, the evalset ${classes}`,
      );
    }
  }
  const count = Math.min(context.limit, set.count);
  const found = new Map<string, Detection[][]>(variants.map((v) => [v.name, []]));
  for (let index = 0; index < count; index++) {
    const image: Image = {
      width,
      height,
      channels: 3,
      data: images.subarray(index * bytes, (index + 1) * bytes),
    };
    for (const variant of variants) found.get(variant.name)!.push(detect(variant, image, context));
  }
  const scenes = truth.slice(0, count);
  const results = new Map(
    variants.map((v) => [v.name, meanAveragePrecision(found.get(v.name)!, scenes, classes)]),
  );
  const objects = scenes.reduce((sum, scene) => sum + scene.labels.length, 0);
  return {
    metric: "map50_composite_test",
    label: "mAP@0.5",
    count,
    values: Object.fromEntries(variants.map((v) => [v.name, results.get(v.name)!.map])),
    extra: Object.fromEntries(
      variants.map((v) => [
        v.name,
        Object.fromEntries(
          [...results.get(v.name)!.perClass].map(([c, ap]) => [`ap50_${set.labels[c] ?? c}`, ap]),
        ),
      ]),
    ),
    format: (value) => `${(100 * value).toFixed(1)}%`,
    note: `mAP@0.5: VOC all-point AP at IoU ≥ ${IOU_MATCH} averaged over the ${classes} ` +
      `Fashion-MNIST classes, on ${width}x${height} held-out scenes (test photos, test glyphs, ` +
      `${objects} objects); the plugin's decode with a score threshold of ${EVAL_THRESHOLD}.`,
  };
};
