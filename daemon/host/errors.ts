/**
 * The error the plugin host throws: {@linkcode PluginError}, with a stable `code`.
 *
 * @module
 */

import { CodedError } from "../errors.ts";

/**
 * Stable codes of {@linkcode PluginError}. Append-only: a name never changes meaning.
 *
 * - `plugin_not_found`: no plugin is loaded under that name, or no plugin folder at a path.
 * - `plugin_exists`: a plugin of that name is already loaded.
 * - `bad_manifest`: `plugin.json` is missing, not JSON, or a field is invalid.
 * - `load_failed`: the worker could not start, import the entry or run `setup`.
 * - `warmup_failed`: the self-test frame failed.
 * - `reload_failed`: a hot swap failed; the old version keeps serving (`cause` holds why).
 * - `queue_full`: the plugin's queue is at `queueMax`; the frame was refused.
 * - `deadline_exceeded`: the frame was not done within its deadline.
 * - `plugin_crashed`: the worker died (uncaught error, killed) while the frame was in it.
 * - `process_failed`: the plugin's `process` threw for this frame.
 * - `bad_image`: an image of the frame cannot be decoded (or is too large, or of an
 *   unsupported media type); the message says which.
 * - `shutting_down`: the plugin or the host is stopping and takes no new work.
 * - `bad_options`: an option value from the config does not fit the manifest's option spec.
 */
export type PluginErrorCode =
  | "plugin_not_found"
  | "plugin_exists"
  | "bad_manifest"
  | "load_failed"
  | "warmup_failed"
  | "reload_failed"
  | "queue_full"
  | "deadline_exceeded"
  | "plugin_crashed"
  | "process_failed"
  | "bad_image"
  | "shutting_down"
  | "bad_options";

/** Every {@linkcode PluginErrorCode}, in declaration order. */
export const PLUGIN_ERROR_CODES: readonly PluginErrorCode[] = Object.freeze([
  "plugin_not_found",
  "plugin_exists",
  "bad_manifest",
  "load_failed",
  "warmup_failed",
  "reload_failed",
  "queue_full",
  "deadline_exceeded",
  "plugin_crashed",
  "process_failed",
  "bad_image",
  "shutting_down",
  "bad_options",
]);

/** True when `value` is one of {@linkcode PLUGIN_ERROR_CODES}. */
export function isPluginErrorCode(value: unknown): value is PluginErrorCode {
  return typeof value === "string" && (PLUGIN_ERROR_CODES as readonly string[]).includes(value);
}

/**
 * A plugin host failure.
 *
 * @example
 * ```ts
 * import { PluginError } from "./errors.ts";
 * const error = new PluginError("queue_full", "Cannot queue a frame for 'detect': 8 waiting, max 8");
 * console.log(error.code); // queue_full
 * ```
 */
export class PluginError extends CodedError<PluginErrorCode> {
}

export { errorMessage } from "../errors.ts";
