/**
 * The error the media module throws: {@linkcode MediaError}, with a stable `code`.
 *
 * @module
 */

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
export class MediaError extends Error {
  /** Stable snake_case code. */
  readonly code: MediaErrorCode;

  /** Creates an error; `message` says what failed and the value that made it fail. */
  constructor(code: MediaErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MediaError";
    this.code = code;
  }
}

/**
 * The message of a thrown value, for wrapping a library's error in a {@linkcode MediaError}.
 *
 * @example
 * ```ts
 * import { messageOf } from "./errors.ts";
 * console.log(messageOf(new Error("boom"))); // boom
 * ```
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
