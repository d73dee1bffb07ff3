/**
 * The error the model file modules throw: {@linkcode ModelError}, with a stable `code` and a
 * message that names the file and the problem.
 *
 * @module
 */

/**
 * Stable codes of {@linkcode ModelError}. Codes are append-only: a name never changes meaning.
 *
 * - `io_failed`: the file could not be read (missing, no permission).
 * - `truncated`: the file is shorter than its own header says.
 * - `header_invalid`: the safetensors header length, UTF-8, JSON or structure is wrong.
 * - `tensor_invalid`: a tensor entry is wrong: dtype, shape, offsets, byte length, or its
 *   data does not match its declaration (also used for bad tensors given to a writer).
 * - `format_invalid`: the metadata does not describe a onebit model of a supported version.
 * - `checksum_mismatch`: the data or metadata does not match the recorded checksum.
 * - `graph_invalid`: the graph JSON is malformed, or a name is dangling, duplicated or used
 *   before it is defined.
 * - `unknown_op`: the graph names an op this runtime does not know.
 * - `param_invalid`: a parameter tensor is missing, unused, or has the wrong dtype, shape or
 *   values for the op that reads it.
 * - `shape_mismatch`: activation shapes or dtypes inferred through the graph disagree.
 * - `limit_exceeded`: a size is beyond the runtime's limits (absurd header, shape, kernel).
 */
export type ModelErrorCode =
  | "io_failed"
  | "truncated"
  | "header_invalid"
  | "tensor_invalid"
  | "format_invalid"
  | "checksum_mismatch"
  | "graph_invalid"
  | "unknown_op"
  | "param_invalid"
  | "shape_mismatch"
  | "limit_exceeded";

/** Every {@linkcode ModelErrorCode}, in declaration order. */
export const MODEL_ERROR_CODES: readonly ModelErrorCode[] = Object.freeze([
  "io_failed",
  "truncated",
  "header_invalid",
  "tensor_invalid",
  "format_invalid",
  "checksum_mismatch",
  "graph_invalid",
  "unknown_op",
  "param_invalid",
  "shape_mismatch",
  "limit_exceeded",
]);

/** Options of {@linkcode ModelError}. */
export interface ModelErrorOptions {
  /** The file name (or the name given to an in-memory model). Default: `"<memory>"`. */
  file?: string;
  /** What was being done to the file. Default: `"load"`. */
  action?: "load" | "write";
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A model file that cannot be loaded (or written), with a stable `code`, the `file` name and
 * the `problem` alone; `message` is `Cannot load model '<file>': <problem>`.
 *
 * @example
 * ```ts
 * import { ModelError } from "./errors.ts";
 * const error = new ModelError("tensor_invalid", "tensor 'b3.w' is 4096 bytes, expected 4608", {
 *   file: "detect.onebit",
 * });
 * console.log(error.message);
 * // Cannot load model 'detect.onebit': tensor 'b3.w' is 4096 bytes, expected 4608
 * ```
 */
export class ModelError extends Error {
  /** Stable snake_case code. */
  readonly code: ModelErrorCode;
  /** The file name (or the name given to an in-memory model). */
  readonly file: string;
  /** What is wrong, without the file prefix. */
  readonly problem: string;

  /** Creates an error; `problem` says what failed and the value that made it fail. */
  constructor(code: ModelErrorCode, problem: string, options: ModelErrorOptions = {}) {
    const file = options.file ?? "<memory>";
    super(
      `Cannot ${options.action ?? "load"} model '${file}': ${problem}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ModelError";
    this.code = code;
    this.file = file;
    this.problem = problem;
  }
}

/**
 * The file name and action of one load or write, so that helpers deep in the validation can
 * create errors without passing both around.
 *
 * @example
 * ```ts
 * import { ErrorSite } from "./errors.ts";
 * const site = new ErrorSite("a.onebit");
 * const error = site.error("truncated", "file is 7 bytes, needs at least 8");
 * console.log(error.message); // Cannot load model 'a.onebit': file is 7 bytes, needs at least 8
 * ```
 */
export class ErrorSite {
  /** The file name used in messages. */
  readonly file: string;
  /** What is being done. */
  readonly action: "load" | "write";

  /** A site for `file`; `action` defaults to `"load"`. */
  constructor(file: string, action: "load" | "write" = "load") {
    this.file = file;
    this.action = action;
  }

  /** A {@linkcode ModelError} at this site. */
  error(code: ModelErrorCode, problem: string, options: { cause?: unknown } = {}): ModelError {
    return new ModelError(code, problem, { file: this.file, action: this.action, ...options });
  }
}
