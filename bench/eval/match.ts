/**
 * Matching accuracy on the held-out pairs that the training package writes
 * (`python -m onebit_train evalset match`, train/onebit_train/tasks/match.py): warps of
 * held-out photographs with known homographies, and OpenCV's graf1/graf3 pair with its ground
 * truth (H1to3p). Every pair goes through what `plugins/match/mod.ts` does, with the same SDK
 * functions and the manifest's option defaults: keypoints (`selectKeypoints`), descriptors
 * (`gatherDescriptors`), Hamming matching in the kernel library (`matchDescriptors`: ratio test,
 * cross check) and a seeded RANSAC homography (`findHomography`).
 *
 * Metrics, over the warps: the homography accuracy (fraction of pairs whose estimated
 * homography moves the corners of the first image less than 5 px on average from where the
 * true one puts them; a pair without an estimate counts as a miss) and the mean matching
 * accuracy (MMA: per pair the fraction of matches whose reprojection error under the true
 * homography is below 3 px, averaged over pairs; a pair without matches counts as 0). The
 * graf pair is reported on its own (corner error, inliers, MMA).
 *
 * @module
 */

import type { Image } from "../../daemon/sdk/image.ts";
import type { PluginManifest } from "../../daemon/sdk/plugin.ts";
import {
  applyHomography,
  findHomography,
  gatherDescriptors,
  imageToInput,
  matchDescriptors,
  type Matrix3,
  outputInfo,
  type PointPair,
  selectKeypoints,
} from "../../daemon/sdk/vision/mod.ts";
import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import {
  type EvalAccuracy,
  type EvalContext,
  type EvalVariant,
  readEvalset,
  readRawImage,
} from "./task.ts";

/** One pair of `manifest.json`: raw u8 RGB images and the homography from `a` to `b`. */
interface PairEntry {
  name: string;
  kind: "graf" | "warp";
  a: string;
  b: string;
  homography: number[];
}

/** `manifest.json` of the match evalset. */
interface MatchEvalset {
  height: number;
  width: number;
  channels: number;
  pairs: PairEntry[];
  mma_px: number;
  corner_px: number;
}

/** Reported when no homography was found (JSON has no infinity). */
const CORNER_ERROR_NONE_PX = 1e6;

/** The plugin's matching options: the manifest's defaults, as `process` reads them. */
interface MatchOptions {
  maxKeypoints: number;
  repeatabilityMin: number;
  reliabilityMin: number;
  nmsRadius: number;
  ratio: number;
  crossCheck: boolean;
  ransacThreshold: number;
}

function optionDefaults(manifest: PluginManifest): MatchOptions {
  const option = <T extends number | boolean>(name: string): T => {
    const spec = manifest.options?.[name];
    if (spec === undefined) {
      throw new Error(`eval match: plugin.json of '${manifest.name}' has no option '${name}'`);
    }
    return spec.default as T;
  };
  return {
    maxKeypoints: option<number>("maxKeypoints"),
    repeatabilityMin: option<number>("repeatabilityMin"),
    reliabilityMin: option<number>("reliabilityMin"),
    nmsRadius: option<number>("nmsRadius"),
    ratio: option<number>("ratio"),
    crossCheck: option<boolean>("crossCheck"),
    ransacThreshold: option<number>("ransacThreshold"),
  };
}

/** Keypoints (pixels of `image`) and packed descriptors of one image, as mod.ts computes them. */
function features(
  instance: ModelInstance,
  image: Image,
  options: MatchOptions,
): { points: [number, number][]; descriptors: BigUint64Array; bits: number } {
  const descriptorInfo = outputInfo(instance, "descriptors", { dtype: "bits" });
  const [, gridHeight, gridWidth, bits] = descriptorInfo.shape;
  const outputs = instance.run(imageToInput(image, instance));
  const keypoints = selectKeypoints(
    outputs.repeatability as Float32Array,
    outputs.reliability as Float32Array,
    {
      width: gridWidth,
      height: gridHeight,
      radius: options.nmsRadius,
      repeatabilityMin: options.repeatabilityMin,
      reliabilityMin: options.reliabilityMin,
      max: options.maxKeypoints,
    },
  );
  const descriptors = gatherDescriptors(outputs.descriptors as BigUint64Array, keypoints, {
    width: gridWidth,
    bits,
  });
  // Grid cells to image pixels: cell x is centred on model pixel x * stride (mod.ts).
  const sx = image.width / gridWidth;
  const sy = image.height / gridHeight;
  const points = keypoints.map((k): [number, number] => [k.x * sx, k.y * sy]);
  return { points, descriptors, bits };
}

/** The scores of one pair for one model. */
interface PairScore {
  keypoints: number;
  matches: number;
  mma: number;
  inliers: number;
  cornerErrorPx: number;
}

function scorePair(
  instance: ModelInstance,
  images: [Image, Image],
  truth: Matrix3,
  options: MatchOptions,
  thresholds: { mmaPx: number },
): PairScore {
  const first = features(instance, images[0], options);
  const second = features(instance, images[1], options);
  const matches = matchDescriptors(instance.context, {
    query: first.descriptors,
    train: second.descriptors,
  }, { bits: first.bits, ratio: options.ratio, crossCheck: options.crossCheck });
  const pairs: PointPair[] = matches.map((m) =>
    [...first.points[m.query], ...second.points[m.train]] as PointPair
  );
  let correct = 0;
  for (const [ax, ay, bx, by] of pairs) {
    const [x, y] = applyHomography(truth, ax, ay);
    if (Math.hypot(x - bx, y - by) < thresholds.mmaPx) correct++;
  }
  const homography = findHomography(pairs, { threshold: options.ransacThreshold, seed: 1 });
  const { width, height } = images[0];
  let cornerErrorPx = CORNER_ERROR_NONE_PX;
  if (homography !== null) {
    const corners = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]];
    let sum = 0;
    for (const [x, y] of corners) {
      const [ex, ey] = applyHomography(homography.matrix, x, y);
      const [tx, ty] = applyHomography(truth, x, y);
      sum += Math.hypot(ex - tx, ey - ty);
    }
    const mean = sum / corners.length;
    if (Number.isFinite(mean)) cornerErrorPx = Math.min(mean, CORNER_ERROR_NONE_PX);
  }
  return {
    keypoints: (first.points.length + second.points.length) / 2,
    matches: matches.length,
    mma: pairs.length > 0 ? correct / pairs.length : 0,
    inliers: homography?.inlierCount ?? 0,
    cornerErrorPx,
  };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Homography accuracy at 5 px (the table's metric) and MMA at 3 px of every variant on the
 * first `limit` held-out warps, plus the graf pair's corner error, inliers and MMA.
 *
 * @example
 * ```ts ignore
 * const accuracy = await evaluateMatch(variants, { pluginDir, manifest, limit: 30 });
 * console.log(accuracy.values.bineal, accuracy.extra?.bineal.mma_3px);
 * ```
 */
export async function evaluateMatch(
  variants: readonly EvalVariant[],
  context: EvalContext,
): Promise<EvalAccuracy> {
  const { dir, set } = await readEvalset<MatchEvalset>(
    "match",
    (set) =>
      set.channels === 3 && set.pairs?.some((pair) => pair.kind === "warp") &&
        set.pairs.some((pair) => pair.kind === "graf")
        ? null
        : "has no warps, no graf pair, or images that are not RGB",
  );
  const options = optionDefaults(context.manifest);
  const warps = set.pairs.filter((pair) => pair.kind === "warp").slice(0, context.limit);
  const graf = set.pairs.find((pair) => pair.kind === "graf");
  if (warps.length === 0 || graf === undefined) {
    throw new Error(`eval match: ${dir}/manifest.json has no warps or no graf pair`);
  }
  const load = async (pair: PairEntry): Promise<[Image, Image]> => [
    await readRawImage(`${dir}/${pair.a}`, set.width, set.height),
    await readRawImage(`${dir}/${pair.b}`, set.width, set.height),
  ];
  const thresholds = { mmaPx: set.mma_px };
  const scores = new Map<string, PairScore[]>(variants.map((variant) => [variant.name, []]));
  for (const pair of warps) {
    const images = await load(pair);
    for (const variant of variants) {
      scores.get(variant.name)!.push(
        scorePair(variant.instance, images, pair.homography, options, thresholds),
      );
    }
  }
  const grafImages = await load(graf);
  const values: Record<string, number> = {};
  const extra: Record<string, Record<string, number>> = {};
  for (const variant of variants) {
    const rows = scores.get(variant.name)!;
    values[variant.name] = mean(rows.map((row) => row.cornerErrorPx < set.corner_px ? 1 : 0));
    const g = scorePair(variant.instance, grafImages, graf.homography, options, thresholds);
    extra[variant.name] = {
      mma_3px: mean(rows.map((row) => row.mma)),
      keypoints: mean(rows.map((row) => row.keypoints)),
      matches: mean(rows.map((row) => row.matches)),
      inliers: mean(rows.map((row) => row.inliers)),
      graf_corner_error_px: g.cornerErrorPx,
      graf_inliers: g.inliers,
      graf_matches: g.matches,
      graf_mma_3px: g.mma,
    };
  }
  return {
    metric: "homography_accuracy_5px",
    label: "H acc @5px",
    count: warps.length,
    values,
    extra,
    format: (value) => `${(100 * value).toFixed(1)}%`,
  };
}
