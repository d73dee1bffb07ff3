/**
 * The error the fleet modules (spool, MQTT publisher, commands, config) throw:
 * {@linkcode FleetError}, with a stable `code` and a message naming the value that failed.
 *
 * @module
 */

import { CodedError } from "../errors.ts";

/**
 * Stable codes of {@linkcode FleetError}. Append-only.
 *
 * - `spool_io`: a spool file or folder could not be read, written or synced.
 * - `spool_closed`: the spool was used after `close()`.
 * - `record_too_large`: one record is larger than the spool's record or byte capacity.
 * - `config_invalid`: the `mqtt` config section is wrong.
 * - `secret_missing`: a `env:VAR` secret names an unset environment variable.
 * - `command_invalid`: a fleet command's topic or JSON payload is malformed.
 * - `command_refused`: a command arrived over a connection that is not authenticated.
 * - `command_busy`: too many commands are waiting.
 * - `unsupported`: the command needs a capability the daemon was not given (sources).
 */
export type FleetErrorCode =
  | "spool_io"
  | "spool_closed"
  | "record_too_large"
  | "config_invalid"
  | "secret_missing"
  | "command_invalid"
  | "command_refused"
  | "command_busy"
  | "unsupported";

/**
 * An error of the fleet modules.
 *
 * @example
 * ```ts
 * const error = new FleetError("spool_closed", "Cannot append to spool '/tmp/s': it is closed");
 * console.log(error.code); // "spool_closed"
 * ```
 */
export class FleetError extends CodedError<FleetErrorCode> {
}
