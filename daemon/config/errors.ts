/**
 * The error the config modules throw: {@linkcode ConfigError}, code `bad_config`.
 *
 * @module
 */

/** One problem found in a config, by field path (`listen.port`, `sources[0].fps`). */
export interface ConfigIssue {
  /** Dotted field path; `""` for the document itself. */
  readonly path: string;
  /** What is wrong, naming the bad value (`listen.port is 70000, expected 0..65535`). */
  readonly message: string;
}

/**
 * A config that cannot be used: unreadable, not JSON, or refused by the schema. The message
 * names the file, the field path and the bad value, e.g.
 * `configs/onebit.json: listen.port is 70000, expected 0..65535`.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * const error = new ConfigError("onebit.json", [{ path: "listen.port", message: "listen.port is -1, expected 0..65535" }]);
 * console.log(error.code, error.message); // bad_config onebit.json: listen.port is -1, expected 0..65535
 * ```
 */
export class ConfigError extends Error {
  /** Always `bad_config`. */
  readonly code = "bad_config" as const;
  /** The file, or `<defaults>` / `<memory>` when there is none. */
  readonly file: string;
  /** Every problem found (at least one). */
  readonly issues: readonly ConfigIssue[];

  /** Creates an error for `file` from its `issues` (at least one). */
  constructor(file: string, issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    if (issues.length === 0) throw new TypeError("ConfigError needs at least one issue");
    super(
      `${file}: ${issues.map((issue) => issue.message).join("; ")}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }
}
