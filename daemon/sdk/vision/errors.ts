/**
 * The error of the vision helpers.
 *
 * @module
 */

/**
 * Stable codes of {@linkcode VisionError}:
 * - `bad_argument`: an argument is out of its documented range;
 * - `shape_mismatch`: an array's length or a tensor's shape does not fit the others;
 * - `no_input`: the model has no input of the asked name (or no u8 image input).
 */
export type VisionErrorCode = "bad_argument" | "shape_mismatch" | "no_input";

/**
 * A helper was called with inputs it cannot use. The message names the helper, the value
 * and what was expected.
 *
 * @example
 * ```ts
 * import { VisionError } from "./errors.ts";
 * const error = new VisionError("bad_argument", "topK: k is 0, expected an integer ≥ 1");
 * console.log(error.code); // bad_argument
 * ```
 */
export class VisionError extends Error {
  /** Stable code. */
  readonly code: VisionErrorCode;

  /** Creates an error; `message` says what failed and the value that made it fail. */
  constructor(code: VisionErrorCode, message: string) {
    super(message);
    this.name = "VisionError";
    this.code = code;
  }
}
