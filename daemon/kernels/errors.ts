/**
 * Status codes of libonebit and the error the FFI layer throws for them.
 *
 * {@linkcode STATUS_CODES} mirrors `kernels/src/status.zig` (names and numbers; a test keeps
 * the two equal). Codes are append-only on the native side, so a name never changes meaning.
 *
 * @module
 */

/**
 * Every status a libonebit call can return: `ok` is 0, errors are negative.
 *
 * @example
 * ```ts
 * import { STATUS_CODES } from "./errors.ts";
 * console.log(STATUS_CODES.invalid_argument); // -1
 * ```
 */
export const STATUS_CODES = {
  ok: 0,
  invalid_argument: -1,
  buffer_too_small: -2,
  unsupported_cpu: -3,
  out_of_memory: -4,
  shape_mismatch: -5,
  unsupported: -6,
  thread_spawn_failed: -7,
  limit_exceeded: -8,
  null_pointer: -9,
} as const;

/** The name of a native status, e.g. `"invalid_argument"`. */
export type StatusName = keyof typeof STATUS_CODES;

/**
 * Codes of failures the TypeScript side detects itself, without a native status:
 * `closed` (library used after close), `busy` (close refused while users are alive),
 * `destroyed` (context used after destroy), `library_not_found`, `library_open_failed`,
 * `abi_mismatch`, `level_mismatch`, and `unknown_status` for a status number missing from
 * {@linkcode STATUS_CODES} (a library newer than this daemon).
 */
export type HostErrorCode =
  | "closed"
  | "busy"
  | "destroyed"
  | "library_not_found"
  | "library_open_failed"
  | "abi_mismatch"
  | "level_mismatch"
  | "unknown_status";

/** Every `code` a {@linkcode KernelError} can carry. */
export type KernelErrorCode = Exclude<StatusName, "ok"> | HostErrorCode;

const namesByStatus = new Map<number, StatusName>(
  Object.entries(STATUS_CODES).map(([name, status]) => [status, name as StatusName]),
);

/**
 * The stable name of a native status number, or `"unknown_status"` when this daemon does not
 * know the number.
 *
 * @example
 * ```ts
 * import { statusName } from "./errors.ts";
 * console.log(statusName(-3)); // "unsupported_cpu"
 * ```
 */
export function statusName(status: number): StatusName | "unknown_status" {
  return namesByStatus.get(status) ?? "unknown_status";
}

/**
 * The {@linkcode KernelError} code for a failing native status: its name, or
 * `"unknown_status"` for a number this daemon does not know (or for 0, which is no failure).
 *
 * @example
 * ```ts
 * import { statusErrorCode } from "./errors.ts";
 * console.log(statusErrorCode(-2), statusErrorCode(-100)); // buffer_too_small unknown_status
 * ```
 */
export function statusErrorCode(status: number): KernelErrorCode {
  const name = statusName(status);
  return name === "ok" ? "unknown_status" : name;
}

/** Options of {@linkcode KernelError}. */
export interface KernelErrorOptions {
  /**
   * The native status number. Default: the number of `code` when it names a native status,
   * else 0 (the failure was detected on the TypeScript side).
   */
  status?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A failure of the kernel library or of its FFI layer, with a stable `code`.
 *
 * @example
 * ```ts
 * import { KernelError } from "./errors.ts";
 * try {
 *   throw new KernelError("invalid_argument", "threads is 0, must be 1 to 64");
 * } catch (error) {
 *   if (error instanceof KernelError) console.log(error.code, error.status); // invalid_argument -1
 * }
 * ```
 */
export class KernelError extends Error {
  /** Stable snake_case code: a native status name or a {@linkcode HostErrorCode}. */
  readonly code: KernelErrorCode;
  /** The native status number, or 0 for failures detected on the TypeScript side. */
  readonly status: number;

  /** Creates an error; `message` says what failed and the value that made it fail. */
  constructor(code: KernelErrorCode, message: string, options: KernelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KernelError";
    this.code = code;
    this.status = options.status ??
      (code in STATUS_CODES ? STATUS_CODES[code as StatusName] : 0);
  }
}
