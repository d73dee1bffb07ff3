/**
 * A synthetic test pattern for warm-up runs and tests.
 *
 * @module
 */

import type { Image, ImageChannels } from "../sdk/image.ts";
import { convertChannels } from "./fit.ts";
import { checkSize } from "./limits.ts";

/** The eight 75% color bars, left to right: white, yellow, cyan, green, magenta, red, blue, black. */
const BARS: readonly (readonly [number, number, number])[] = [
  [191, 191, 191],
  [191, 191, 0],
  [0, 191, 191],
  [0, 191, 0],
  [191, 0, 191],
  [191, 0, 0],
  [0, 0, 191],
  [0, 0, 0],
];

/**
 * A deterministic pattern: eight color bars over the top two thirds, a horizontal gray
 * ramp from 0 to 255 below. Gray images are the BT.601 luma of the color one.
 *
 * @example
 * ```ts
 * import { testPattern } from "./pattern.ts";
 * const image = testPattern(64, 48, 3);
 * console.log([...image.data.subarray(0, 3)]); // [191, 191, 191]
 * ```
 */
export function testPattern(width: number, height: number, channels: ImageChannels): Image {
  checkSize(width, height, { pixelsMax: Number.MAX_SAFE_INTEGER, what: "test pattern" });
  const data = new Uint8Array(width * height * 3);
  const barRows = Math.ceil((height * 2) / 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const o = (y * width + x) * 3;
      if (y < barRows) {
        const bar = BARS[Math.floor((x * BARS.length) / width)];
        data[o] = bar[0];
        data[o + 1] = bar[1];
        data[o + 2] = bar[2];
      } else {
        const v = width === 1 ? 0 : Math.round((x * 255) / (width - 1));
        data[o] = v;
        data[o + 1] = v;
        data[o + 2] = v;
      }
    }
  }
  return convertChannels({ width, height, channels: 3, data }, channels);
}
