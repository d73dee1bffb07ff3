/**
 * Fitting a decoded image to a plugin's input: bilinear resize with half-pixel centres (the
 * sampling of OpenCV's INTER_LINEAR, computed in floating point and rounded, so a value may
 * differ by one from OpenCV's fixed-point result), channel conversion, and letterboxing.
 *
 * @module
 */

import type { Image, ImageChannels } from "../sdk/image.ts";
import type { ResizeMode } from "../sdk/plugin.ts";
import { MediaError } from "./errors.ts";
import { checkImage, IMAGE_SIDE_MAX } from "./limits.ts";

/** What {@linkcode fitImage} produces. */
export interface FitTarget {
  readonly width: number;
  readonly height: number;
  readonly channels: ImageChannels;
  /**
   * `stretch`: resize to exactly width x height; `letterbox`: keep the aspect ratio, centre,
   * pad with 0; `none`: keep the size, convert channels only.
   */
  readonly mode: ResizeMode;
}

/**
 * Where the source lands in the fitted image: `x_fit = x_src * scaleX + offsetX` (same for
 * y), so a plugin can map results back to the original image.
 */
export interface FitGeometry {
  /** Output size. */
  readonly width: number;
  readonly height: number;
  /** Size of the resized content inside the output. */
  readonly contentWidth: number;
  readonly contentHeight: number;
  /** Top-left corner of the content. */
  readonly offsetX: number;
  readonly offsetY: number;
  readonly scaleX: number;
  readonly scaleY: number;
}

/**
 * The placement {@linkcode fitImage} uses for a `sourceWidth` x `sourceHeight` image.
 * Letterbox: scale `min(w/sw, h/sh)`, content size rounded (at least 1), offsets floored.
 *
 * @example
 * ```ts
 * import { fitGeometry } from "./fit.ts";
 * const g = fitGeometry({ width: 200, height: 100 }, { width: 100, height: 100, channels: 3, mode: "letterbox" });
 * console.log(g.contentHeight, g.offsetY); // 50 25
 * ```
 */
export function fitGeometry(
  source: { readonly width: number; readonly height: number },
  target: FitTarget,
): FitGeometry {
  const sw = source.width;
  const sh = source.height;
  if (target.mode === "none") {
    return {
      width: sw,
      height: sh,
      contentWidth: sw,
      contentHeight: sh,
      offsetX: 0,
      offsetY: 0,
      scaleX: 1,
      scaleY: 1,
    };
  }
  checkTargetSize(target);
  if (target.mode === "stretch") {
    return {
      width: target.width,
      height: target.height,
      contentWidth: target.width,
      contentHeight: target.height,
      offsetX: 0,
      offsetY: 0,
      scaleX: target.width / sw,
      scaleY: target.height / sh,
    };
  }
  if (target.mode !== "letterbox") {
    throw new MediaError(
      "bad_image",
      `resize mode is '${target.mode}', expected stretch, letterbox or none`,
    );
  }
  const scale = Math.min(target.width / sw, target.height / sh);
  const contentWidth = Math.min(target.width, Math.max(1, Math.round(sw * scale)));
  const contentHeight = Math.min(target.height, Math.max(1, Math.round(sh * scale)));
  return {
    width: target.width,
    height: target.height,
    contentWidth,
    contentHeight,
    offsetX: Math.floor((target.width - contentWidth) / 2),
    offsetY: Math.floor((target.height - contentHeight) / 2),
    scaleX: contentWidth / sw,
    scaleY: contentHeight / sh,
  };
}

/**
 * Resizes and converts `image` to `target` (see {@linkcode FitTarget}). Returns `image`
 * itself when nothing changes. Throws `bad_image` for an inconsistent image or target.
 *
 * @example
 * ```ts
 * import { fitImage } from "./fit.ts";
 * const image = { width: 2, height: 1, channels: 1 as const, data: new Uint8Array([0, 100]) };
 * const out = fitImage(image, { width: 4, height: 1, channels: 1, mode: "stretch" });
 * console.log([...out.data]); // [0, 25, 75, 100]
 * ```
 */
export function fitImage(image: Image, target: FitTarget): Image {
  checkImage(image, "image to fit");
  if (target.channels !== 1 && target.channels !== 3) {
    throw new MediaError("bad_image", `target channels is ${target.channels}, expected 1 or 3`);
  }
  const g = fitGeometry(image, target);
  let content = image;
  if (g.contentWidth !== image.width || g.contentHeight !== image.height) {
    content = resizeBilinear(image, g.contentWidth, g.contentHeight);
  }
  content = convertChannels(content, target.channels);
  if (g.width === g.contentWidth && g.height === g.contentHeight) return content;
  return pad(content, g);
}

/**
 * Converts between gray and RGB: RGB to gray with the BT.601 weights in 14-bit fixed point
 * (0.299, 0.587, 0.114, as OpenCV), gray to RGB by replication. Returns `image` when it
 * already has `channels`.
 *
 * @example
 * ```ts
 * import { convertChannels } from "./fit.ts";
 * const red = { width: 1, height: 1, channels: 3 as const, data: new Uint8Array([255, 0, 0]) };
 * console.log(convertChannels(red, 1).data[0]); // 76
 * ```
 */
export function convertChannels(image: Image, channels: ImageChannels): Image {
  if (image.channels === channels) return image;
  const pixels = image.width * image.height;
  const src = image.data;
  const data = new Uint8Array(pixels * channels);
  if (channels === 1) {
    for (let p = 0, i = 0; p < pixels; p += 1, i += 3) {
      data[p] = (src[i] * 4899 + src[i + 1] * 9617 + src[i + 2] * 1868 + 8192) >> 14;
    }
  } else {
    for (let p = 0, o = 0; p < pixels; p += 1, o += 3) {
      const v = src[p];
      data[o] = v;
      data[o + 1] = v;
      data[o + 2] = v;
    }
  }
  return { width: image.width, height: image.height, channels, data };
}

/**
 * Bilinear resize with half-pixel centres: output pixel `x` samples the source at
 * `(x + 0.5) * sw / w - 0.5`, clamped to the edge pixels.
 *
 * @example
 * ```ts
 * import { resizeBilinear } from "./fit.ts";
 * const image = { width: 2, height: 2, channels: 1 as const, data: new Uint8Array([0, 0, 0, 0]) };
 * console.log(resizeBilinear(image, 3, 3).data.length); // 9
 * ```
 */
export function resizeBilinear(image: Image, width: number, height: number): Image {
  checkTargetSize({ width, height });
  const c = image.channels;
  const x = axisTaps(image.width, width);
  const y = axisTaps(image.height, height);
  const src = image.data;
  const data = new Uint8Array(width * height * c);
  const rowStride = image.width * c;
  let o = 0;
  for (let dy = 0; dy < height; dy += 1) {
    const row0 = y.index0[dy] * rowStride;
    const row1 = y.index1[dy] * rowStride;
    const wy = y.weight1[dy];
    for (let dx = 0; dx < width; dx += 1) {
      const col0 = x.index0[dx] * c;
      const col1 = x.index1[dx] * c;
      const wx = x.weight1[dx];
      for (let k = 0; k < c; k += 1) {
        const top = src[row0 + col0 + k] + (src[row0 + col1 + k] - src[row0 + col0 + k]) * wx;
        const bottom = src[row1 + col0 + k] + (src[row1 + col1 + k] - src[row1 + col0 + k]) * wx;
        data[o] = Math.round(top + (bottom - top) * wy);
        o += 1;
      }
    }
  }
  return { width, height, channels: c, data };
}

/** Per output coordinate: the two source coordinates and the weight of the second. */
function axisTaps(
  sourceSize: number,
  size: number,
): { index0: Int32Array; index1: Int32Array; weight1: Float64Array } {
  const index0 = new Int32Array(size);
  const index1 = new Int32Array(size);
  const weight1 = new Float64Array(size);
  const scale = sourceSize / size;
  for (let d = 0; d < size; d += 1) {
    const s = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), sourceSize - 1);
    const i0 = Math.floor(s);
    index0[d] = i0;
    index1[d] = Math.min(i0 + 1, sourceSize - 1);
    weight1[d] = s - i0;
  }
  return { index0, index1, weight1 };
}

function pad(content: Image, g: FitGeometry): Image {
  const c = content.channels;
  const data = new Uint8Array(g.width * g.height * c);
  const rowBytes = g.contentWidth * c;
  for (let y = 0; y < g.contentHeight; y += 1) {
    data.set(
      content.data.subarray(y * rowBytes, (y + 1) * rowBytes),
      ((g.offsetY + y) * g.width + g.offsetX) * c,
    );
  }
  return { width: g.width, height: g.height, channels: c, data };
}

function checkTargetSize(target: { readonly width: number; readonly height: number }): void {
  for (const [name, value] of [["width", target.width], ["height", target.height]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > IMAGE_SIDE_MAX) {
      throw new MediaError(
        "bad_image",
        `target ${name} is ${value}, expected an integer in 1..${IMAGE_SIDE_MAX}`,
      );
    }
  }
}
