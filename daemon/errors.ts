/**
 * The one shape of the daemon's errors: a class per area (PluginError, MediaError,
 * SourceError, FleetError, HttpError) with a stable snake_case `code` that the HTTP layer
 * maps to a status and the API returns as `{"error": {"code", "message"}}`.
 *
 * @module
 */

/**
 * An error with a stable code. Subclasses only narrow `Code`; `name` is the subclass's name.
 *
 * @example
 * ```ts
 * import { CodedError } from "./errors.ts";
 * class DiskError extends CodedError<"disk_full"> {}
 * const error = new DiskError("disk_full", "Cannot write '/var/lib/onebit': 0 bytes free");
 * console.log(error.name, error.code); // DiskError disk_full
 * ```
 */
export class CodedError<Code extends string = string> extends Error {
  /** Stable snake_case code. */
  readonly code: Code;

  /** Creates an error; `message` says what failed and the value that made it fail. */
  constructor(code: Code, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The message of any thrown value (an `Error`'s message, else its string form).
 *
 * @example
 * ```ts
 * import { errorMessage } from "./errors.ts";
 * console.log(errorMessage(new Error("boom")), errorMessage(42)); // boom 42
 * ```
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
