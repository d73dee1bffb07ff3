/**
 * Images in and out of the daemon: decoding of uploaded and source frames (PNG, JPEG,
 * PGM/PPM, raw tensors) with limits checked before decoding, fitting to a plugin's input
 * (bilinear resize, channel conversion, letterbox), encoders for results, and a test pattern
 * for warm-up runs. Pure computation: meant to run in plugin workers, not the main thread.
 *
 * @example
 * ```ts
 * import { decodeImage, encodePng, fitImage, testPattern } from "./mod.ts";
 * const png = encodePng(testPattern(64, 48, 3));
 * const image = decodeImage({ bytes: png, mediaType: "image/png" }, { pixelsMax: 1 << 24 });
 * const input = fitImage(image, { width: 32, height: 32, channels: 1, mode: "letterbox" });
 * console.log(input.data.length); // 1024
 * ```
 *
 * @module
 */

export { MEDIA_ERROR_CODES, MediaError, type MediaErrorCode } from "./errors.ts";
export {
  decodeImage,
  type DecodeOptions,
  decodeRaw,
  IMAGE_MEDIA_TYPES,
  normalizeMediaType,
} from "./decode.ts";
export {
  convertChannels,
  type FitGeometry,
  fitGeometry,
  fitImage,
  type FitTarget,
  resizeBilinear,
} from "./fit.ts";
export { decodePng, encodePng, pngDataBytes, type PngHeader, readPngHeader } from "./png.ts";
export { decodeJpeg, encodeJpeg, type JpegHeader, readJpegHeader } from "./jpeg.ts";
export { decodePnm, encodePnm, type PnmHeader, readPnmHeader } from "./pnm.ts";
export { testPattern } from "./pattern.ts";
export { checkImage, checkSize, IMAGE_SIDE_MAX } from "./limits.ts";
