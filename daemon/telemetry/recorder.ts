/**
 * What the host and the sources report to telemetry. The telemetry module implements it;
 * tests may pass their own. Every method is cheap and never throws.
 *
 * @module
 */

/** Counts and timings per task (plugin name), fed by the host and the sources. */
export interface TaskRecorder {
  /**
   * One successful inference: `latencyMs` from receipt to result (queueing included),
   * `busyMs` the time the worker spent on it (used to share energy among tasks).
   */
  inference(task: string, latencyMs: number, busyMs: number): void;
  /** One failed request, by stable error code (`deadline_exceeded`, `bad_image`, ...). */
  error(task: string, code: string): void;
  /** Frames dropped: `queue_full` (request refused) or `latest_wins` (streaming source). */
  dropped(task: string, reason: "queue_full" | "latest_wins", count?: number): void;
  /** Current queue depth (waiting, not in flight). */
  queueDepth(task: string, depth: number): void;
  /** A hot swap or reload attempt and whether it took. */
  reload(task: string, version: string, ok: boolean): void;
  /** The version now serving, or `null` once unloaded. */
  pluginVersion(task: string, version: string | null): void;
  /** A worker restart after a crash or a hang. */
  restart(task: string): void;
}
