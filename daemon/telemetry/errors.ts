/**
 * Errors of the telemetry module.
 *
 * @module
 */

/** Stable codes of {@linkcode TelemetryError}. */
export type TelemetryErrorCode = "invalid_option";

/**
 * A telemetry option that cannot work (the recorder methods themselves never throw).
 *
 * @example
 * ```ts
 * import { TelemetryError } from "./errors.ts";
 * const error = new TelemetryError("invalid_option", "intervalMs is 0, expected an integer >= 10");
 * console.log(error.code, error.message);
 * ```
 */
export class TelemetryError extends Error {
  /** Stable snake_case code. */
  readonly code: TelemetryErrorCode;

  /** Creates an error; `problem` names the option and its value. */
  constructor(code: TelemetryErrorCode, problem: string) {
    super(`Invalid telemetry options: ${problem}`);
    this.name = "TelemetryError";
    this.code = code;
  }
}
