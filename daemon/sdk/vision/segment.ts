/**
 * Segmentation post-processing: a per-pixel class map from scores or class ids
 * ({@linkcode classMap}), per-class areas ({@linkcode classAreas}), resizing with nearest
 * neighbour ({@linkcode resizeClassMap}) and a colour mask image ({@linkcode paletteMask}).
 *
 * @module
 */

import type { Image } from "../image.ts";
import { VisionError } from "./errors.ts";

/** A per-pixel class map. */
export interface ClassMap {
  readonly width: number;
  readonly height: number;
  /** Class id per pixel, row-major. */
  readonly classes: Uint16Array;
}

/** Most classes a map may hold (ids fit a u16 and a palette). */
export const CLASSES_MAX = 1024;

/**
 * The class map of a segmenter's output, NHWC batch 1: with `channels` 1 the values are
 * class ids (the `mask` i32 output of an argmax head); with more, the per-pixel argmax of
 * the scores (ties: the lower class). Throws `shape_mismatch` for a wrong length and
 * `bad_argument` for a class id outside 0..{@linkcode CLASSES_MAX}-1.
 *
 * @example
 * ```ts
 * import { classMap } from "./segment.ts";
 * const scores = new Float32Array([0.1, 0.9, 0.8, 0.2]); // 1x2 pixels, 2 classes
 * console.log([...classMap(scores, { width: 2, height: 1, channels: 2 }).classes]); // [1, 0]
 * ```
 */
export function classMap(
  output: Float32Array | Int32Array | Uint8Array,
  shape: { width: number; height: number; channels: number },
): ClassMap {
  const { width, height, channels } = shape;
  if (output.length !== width * height * channels || channels < 1) {
    throw new VisionError(
      "shape_mismatch",
      `classMap: output has ${output.length} values, expected ${width}x${height}x${channels}`,
    );
  }
  const classes = new Uint16Array(width * height);
  if (channels === 1) {
    for (let i = 0; i < classes.length; i++) {
      const id = output[i];
      if (!Number.isInteger(id) || id < 0 || id >= CLASSES_MAX) {
        throw new VisionError(
          "bad_argument",
          `classMap: pixel ${i} has class ${id}, expected an integer 0..${CLASSES_MAX - 1}`,
        );
      }
      classes[i] = id;
    }
  } else {
    if (channels > CLASSES_MAX) {
      throw new VisionError("bad_argument", `classMap: ${channels} classes, max ${CLASSES_MAX}`);
    }
    for (let i = 0; i < classes.length; i++) {
      let best = 0;
      const base = i * channels;
      for (let c = 1; c < channels; c++) if (output[base + c] > output[base + best]) best = c;
      classes[i] = best;
    }
  }
  return { width, height, classes };
}

/**
 * `map` resized to `width` x `height` by nearest neighbour (class ids must not blend).
 */
export function resizeClassMap(map: ClassMap, width: number, height: number): ClassMap {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new VisionError("bad_argument", `resizeClassMap: size ${width}x${height}`);
  }
  if (width === map.width && height === map.height) return map;
  const classes = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(map.height - 1, Math.floor(((y + 0.5) * map.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(map.width - 1, Math.floor(((x + 0.5) * map.width) / width));
      classes[y * width + x] = map.classes[sy * map.width + sx];
    }
  }
  return { width, height, classes };
}

/** The area of one class in a {@linkcode ClassMap}. */
export interface ClassArea {
  readonly classId: number;
  /** Pixels of the class. */
  readonly pixels: number;
  /** `pixels` over all pixels. */
  readonly fraction: number;
}

/**
 * Pixels and fraction of every class present in `map`, largest first (ties: lower id).
 *
 * @example
 * ```ts
 * import { classAreas } from "./segment.ts";
 * const areas = classAreas({ width: 2, height: 2, classes: new Uint16Array([0, 3, 3, 3]) });
 * console.log(areas[0]); // { classId: 3, pixels: 3, fraction: 0.75 }
 * ```
 */
export function classAreas(map: ClassMap): ClassArea[] {
  const counts = new Map<number, number>();
  for (const id of map.classes) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = map.classes.length;
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([classId, pixels]) => ({
    classId,
    pixels,
    fraction: pixels / total,
  }));
}

/**
 * The colour of class `id`: the Cityscapes palette for its 19 classes, then well-spread
 * hues (golden-ratio steps) for higher ids.
 */
export function classColor(id: number): [number, number, number] {
  if (id < CITYSCAPES.length) return [...CITYSCAPES[id]];
  const hue = (id * 0.618033988749895) % 1;
  const f = (n: number) => {
    const k = (n + hue * 6) % 6;
    return Math.round(255 * (1 - 0.8 * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

const CITYSCAPES: readonly (readonly [number, number, number])[] = [
  [128, 64, 128],
  [244, 35, 232],
  [70, 70, 70],
  [102, 102, 156],
  [190, 153, 153],
  [153, 153, 153],
  [250, 170, 30],
  [220, 220, 0],
  [107, 142, 35],
  [152, 251, 152],
  [70, 130, 180],
  [220, 20, 60],
  [255, 0, 0],
  [0, 0, 142],
  [0, 0, 70],
  [0, 60, 100],
  [0, 80, 100],
  [0, 0, 230],
  [119, 11, 32],
];

/**
 * An RGB image of `map`, each pixel the {@linkcode classColor} of its class (encode it with
 * `encodePng` from daemon/media).
 */
export function paletteMask(map: ClassMap): Image {
  const data = new Uint8Array(map.width * map.height * 3);
  const cache = new Map<number, [number, number, number]>();
  for (let i = 0; i < map.classes.length; i++) {
    const id = map.classes[i];
    let color = cache.get(id);
    if (color === undefined) cache.set(id, color = classColor(id));
    data[i * 3] = color[0];
    data[i * 3 + 1] = color[1];
    data[i * 3 + 2] = color[2];
  }
  return { width: map.width, height: map.height, channels: 3, data };
}
