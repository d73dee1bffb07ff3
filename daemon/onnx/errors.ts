/**
 * The error every module of `daemon/onnx/` throws.
 *
 * @module
 */

/**
 * Stable codes of {@linkcode OnnxError}: `invalid_argument` (a value out of range),
 * `shape_mismatch` (data length or dims that disagree), `duplicate_name` (a graph name used
 * twice), `unknown_name` (a graph name never defined), `session_failed` (ONNX Runtime
 * refused to load or run a model), `disposed` (a session used after dispose).
 */
export type OnnxErrorCode =
  | "invalid_argument"
  | "shape_mismatch"
  | "duplicate_name"
  | "unknown_name"
  | "session_failed"
  | "disposed";

/**
 * A failure while building an ONNX model or running it with ONNX Runtime.
 *
 * @example
 * ```ts
 * import { OnnxError } from "./errors.ts";
 * const error = new OnnxError("shape_mismatch", "weights hold 8 values, dims need 9");
 * console.log(error.code, error.message);
 * ```
 */
export class OnnxError extends Error {
  /** Stable machine-readable code. */
  readonly code: OnnxErrorCode;

  /** Creates an error with a stable `code` and a message naming the offending value. */
  constructor(code: OnnxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OnnxError";
    this.code = code;
  }
}
