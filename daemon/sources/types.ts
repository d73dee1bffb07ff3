/**
 * Frame sources as the HTTP layer sees them.
 *
 * @module
 */

import type { SourceConfig } from "../config/types.ts";

/** A running or finished source. */
export interface SourceStatus {
  readonly config: SourceConfig;
  readonly state: "running" | "ended" | "failed" | "stopped";
  /** Frames read from the input. */
  readonly framesRead: number;
  /** Frames handed to the plugin. */
  readonly framesSent: number;
  /** Frames replaced by a newer one before the plugin was free (latest-frame-wins). */
  readonly framesDropped: number;
  /** Frames the plugin failed on. */
  readonly framesFailed: number;
  /** Why it failed, for `failed`. */
  readonly error: string | null;
  readonly startedAtMs: number;
}

/** Starts and stops sources by name. Errors are `SourceError`s with stable codes. */
export interface SourceControl {
  /** Every source started since boot that has not been removed, by name. */
  list(): SourceStatus[];
  /** Starts a source; rejects with `source_exists`, `plugin_not_found`, `bad_source`. */
  start(config: SourceConfig): Promise<SourceStatus>;
  /** Stops it and waits for its in-flight frame; rejects with `source_not_found`. */
  stop(name: string): Promise<void>;
  /** Stops every source. */
  close(): Promise<void>;
}
