/**
 * Per-task counters, a bounded ring of recent latencies (exact percentiles) and a sliding
 * window of completion times (FPS).
 *
 * @module
 */

/** Most distinct error codes kept per task; further codes are counted under `other`. */
export const ERROR_CODES_MAX = 64;

/** Sizes of the bounded buffers of {@linkcode TaskStats}. */
export interface TaskStatsOptions {
  /** Recent latencies kept for percentiles. Default 1024. */
  readonly latencyRing?: number;
  /** Completion times kept for FPS. Default 4096 (enough for 800 FPS over 5 s). */
  readonly fpsRing?: number;
  /** FPS window, ms. Default 5000. */
  readonly fpsWindowMs?: number;
}

/** Percentiles of the recent latencies, ms (nearest rank). */
export type LatencyPercentiles = {
  /** Latencies in the ring. */
  readonly count: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
};

/** A ring of numbers overwriting its oldest entry. */
class Ring {
  readonly values: Float64Array;
  count = 0;
  next = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count += 1;
  }

  /** The oldest entry still held. */
  oldest(): number {
    const start = (this.next - this.count + this.values.length) % this.values.length;
    return this.values[start];
  }

  contents(): Float64Array {
    if (this.count < this.values.length) return this.values.slice(0, this.count);
    return this.values.slice();
  }
}

/**
 * Everything counted for one task.
 *
 * @example
 * ```ts
 * import { TaskStats } from "./task_stats.ts";
 * const stats = new TaskStats();
 * stats.inference(12, 1000);
 * console.log(stats.latencyPercentiles().p50); // 12
 * ```
 */
export class TaskStats {
  /** Successful inferences. */
  inferences = 0;
  /** Failed requests by code. */
  readonly errors = new Map<string, number>();
  /** Dropped frames by reason. */
  readonly dropped = { queue_full: 0, latest_wins: 0 };
  /** Reloads by result. */
  readonly reloads = { ok: 0, failed: 0 };
  /** Worker restarts. */
  restarts = 0;
  /** Frames waiting. */
  queueDepth = 0;
  /** The version serving, or `null`. */
  version: string | null = null;
  readonly #latencies: Ring;
  readonly #completions: Ring;
  readonly #fpsWindowMs: number;

  /** Creates empty stats with the buffer sizes of `options`. */
  constructor(options: TaskStatsOptions = {}) {
    this.#latencies = new Ring(options.latencyRing ?? 1024);
    this.#completions = new Ring(options.fpsRing ?? 4096);
    this.#fpsWindowMs = options.fpsWindowMs ?? 5000;
  }

  /** One inference completed at `atMs`; `latencyMs` is kept when finite and not negative. */
  inference(latencyMs: number, atMs: number): void {
    this.inferences += 1;
    if (Number.isFinite(latencyMs) && latencyMs >= 0) this.#latencies.push(latencyMs);
    this.#completions.push(atMs);
  }

  /** One failure; codes beyond {@linkcode ERROR_CODES_MAX} distinct ones count as `other`. */
  error(code: string): void {
    const key = this.errors.has(code) || this.errors.size < ERROR_CODES_MAX ? code : "other";
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  /** Failures of every code. */
  get errorsTotal(): number {
    let total = 0;
    for (const count of this.errors.values()) total += count;
    return total;
  }

  /**
   * Completions per second over the last `fpsWindowMs` before `nowMs`. When the ring is too
   * small for the rate, the rate over the span the ring covers.
   */
  fps(nowMs: number): number {
    const ring = this.#completions;
    if (ring.count === 0) return 0;
    const windowStart = nowMs - this.#fpsWindowMs;
    if (
      ring.count === ring.values.length && ring.count > 1 && ring.oldest() > windowStart &&
      nowMs > ring.oldest()
    ) {
      // n completions held span n - 1 intervals.
      return (ring.count - 1) / ((nowMs - ring.oldest()) / 1000);
    }
    let inWindow = 0;
    for (let i = 0; i < ring.count; i += 1) {
      const at = ring.values[i];
      if (at > windowStart && at <= nowMs) inWindow += 1;
    }
    return inWindow / (this.#fpsWindowMs / 1000);
  }

  /** Exact nearest-rank percentiles over the latencies in the ring. */
  latencyPercentiles(): LatencyPercentiles {
    const sorted = this.#latencies.contents().sort();
    const n = sorted.length;
    const rank = (
      p: number,
    ): number | null => (n === 0 ? null : sorted[Math.max(0, Math.ceil(p * n) - 1)]);
    return {
      count: n,
      p50: rank(0.5),
      p95: rank(0.95),
      p99: rank(0.99),
      max: n === 0 ? null : sorted[n - 1],
    };
  }
}
