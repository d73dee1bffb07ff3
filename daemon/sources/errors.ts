/**
 * The error frame sources throw: {@linkcode SourceError}, with a stable `code`.
 *
 * @module
 */

import { CodedError } from "../errors.ts";

/**
 * Stable codes of {@linkcode SourceError}. Append-only.
 *
 * - `source_exists`: a running source already has that name.
 * - `source_not_found`: no source has that name.
 * - `bad_source`: the config is invalid, or the input cannot be opened or read (the
 *   message carries ffmpeg's own words when ffmpeg failed).
 * - `plugin_not_found`: the source's task names no loaded plugin.
 */
export type SourceErrorCode =
  | "source_exists"
  | "source_not_found"
  | "bad_source"
  | "plugin_not_found";

/** Every {@linkcode SourceErrorCode}, in declaration order. */
export const SOURCE_ERROR_CODES: readonly SourceErrorCode[] = Object.freeze([
  "source_exists",
  "source_not_found",
  "bad_source",
  "plugin_not_found",
]);

/**
 * A source that cannot be started, found or read.
 *
 * @example
 * ```ts
 * import { SourceError } from "./errors.ts";
 * const error = new SourceError("source_not_found", "no source named 'cam0'");
 * console.log(error.code); // source_not_found
 * ```
 */
export class SourceError extends CodedError<SourceErrorCode> {
}
