/**
 * Layout transposition between onebit's kernels and ONNX. Our kernels read activations NHWC
 * and weights OHWI (`[outC][kernelH][kernelW][inC]`); ONNX `Conv` / `QLinearConv` read NCHW
 * activations and OIHW weights. Every conversion is explicit, through these functions, and
 * returns a new array of the same type.
 *
 * @module
 */

import { OnnxError } from "./errors.ts";

/** Typed arrays the transpositions accept (every tensor type the ONNX side uses). */
export type NumericArray = Uint8Array | Int8Array | Int32Array | Float32Array;

/** Dimensions of an activation tensor, independent of its layout. */
export interface ImageDims {
  /** Images in the batch. */
  batch: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** Channels. */
  channels: number;
}

/** Dimensions of a convolution weight tensor, independent of its layout. */
export interface FilterDims {
  /** Output channels. */
  outC: number;
  /** Kernel rows. */
  kernelH: number;
  /** Kernel columns. */
  kernelW: number;
  /** Input channels. */
  inC: number;
}

// Only the fields a conversion uses: callers may pass a larger object (e.g. a Window2d).
function imageFields({ batch, height, width, channels }: ImageDims): Record<string, number> {
  return { batch, height, width, channels };
}

function filterFields({ outC, kernelH, kernelW, inC }: FilterDims): Record<string, number> {
  return { outC, kernelH, kernelW, inC };
}

function checkedLength(what: string, data: NumericArray, dims: Record<string, number>): number {
  let expected = 1;
  for (const [name, value] of Object.entries(dims)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new OnnxError("invalid_argument", `${what}: ${name} is ${value}, must be >= 1`);
    }
    expected *= value;
  }
  if (data.length !== expected) {
    throw new OnnxError(
      "shape_mismatch",
      `${what}: data holds ${data.length} values, dims ${JSON.stringify(dims)} need ${expected}`,
    );
  }
  return expected;
}

/**
 * Swaps the two middle axes of a `[outer][a][b][inner]` tensor into `[outer][b][a][inner]`
 * where `a` is one axis and `b` the flattened rest: the single permutation every conversion
 * here reduces to. (NHWC -> NCHW is `[N][HW][C][1]` -> `[N][C][HW][1]`.)
 */
function swapMiddle<T extends NumericArray>(
  data: T,
  outer: number,
  a: number,
  b: number,
): T {
  const result = new (data.constructor as { new (length: number): T })(data.length);
  for (let o = 0; o < outer; o++) {
    const base = o * a * b;
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < b; j++) result[base + j * a + i] = data[base + i * b + j];
    }
  }
  return result;
}

/**
 * NHWC (our kernels) to NCHW (ONNX).
 *
 * @example
 * ```ts
 * import { nhwcToNchw } from "./layout.ts";
 * // one 1x2 image with 2 channels: pixel 0 = (1, 2), pixel 1 = (3, 4)
 * const nchw = nhwcToNchw(new Uint8Array([1, 2, 3, 4]), { batch: 1, height: 1, width: 2, channels: 2 });
 * console.log(nchw); // Uint8Array [1, 3, 2, 4]
 * ```
 */
export function nhwcToNchw<T extends NumericArray>(data: T, dims: ImageDims): T {
  checkedLength("nhwcToNchw", data, imageFields(dims));
  return swapMiddle(data, dims.batch, dims.height * dims.width, dims.channels);
}

/**
 * NCHW (ONNX) to NHWC (our kernels).
 *
 * @example
 * ```ts
 * import { nchwToNhwc } from "./layout.ts";
 * const nhwc = nchwToNhwc(new Uint8Array([1, 3, 2, 4]), { batch: 1, height: 1, width: 2, channels: 2 });
 * console.log(nhwc); // Uint8Array [1, 2, 3, 4]
 * ```
 */
export function nchwToNhwc<T extends NumericArray>(data: T, dims: ImageDims): T {
  checkedLength("nchwToNhwc", data, imageFields(dims));
  return swapMiddle(data, dims.batch, dims.channels, dims.height * dims.width);
}

/**
 * OHWI weights (our kernels) to OIHW (ONNX).
 *
 * @example
 * ```ts
 * import { ohwiToOihw } from "./layout.ts";
 * const oihw = ohwiToOihw(new Int8Array([1, 2, 3, 4]), { outC: 1, kernelH: 1, kernelW: 2, inC: 2 });
 * console.log(oihw); // Int8Array [1, 3, 2, 4]
 * ```
 */
export function ohwiToOihw<T extends NumericArray>(data: T, dims: FilterDims): T {
  checkedLength("ohwiToOihw", data, filterFields(dims));
  return swapMiddle(data, dims.outC, dims.kernelH * dims.kernelW, dims.inC);
}

/**
 * OIHW weights (ONNX) to OHWI (our kernels).
 *
 * @example
 * ```ts
 * import { oihwToOhwi } from "./layout.ts";
 * const ohwi = oihwToOhwi(new Int8Array([1, 3, 2, 4]), { outC: 1, kernelH: 1, kernelW: 2, inC: 2 });
 * console.log(ohwi); // Int8Array [1, 2, 3, 4]
 * ```
 */
export function oihwToOhwi<T extends NumericArray>(data: T, dims: FilterDims): T {
  checkedLength("oihwToOhwi", data, filterFields(dims));
  return swapMiddle(data, dims.outC, dims.inC, dims.kernelH * dims.kernelW);
}
