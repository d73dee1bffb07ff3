/**
 * The `match` plugin: R2D2-style keypoints and binary descriptors from a BiNeal network,
 * Hamming matching in the kernel library (ratio test, cross check), and a RANSAC
 * homography with its inliers. Matches the two images of a frame (`"frames": 2`), or every
 * frame against a reference image stored in the folder (option `reference`, with
 * `"frames": 1`).
 *
 * Model: one u8 image input and three outputs on one grid: `descriptors` bits
 * `[1, h, w, bits]`, `repeatability` and `reliability` f32 `[1, h, w, 1]`. The grid is the
 * input size (the zoo's R2D2) or a fraction of it (the trained model's stem has stride 2):
 * cell (x, y) is centred on model pixel (x * W / w, y * H / h).
 *
 * @module
 */

import { decodeImage, fitImage } from "../../daemon/media/mod.ts";
import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import type { Image } from "../../daemon/sdk/image.ts";
import { definePlugin, type PluginContext } from "../../daemon/sdk/plugin.ts";
import {
  findHomography,
  frameGeometry,
  gatherDescriptors,
  imageToInput,
  type Keypoint,
  matchDescriptors,
  outputInfo,
  type PointPair,
  selectKeypoints,
} from "../../daemon/sdk/vision/mod.ts";

/** Keypoints of one image with their descriptors, in original pixel coordinates. */
interface Features {
  points: [number, number][];
  descriptors: BigUint64Array;
}

let model: ModelInstance | null = null;
let bits = 128;
/** The maps' grid (the descriptors' height and width). */
let grid = { width: 0, height: 0 };
let reference: { features: Features; width: number; height: number } | null = null;

/** Keypoints and descriptors of a fitted image; `toOriginal` maps model pixels back. */
function features(
  image: Image,
  ctx: PluginContext,
  toOriginal: (x: number, y: number) => [number, number],
): Features {
  if (model === null) throw new Error("match: used before setup()");
  const outputs = model.run(imageToInput(image, model));
  const keypoints: Keypoint[] = selectKeypoints(
    outputs.repeatability as Float32Array,
    outputs.reliability as Float32Array,
    {
      width: grid.width,
      height: grid.height,
      radius: ctx.options.nmsRadius as number,
      repeatabilityMin: ctx.options.repeatabilityMin as number,
      reliabilityMin: ctx.options.reliabilityMin as number,
      max: ctx.options.maxKeypoints as number,
    },
  );
  const descriptors = gatherDescriptors(outputs.descriptors as BigUint64Array, keypoints, {
    width: grid.width,
    bits,
  });
  // Grid cells to model pixels (x * stride), then to the fitted image's pixels (they differ
  // when the model input does): one scale for both steps.
  const sx = image.width / grid.width;
  const sy = image.height / grid.height;
  const points = keypoints.map((k): [number, number] => toOriginal(k.x * sx, k.y * sy));
  return { points, descriptors };
}

export default definePlugin({
  async setup(ctx) {
    model = await ctx.loadModel("model");
    const [, gridHeight, gridWidth, descriptorBits] =
      outputInfo(model, "descriptors", { dtype: "bits" }).shape;
    bits = descriptorBits;
    if (bits % 64 !== 0) {
      throw new Error(`match: descriptors have ${bits} bits, not a multiple of 64`);
    }
    grid = { width: gridWidth, height: gridHeight };
    for (const name of ["repeatability", "reliability"]) {
      const shape = outputInfo(model, name, { dtype: "f32" }).shape;
      if (shape[1] !== gridHeight || shape[2] !== gridWidth || shape[3] !== 1) {
        throw new Error(
          `match: output '${name}' is [${shape}], expected [1, ${gridHeight}, ${gridWidth}, 1] ` +
            "(the descriptors' grid)",
        );
      }
    }
    reference = null;
    const file = ctx.options.reference as string;
    if (file !== "") {
      if (file.startsWith("/") || file.split(/[\\/]/).includes("..")) {
        throw new Error(`match: option reference is '${file}', expected a file in the folder`);
      }
      const bytes = await Deno.readFile(`${ctx.dir}/${file}`);
      const lower = file.toLowerCase();
      const mediaType = lower.endsWith(".png")
        ? "image/png"
        : lower.endsWith(".jpg") || lower.endsWith(".jpeg")
        ? "image/jpeg"
        : "image/x-portable-pixmap";
      const decoded = decodeImage({ bytes, mediaType }, { pixelsMax: 1 << 26 });
      const { width, height, channels } = ctx.manifest.input;
      const fitted = fitImage(decoded, { width, height, channels, mode: "stretch" });
      const sx = decoded.width / width;
      const sy = decoded.height / height;
      reference = {
        features: features(fitted, ctx, (x, y) => [x * sx, y * sy]),
        width: decoded.width,
        height: decoded.height,
      };
    } else if ((ctx.manifest.frames ?? 1) !== 2) {
      throw new Error("match: with \"frames\": 1 the option 'reference' must name an image");
    }
  },
  process(frame, ctx) {
    if (model === null) throw new Error("match: process() before setup()");
    const first = features(frame.images[0], ctx, frameGeometry(frame, ctx.manifest, 0).toOriginal);
    const second = reference !== null
      ? reference.features
      : features(frame.images[1], ctx, frameGeometry(frame, ctx.manifest, 1).toOriginal);
    const matches = matchDescriptors(ctx.kernels, {
      query: first.descriptors,
      train: second.descriptors,
    }, {
      bits,
      ratio: ctx.options.ratio as number,
      crossCheck: ctx.options.crossCheck as boolean,
    });
    const pairs: PointPair[] = matches.map((m) =>
      [
        ...first.points[m.query],
        ...second.points[m.train],
      ] as PointPair
    );
    const homography = findHomography(pairs, {
      threshold: ctx.options.ransacThreshold as number,
      seed: 1,
    });
    const listed = matches.slice(0, ctx.options.matchesMax as number).map((m, index) => ({
      a: first.points[m.query],
      b: second.points[m.train],
      distance: m.distance,
      inlier: homography !== null && homography.inliers[index] === 1,
    }));
    return {
      data: {
        keypoints: [first.points.length, second.points.length],
        matchCount: matches.length,
        matches: listed,
        homography: homography === null ? null : [...homography.matrix],
        inliers: homography?.inlierCount ?? 0,
        against: reference !== null ? "reference" : "pair",
      },
    };
  },
  teardown() {
    model = null;
    reference = null;
  },
});
