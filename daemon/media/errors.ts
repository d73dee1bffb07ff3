/**
 * The error the media module throws: {@linkcode MediaError}, with a stable `code`.
 *
 * @module
 */

import { CodedError } from "../errors.ts";

/**
 * Stable codes of {@linkcode MediaError}. Append-only: a name never changes meaning.
 *
 * - `bad_image`: the bytes are not a valid image of their media type (bad magic, truncated,
 *   inconsistent header, wrong size for a raw tensor), or an image given to an encoder or
 *   to `fitImage` is inconsistent.
 * - `image_too_large`: the header announces more pixels than allowed (checked before the
 *   pixels are decoded).
 * - `unsupported_media_type`: the media type is none the decoder knows.
 */
export type MediaErrorCode = "bad_image" | "image_too_large" | "unsupported_media_type";

/** Every {@linkcode MediaErrorCode}, in declaration order. */
export const MEDIA_ERROR_CODES: readonly MediaErrorCode[] = Object.freeze([
  "bad_image",
  "image_too_large",
  "unsupported_media_type",
]);

/**
 * An image that cannot be decoded, encoded or fitted.
 *
 * @example
 * ```ts
 * import { MediaError } from "./errors.ts";
 * const error = new MediaError("bad_image", "PNG is 7 bytes, needs at least 33");
 * console.log(error.code, error.message); // bad_image PNG is 7 bytes, needs at least 33
 * ```
 */
export class MediaError extends CodedError<MediaErrorCode> {
}
