/**
 * Checks shared by the decoders and encoders: image consistency and the pixel limit.
 *
 * @module
 */

import type { Image } from "../sdk/image.ts";
import { MediaError } from "./errors.ts";

/**
 * Largest width or height any decoder accepts, whatever `pixelsMax` says: keeps every
 * size product a safe integer and every row offset an int32.
 */
export const IMAGE_SIDE_MAX = 1 << 20;

/**
 * Throws `bad_image` unless `width` and `height` are positive integers up to
 * {@linkcode IMAGE_SIDE_MAX}, and `image_too_large` when `width * height > pixelsMax`.
 * `what` names the image in messages (`"PNG"`, `"raw tensor"`).
 *
 * @example
 * ```ts
 * import { checkSize } from "./limits.ts";
 * checkSize(640, 480, { pixelsMax: 4096 * 4096, what: "PNG" });
 * ```
 */
export function checkSize(
  width: number,
  height: number,
  options: { pixelsMax: number; what: string },
): void {
  for (const [name, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > IMAGE_SIDE_MAX) {
      throw new MediaError(
        "bad_image",
        `${options.what} ${name} is ${value}, expected an integer in 1..${IMAGE_SIDE_MAX}`,
      );
    }
  }
  if (width * height > options.pixelsMax) {
    throw new MediaError(
      "image_too_large",
      `${options.what} is ${width}x${height} = ${width * height} pixels, ` +
        `more than the limit of ${options.pixelsMax}`,
    );
  }
}

/**
 * Throws `bad_image` unless `image` is a consistent {@linkcode Image}: positive integer
 * sizes, 1 or 3 channels, and `data.length === width * height * channels`.
 *
 * @example
 * ```ts
 * import { checkImage } from "./limits.ts";
 * checkImage({ width: 2, height: 1, channels: 1, data: new Uint8Array(2) });
 * ```
 */
export function checkImage(image: Image, what = "image"): void {
  checkSize(image.width, image.height, { pixelsMax: Number.MAX_SAFE_INTEGER, what });
  if (image.channels !== 1 && image.channels !== 3) {
    throw new MediaError("bad_image", `${what} has ${image.channels} channels, expected 1 or 3`);
  }
  if (!(image.data instanceof Uint8Array)) {
    throw new MediaError("bad_image", `${what} data is not a Uint8Array`);
  }
  const expected = image.width * image.height * image.channels;
  if (image.data.length !== expected) {
    throw new MediaError(
      "bad_image",
      `${what} data is ${image.data.length} bytes, expected ${expected} ` +
        `(${image.width}x${image.height}x${image.channels})`,
    );
  }
}
