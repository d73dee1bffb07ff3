/**
 * Homography estimation: the normalised direct linear transform (Hartley & Zisserman,
 * algorithm 4.2) inside a seeded RANSAC loop, refitted on the inliers.
 *
 * @module
 */

import { VisionError } from "./errors.ts";

/** A point pair: `src` maps to `dst`. */
export type PointPair = readonly [sx: number, sy: number, dx: number, dy: number];

/** A 3x3 matrix, row-major, scaled so that element 8 is 1 when it can be. */
export type Matrix3 = readonly number[];

/** `H * (x, y, 1)` dehomogenised; `[NaN, NaN]` at infinity. */
export function applyHomography(h: Matrix3, x: number, y: number): [number, number] {
  const w = h[6] * x + h[7] * y + h[8];
  if (Math.abs(w) < 1e-12) return [NaN, NaN];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

/** Eigenvector of the smallest eigenvalue of a symmetric n x n matrix (cyclic Jacobi). */
function smallestEigenvector(a: Float64Array, n: number): Float64Array {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  // Jacobi converges quadratically; 60 sweeps is far more than a 9x9 ever needs.
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (a[i * n + i] < a[best * n + best]) best = i;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = v[k * n + best];
  return out;
}

/** Similarity normalising points to centroid 0, mean distance √2: `[s, tx, ty]`. */
function normaliser(pairs: readonly PointPair[], offset: 0 | 2): [number, number, number] {
  let cx = 0;
  let cy = 0;
  for (const pair of pairs) {
    cx += pair[offset];
    cy += pair[offset + 1];
  }
  cx /= pairs.length;
  cy /= pairs.length;
  let mean = 0;
  for (const pair of pairs) mean += Math.hypot(pair[offset] - cx, pair[offset + 1] - cy);
  mean /= pairs.length;
  const s = mean > 1e-12 ? Math.SQRT2 / mean : 1;
  return [s, -s * cx, -s * cy];
}

/**
 * The homography of ≥ 4 pairs by the normalised DLT (least squares over all of them), or
 * `null` when they are degenerate.
 *
 * @example
 * ```ts
 * import { fitHomography } from "./homography.ts";
 * const h = fitHomography([[0, 0, 1, 1], [1, 0, 2, 1], [0, 1, 1, 2], [1, 1, 2, 2]]);
 * console.log(h?.map((v) => Math.round(v))); // [1, 0, 1, 0, 1, 1, 0, 0, 1]
 * ```
 */
export function fitHomography(pairs: readonly PointPair[]): Matrix3 | null {
  if (pairs.length < 4) return null;
  const [s1, t1x, t1y] = normaliser(pairs, 0);
  const [s2, t2x, t2y] = normaliser(pairs, 2);
  const ata = new Float64Array(81);
  const row = new Float64Array(9);
  const add = () => {
    for (let i = 0; i < 9; i++) {
      if (row[i] === 0) continue;
      for (let j = 0; j < 9; j++) ata[i * 9 + j] += row[i] * row[j];
    }
  };
  for (const [sx, sy, dx, dy] of pairs) {
    const x = s1 * sx + t1x;
    const y = s1 * sy + t1y;
    const u = s2 * dx + t2x;
    const v = s2 * dy + t2y;
    row.set([-x, -y, -1, 0, 0, 0, u * x, u * y, u]);
    add();
    row.set([0, 0, 0, -x, -y, -1, v * x, v * y, v]);
    add();
  }
  const hn = smallestEigenvector(ata, 9);
  // H = T2^-1 * Hn * T1, with T = [[s, 0, tx], [0, s, ty], [0, 0, 1]].
  const t1 = [s1, 0, t1x, 0, s1, t1y, 0, 0, 1];
  const t2inv = [1 / s2, 0, -t2x / s2, 0, 1 / s2, -t2y / s2, 0, 0, 1];
  const h = multiply(t2inv, multiply(Array.from(hn), t1));
  const scale = Math.abs(h[8]) > 1e-12 ? h[8] : 1;
  const out = h.map((value) => value / scale);
  return out.every(Number.isFinite) ? out : null;
}

function multiply(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < 3; k++) out[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c];
    }
  }
  return out;
}

/** Options of {@linkcode findHomography}. */
export interface RansacOptions {
  /** A pair is an inlier when its transfer error `|H src - dst|` is ≤ this, pixels. Default 3. */
  threshold?: number;
  /** Most RANSAC iterations (fewer when the inlier ratio allows). Default 2000. */
  iterations?: number;
  /** Confidence of the adaptive stop. Default 0.999. */
  confidence?: number;
  /** Seed of the sampler (same pairs and seed, same result). Default 1. */
  seed?: number;
}

/** What {@linkcode findHomography} found. */
export interface HomographyResult {
  /** The homography mapping sources to destinations (row-major 3x3, element 8 = 1). */
  readonly matrix: Matrix3;
  /** 1 for every inlier pair, by index. */
  readonly inliers: Uint8Array;
  /** Inlier pairs. */
  readonly inlierCount: number;
  /** RANSAC iterations run. */
  readonly iterations: number;
}

/** mulberry32: a small, seeded, well-mixed 32-bit generator. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Twice the area of the triangle of points a, b, c of pairs (source or destination side). */
function area2(p: readonly PointPair[], a: number, b: number, c: number, o: 0 | 2): number {
  return Math.abs(
    (p[b][o] - p[a][o]) * (p[c][o + 1] - p[a][o + 1]) -
      (p[c][o] - p[a][o]) * (p[b][o + 1] - p[a][o + 1]),
  );
}

function degenerate(pairs: readonly PointPair[], sample: readonly number[]): boolean {
  const [a, b, c, d] = sample;
  for (const o of [0, 2] as const) {
    for (const [i, j, k] of [[a, b, c], [a, b, d], [a, c, d], [b, c, d]]) {
      if (area2(pairs, i, j, k, o) < 1e-6) return true;
    }
  }
  return false;
}

function countInliers(
  pairs: readonly PointPair[],
  h: Matrix3,
  threshold: number,
  mask: Uint8Array,
): number {
  let count = 0;
  const limit = threshold * threshold;
  for (let i = 0; i < pairs.length; i++) {
    const [x, y] = applyHomography(h, pairs[i][0], pairs[i][1]);
    const e = (x - pairs[i][2]) ** 2 + (y - pairs[i][3]) ** 2;
    mask[i] = e <= limit ? 1 : 0;
    count += mask[i];
  }
  return count;
}

/**
 * Robustly estimates the homography mapping `pairs`' sources to destinations: RANSAC over
 * minimal 4-pair samples (degenerate ones skipped), the best model refitted by the DLT on
 * its inliers. Returns `null` with fewer than 4 pairs or when no sample gives a model.
 * Deterministic for a given seed. Throws `bad_argument` for bad options.
 *
 * @example
 * ```ts
 * import { findHomography } from "./homography.ts";
 * const pairs = [[0, 0, 5, 0], [10, 0, 15, 0], [0, 10, 5, 10], [10, 10, 15, 10], [5, 5, 10, 5]] as const;
 * console.log(findHomography(pairs)?.inlierCount); // 5
 * ```
 */
export function findHomography(
  pairs: readonly PointPair[],
  options: RansacOptions = {},
): HomographyResult | null {
  const threshold = options.threshold ?? 3;
  const iterationsMax = options.iterations ?? 2000;
  const confidence = options.confidence ?? 0.999;
  if (!(threshold > 0)) {
    throw new VisionError(
      "bad_argument",
      `findHomography: threshold is ${threshold}, expected > 0`,
    );
  }
  if (!Number.isInteger(iterationsMax) || iterationsMax < 1 || iterationsMax > 100_000) {
    throw new VisionError(
      "bad_argument",
      `findHomography: iterations is ${iterationsMax}, expected an integer 1..100000`,
    );
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new VisionError(
      "bad_argument",
      `findHomography: confidence is ${confidence}, expected in (0, 1)`,
    );
  }
  const n = pairs.length;
  if (n < 4) return null;
  const next = random(options.seed ?? 1);
  const mask = new Uint8Array(n);
  let best: Matrix3 | null = null;
  let bestCount = -1;
  let bestMask = new Uint8Array(n);
  let needed = iterationsMax;
  let iteration = 0;
  for (; iteration < Math.min(needed, iterationsMax); iteration++) {
    const sample: number[] = [];
    while (sample.length < 4) {
      const index = Math.floor(next() * n);
      if (!sample.includes(index)) sample.push(index);
    }
    if (degenerate(pairs, sample)) continue;
    const h = fitHomography(sample.map((index) => pairs[index]));
    if (h === null) continue;
    const count = countInliers(pairs, h, threshold, mask);
    if (count > bestCount) {
      best = h;
      bestCount = count;
      bestMask = mask.slice();
      const ratio = count / n;
      const fail = 1 - ratio ** 4;
      needed = fail <= 1e-12
        ? 0
        : Math.ceil(Math.log(1 - confidence) / Math.log(Math.max(fail, 1e-12)));
    }
  }
  if (best === null) return null;
  const refit = fitHomography(pairs.filter((_, index) => bestMask[index] === 1));
  if (refit !== null) {
    const count = countInliers(pairs, refit, threshold, mask);
    if (count >= bestCount) {
      best = refit;
      bestCount = count;
      bestMask = mask.slice();
    }
  }
  return { matrix: best, inliers: bestMask, inlierCount: bestCount, iterations: iteration };
}
