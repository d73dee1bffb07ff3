/**
 * Images as plugins see them: 8-bit, interleaved (HWC), row-major, no padding.
 *
 * @module
 */

/** Channels of an {@linkcode Image}: gray or RGB. */
export type ImageChannels = 1 | 3;

/**
 * A decoded image: `data[(y * width + x) * channels + c]` is channel `c` of pixel (x, y),
 * RGB order for 3 channels.
 */
export interface Image {
  /** Pixels per row. */
  readonly width: number;
  /** Rows. */
  readonly height: number;
  /** 1 (gray) or 3 (RGB). */
  readonly channels: ImageChannels;
  /** `width * height * channels` bytes. */
  readonly data: Uint8Array;
}

/** An encoded image a plugin returns (a PNG mask, an upscaled picture). */
export interface EncodedImage {
  /** Media type of `bytes`, e.g. `image/png`. */
  readonly mediaType: string;
  /** The encoded file. */
  readonly bytes: Uint8Array;
}
