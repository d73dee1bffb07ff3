/**
 * CenterNet decoding (Zhou et al., "Objects as Points"): class heatmap peaks found with a
 * 3x3 max-pool NMS, the top K above a score threshold, each turned into a box by the size
 * and offset regressions at its cell.
 *
 * @module
 */

import { VisionError } from "./errors.ts";

/** The three head outputs of a CenterNet, NHWC with batch 1, all at one grid size. */
export interface CenterNetOutputs {
  /**
   * `[gridH, gridW, classes]` scores: f32 probabilities (after the model's sigmoid), f32
   * logits (set `logits: true`), or u8 quantized probabilities (`value * u8Scale`).
   */
  readonly heatmap: Float32Array | Uint8Array;
  /** `[gridH, gridW, 2]`: box width and height (see `sizeUnit`). */
  readonly size: Float32Array;
  /** `[gridH, gridW, 2]`: sub-cell x and y offset of the centre, in grid cells. */
  readonly offset: Float32Array;
  /** Grid rows. */
  readonly gridHeight: number;
  /** Grid columns. */
  readonly gridWidth: number;
  /** Heatmap channels. */
  readonly classes: number;
}

/** Options of {@linkcode decodeCenterNet}. */
export interface CenterNetDecodeOptions {
  /** Input pixels per grid cell (the model's output stride). Default 4. */
  stride?: number;
  /** Keep peaks with a score ≥ this. Default 0.3. */
  threshold?: number;
  /** Most boxes returned (the best first). Default 100. */
  k?: number;
  /** The f32 heatmap holds logits: apply a sigmoid. Default false. */
  logits?: boolean;
  /** Scale of a u8 heatmap to probabilities. Default 1/255. */
  u8Scale?: number;
  /** `grid`: sizes are in grid cells (CenterNet's convention); `input`: in input pixels. Default `grid`. */
  sizeUnit?: "grid" | "input";
  /** Maps an input-pixel point to output coordinates (e.g. the original image). Default: identity. */
  map?: (x: number, y: number) => [number, number];
  /** Boxes are clamped to `[0, clampWidth] x [0, clampHeight]` when given. */
  clampWidth?: number;
  clampHeight?: number;
}

/** One detection. */
export interface Detection {
  /** Heatmap channel. */
  readonly classId: number;
  /** Peak score in [0, 1]. */
  readonly score: number;
  /** Box corners in output coordinates (`map`ped, clamped), x1 ≤ x2, y1 ≤ y2. */
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/** Candidate cap before sorting, so a flat heatmap cannot make the decode quadratic. */
const CANDIDATES_MAX = 1 << 16;

function checkOutputs(outputs: CenterNetOutputs): void {
  const { gridHeight: h, gridWidth: w, classes } = outputs;
  for (
    const [name, value] of [["gridHeight", h], ["gridWidth", w], ["classes", classes]] as const
  ) {
    if (!Number.isInteger(value) || value < 1) {
      throw new VisionError("bad_argument", `decodeCenterNet: ${name} is ${value}, expected ≥ 1`);
    }
  }
  const expect = (name: string, length: number, want: number) => {
    if (length !== want) {
      throw new VisionError(
        "shape_mismatch",
        `decodeCenterNet: ${name} has ${length} values, expected ${want} for a ${h}x${w} grid`,
      );
    }
  };
  expect("heatmap", outputs.heatmap.length, h * w * classes);
  expect("size", outputs.size.length, h * w * 2);
  expect("offset", outputs.offset.length, h * w * 2);
}

/**
 * Decodes CenterNet outputs into boxes, best first: a cell is a peak of class `c` when its
 * score is the maximum of its 3x3 neighbourhood in channel `c` (CenterNet's max-pool NMS)
 * and ≥ `threshold`; the top `k` peaks become boxes centred at `(x + offset_x,
 * y + offset_y) * stride` with the regressed size, then `map`ped and clamped. Throws
 * `shape_mismatch` or `bad_argument` for inconsistent outputs or options.
 *
 * @example
 * ```ts
 * import { decodeCenterNet } from "./centernet.ts";
 * const heatmap = new Float32Array(16); heatmap[5] = 0.9; // one peak at (1, 1), 1 class
 * const size = new Float32Array(32).fill(2), offset = new Float32Array(32);
 * const boxes = decodeCenterNet({ heatmap, size, offset, gridHeight: 4, gridWidth: 4, classes: 1 });
 * console.log(boxes[0]); // { classId: 0, score: 0.9, x1: 0, y1: 0, x2: 8, y2: 8 } (≈)
 * ```
 */
export function decodeCenterNet(
  outputs: CenterNetOutputs,
  options: CenterNetDecodeOptions = {},
): Detection[] {
  checkOutputs(outputs);
  const stride = options.stride ?? 4;
  const threshold = options.threshold ?? 0.3;
  const k = options.k ?? 100;
  if (!(stride > 0)) {
    throw new VisionError("bad_argument", `decodeCenterNet: stride is ${stride}, expected > 0`);
  }
  if (!Number.isInteger(k) || k < 1) {
    throw new VisionError("bad_argument", `decodeCenterNet: k is ${k}, expected an integer ≥ 1`);
  }
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new VisionError(
      "bad_argument",
      `decodeCenterNet: threshold is ${threshold}, expected 0..1`,
    );
  }
  const { gridHeight: h, gridWidth: w, classes, heatmap } = outputs;
  const u8Scale = options.u8Scale ?? 1 / 255;
  const logits = options.logits ?? false;
  const score = heatmap instanceof Uint8Array
    ? (i: number) => heatmap[i] * u8Scale
    : logits
    ? (i: number) => 1 / (1 + Math.exp(-heatmap[i]))
    : (i: number) => heatmap[i];
  // Peaks on the raw values: the sigmoid and the u8 scale are monotonic.
  const candidates: { i: number; s: number }[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < classes; c++) {
        const i = (y * w + x) * classes + c;
        const v = heatmap[i];
        let peak = true;
        for (let dy = -1; dy <= 1 && peak; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
            if (heatmap[(yy * w + xx) * classes + c] > v) {
              peak = false;
              break;
            }
          }
        }
        if (!peak) continue;
        const s = score(i);
        if (s >= threshold && candidates.length < CANDIDATES_MAX) candidates.push({ i, s });
      }
    }
  }
  candidates.sort((a, b) => b.s - a.s || a.i - b.i);
  const sizeScale = (options.sizeUnit ?? "grid") === "grid" ? stride : 1;
  const map = options.map ?? ((x: number, y: number): [number, number] => [x, y]);
  const clamp = (value: number, max: number | undefined) =>
    max === undefined ? value : Math.min(Math.max(value, 0), max);
  const boxes: Detection[] = [];
  for (const { i, s } of candidates.slice(0, k)) {
    const cell = Math.floor(i / classes);
    const x = cell % w;
    const y = Math.floor(cell / w);
    const cx = (x + outputs.offset[cell * 2]) * stride;
    const cy = (y + outputs.offset[cell * 2 + 1]) * stride;
    const bw = Math.abs(outputs.size[cell * 2]) * sizeScale;
    const bh = Math.abs(outputs.size[cell * 2 + 1]) * sizeScale;
    const [ax, ay] = map(cx - bw / 2, cy - bh / 2);
    const [bx, by] = map(cx + bw / 2, cy + bh / 2);
    boxes.push({
      classId: i % classes,
      score: s,
      x1: clamp(Math.min(ax, bx), options.clampWidth),
      y1: clamp(Math.min(ay, by), options.clampHeight),
      x2: clamp(Math.max(ax, bx), options.clampWidth),
      y2: clamp(Math.max(ay, by), options.clampHeight),
    });
  }
  return boxes;
}
