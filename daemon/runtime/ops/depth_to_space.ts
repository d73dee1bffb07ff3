/**
 * Depth to space (ONNX DepthToSpace, NHWC): `[N, H, W, C]` to `[N, H*b, W*b, C/b²]` with
 *   output (n, y*b + by, x*b + bx, c) = input (n, y, x, ch),
 *   `dcr`: ch = (by*b + bx) * C/b² + c;  `crd`: ch = c * b² + by*b + bx.
 * Values are copied exactly (4-byte values as raw u32, so f32 NaN payloads are kept); `bits`
 * moves single channel bits.
 *
 * @module
 */

/** Sizes of a depth-to-space: the input `batch x inH x inW x inC` and block `b`. */
export interface DepthToSpaceSizes {
  /** Images. */
  readonly batch: number;
  /** Input height. */
  readonly inH: number;
  /** Input width. */
  readonly inW: number;
  /** Input channels, a multiple of `block²`. */
  readonly inC: number;
  /** Block size. */
  readonly block: number;
  /** Channel order. */
  readonly mode: "dcr" | "crd";
}

/** The input channel read by output sub-position (by, bx) and output channel c. */
function sourceChannel(sizes: DepthToSpaceSizes, by: number, bx: number, c: number): number {
  const b = sizes.block;
  return sizes.mode === "dcr" ? (by * b + bx) * (sizes.inC / (b * b)) + c : c * b * b + by * b + bx;
}

/**
 * Depth to space of a non-bits activation, as raw elements of one size: `Uint8Array` views
 * for u8/i8, `Uint32Array` views for i32/f32.
 *
 * @example
 * ```ts
 * import { depthToSpace } from "./depth_to_space.ts";
 * const out = new Uint8Array(4);
 * depthToSpace(Uint8Array.of(1, 2, 3, 4), out, {
 *   batch: 1, inH: 1, inW: 1, inC: 4, block: 2, mode: "dcr",
 * });
 * console.log(out); // Uint8Array [1, 2, 3, 4]: (0,0) (0,1) (1,0) (1,1)
 * ```
 */
export function depthToSpace<T extends Uint8Array | Uint32Array>(
  input: T,
  output: T,
  sizes: DepthToSpaceSizes,
): void {
  const { batch, inH, inW, inC, block: b } = sizes;
  const outC = inC / (b * b);
  const outW = inW * b;
  for (let n = 0; n < batch; n++) {
    for (let y = 0; y < inH; y++) {
      for (let x = 0; x < inW; x++) {
        const from = ((n * inH + y) * inW + x) * inC;
        for (let by = 0; by < b; by++) {
          for (let bx = 0; bx < b; bx++) {
            const to = ((n * inH * b + y * b + by) * outW + x * b + bx) * outC;
            if (sizes.mode === "dcr") {
              const start = from + (by * b + bx) * outC;
              for (let c = 0; c < outC; c++) output[to + c] = input[start + c];
            } else {
              const start = from + by * b + bx;
              for (let c = 0; c < outC; c++) output[to + c] = input[start + c * b * b];
            }
          }
        }
      }
    }
  }
}

/**
 * Depth to space of a `bits` activation: packed words viewed as u32 halves, in and out.
 *
 * @example
 * ```ts
 * import { depthToSpaceBits } from "./depth_to_space.ts";
 * const out = new Uint32Array(8); // 4 pixels x 1 word
 * depthToSpaceBits(Uint32Array.of(0b0100, 0), out, {
 *   batch: 1, inH: 1, inW: 1, inC: 4, block: 2, mode: "dcr",
 * });
 * console.log(out[4]); // 1: the pixel (1, 0) is -1
 * ```
 */
export function depthToSpaceBits(
  input: Uint32Array,
  output: Uint32Array,
  sizes: DepthToSpaceSizes,
): void {
  const { batch, inH, inW, inC, block: b } = sizes;
  const outC = inC / (b * b);
  const outW = inW * b;
  const inStride = 2 * Math.ceil(inC / 64);
  const outStride = 2 * Math.ceil(outC / 64);
  output.fill(0);
  for (let n = 0; n < batch; n++) {
    for (let y = 0; y < inH; y++) {
      for (let x = 0; x < inW; x++) {
        const from = ((n * inH + y) * inW + x) * inStride;
        for (let by = 0; by < b; by++) {
          for (let bx = 0; bx < b; bx++) {
            const to = ((n * inH * b + y * b + by) * outW + x * b + bx) * outStride;
            for (let c = 0; c < outC; c++) {
              const ch = sourceChannel(sizes, by, bx, c);
              const bit = (input[from + (ch >>> 5)] >>> (ch & 31)) & 1;
              output[to + (c >>> 5)] |= bit << (c & 31);
            }
          }
        }
      }
    }
  }
}
