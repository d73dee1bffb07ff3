/**
 * R2D2-style keypoint selection: local maxima of the repeatability map (NMS in a square
 * window) where both repeatability and reliability pass their thresholds, ranked by their
 * product; and the gathering of each keypoint's packed binary descriptor.
 *
 * @module
 */

import { VisionError } from "./errors.ts";

/** One keypoint, in the maps' pixel grid. */
export interface Keypoint {
  readonly x: number;
  readonly y: number;
  /** `repeatability * reliability` at the keypoint. */
  readonly score: number;
}

/** Options of {@linkcode selectKeypoints}. */
export interface KeypointOptions {
  /** NMS half window: a keypoint is the maximum of its (2r+1)² neighbourhood. Default 1 (3x3). */
  radius?: number;
  /** Minimum repeatability. Default 0.7 (R2D2's). */
  repeatabilityMin?: number;
  /** Minimum reliability. Default 0.7 (R2D2's). */
  reliabilityMin?: number;
  /** Most keypoints returned, best first. Default 500. */
  max?: number;
  /** Pixels ignored along each border. Default 0. */
  border?: number;
}

/** Keypoint cap of one call (bounds memory and the matcher's work). */
export const KEYPOINTS_MAX = 1 << 14;

/**
 * Keypoints of `height` x `width` maps (row-major f32, one value per pixel), best first
 * (ties: row-major order). Throws `shape_mismatch` / `bad_argument` for bad maps or options.
 *
 * @example
 * ```ts
 * import { selectKeypoints } from "./keypoints.ts";
 * const rep = new Float32Array(25); rep[12] = 0.9; // the centre of a 5x5 map
 * const rel = new Float32Array(25).fill(0.8);
 * console.log(selectKeypoints(rep, rel, { width: 5, height: 5 })); // [{ x: 2, y: 2, score: 0.72 }] (≈)
 * ```
 */
export function selectKeypoints(
  repeatability: Float32Array,
  reliability: Float32Array,
  options: KeypointOptions & { width: number; height: number },
): Keypoint[] {
  const { width, height } = options;
  if (repeatability.length !== width * height || reliability.length !== width * height) {
    throw new VisionError(
      "shape_mismatch",
      `selectKeypoints: maps have ${repeatability.length} and ${reliability.length} values, ` +
        `expected ${width}x${height}`,
    );
  }
  const radius = options.radius ?? 1;
  const max = options.max ?? 500;
  const border = options.border ?? 0;
  if (!Number.isInteger(radius) || radius < 0 || radius > 16) {
    throw new VisionError("bad_argument", `selectKeypoints: radius is ${radius}, expected 0..16`);
  }
  if (!Number.isInteger(max) || max < 1 || max > KEYPOINTS_MAX) {
    throw new VisionError(
      "bad_argument",
      `selectKeypoints: max is ${max}, expected an integer 1..${KEYPOINTS_MAX}`,
    );
  }
  const repMin = options.repeatabilityMin ?? 0.7;
  const relMin = options.reliabilityMin ?? 0.7;
  const found: Keypoint[] = [];
  for (let y = border; y < height - border; y++) {
    for (let x = border; x < width - border; x++) {
      const i = y * width + x;
      const v = repeatability[i];
      if (!(v >= repMin) || !(reliability[i] >= relMin)) continue;
      let peak = true;
      for (let dy = -radius; dy <= radius && peak; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -radius; dx <= radius; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
          const u = repeatability[yy * width + xx];
          // Plateaus keep only their first pixel in row-major order.
          if (u > v || (u === v && yy * width + xx < i)) {
            peak = false;
            break;
          }
        }
      }
      if (peak) found.push({ x, y, score: v * reliability[i] });
    }
  }
  found.sort((a, b) => b.score - a.score || a.y - b.y || a.x - b.x);
  return found.slice(0, max);
}

/**
 * The packed descriptors of `keypoints` from a bits map of `width` pixels per row and
 * `bits` channels (the runtime's layout: `ceil(bits/64)` u64 words per pixel), in keypoint
 * order: `[keypoints][bits/64]` words, ready for Hamming matching.
 *
 * @example
 * ```ts
 * import { gatherDescriptors } from "./keypoints.ts";
 * const map = new BigUint64Array([1n, 2n, 3n, 4n]); // 2 pixels of 128 bits
 * console.log([...gatherDescriptors(map, [{ x: 1, y: 0, score: 1 }], { width: 2, bits: 128 })]); // [3n, 4n]
 * ```
 */
export function gatherDescriptors(
  descriptors: BigUint64Array,
  keypoints: readonly Keypoint[],
  options: { width: number; bits: number },
): BigUint64Array {
  const words = Math.ceil(options.bits / 64);
  const { width } = options;
  if (!(words >= 1) || width < 1 || descriptors.length % (words * width) !== 0) {
    throw new VisionError(
      "shape_mismatch",
      `gatherDescriptors: ${descriptors.length} words is not whole rows of ${width} pixels x ` +
        `${words} words`,
    );
  }
  const pixels = descriptors.length / words;
  const out = new BigUint64Array(keypoints.length * words);
  keypoints.forEach((keypoint, k) => {
    const pixel = keypoint.y * width + keypoint.x;
    if (!(pixel >= 0 && pixel < pixels) || keypoint.x >= width) {
      throw new VisionError(
        "bad_argument",
        `gatherDescriptors: keypoint ${k} at (${keypoint.x}, ${keypoint.y}) is outside the map`,
      );
    }
    out.set(descriptors.subarray(pixel * words, pixel * words + words), k * words);
  });
  return out;
}
