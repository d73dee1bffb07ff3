/**
 * The daemon process's own CPU time and resident memory.
 *
 * CPU time comes from `process.cpuUsage()` (user + system, µs, all threads: the kernel
 * worker threads included), which avoids guessing the clock tick that `/proc/self/stat`
 * counts in. RSS is `Deno.memoryUsage().rss`.
 *
 * @module
 */

import process from "node:process";

/** Shortest interval over which a CPU ratio is computed, ms. */
export const CPU_RATIO_INTERVAL_MS_MIN = 50;

/** One sample of the process. */
export interface ProcessSample {
  /** CPU time used since the process started (user + system), s. */
  readonly cpuSecondsTotal: number;
  /**
   * CPU time over wall time since the previous sample, in cores: 1 = one core busy the whole
   * interval, up to the number of cores. `null` when less than
   * {@linkcode CPU_RATIO_INTERVAL_MS_MIN} passed since the previous sample.
   */
  readonly cpuRatio: number | null;
  /** Resident set size, bytes. */
  readonly residentBytes: number;
}

/** Options of {@linkcode ProcessSampler}. */
export interface ProcessSamplerOptions {
  /** CPU seconds so far. Default: `process.cpuUsage()` user + system. */
  readonly cpuSeconds?: () => number;
  /** Resident bytes now. Default: `Deno.memoryUsage().rss`. */
  readonly residentBytes?: () => number;
  /** The clock `sample` is given, read once at construction as the first baseline. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Samples CPU time and RSS, computing the CPU ratio between samples.
 *
 * @example
 * ```ts
 * import { ProcessSampler } from "./process.ts";
 * const sampler = new ProcessSampler();
 * console.log(sampler.sample(Date.now()).cpuRatio);
 * ```
 */
export class ProcessSampler {
  readonly #cpuSeconds: () => number;
  readonly #residentBytes: () => number;
  #last: { atMs: number; cpuSeconds: number } | null = null;

  /**
   * Creates a sampler and takes its baseline, so that the first `sample` already has a
   * ratio. The options replace the sources (tests).
   */
  constructor(options: ProcessSamplerOptions = {}) {
    this.#cpuSeconds = options.cpuSeconds ?? defaultCpuSeconds;
    this.#residentBytes = options.residentBytes ?? (() => Deno.memoryUsage().rss);
    this.#last = { atMs: (options.now ?? Date.now)(), cpuSeconds: this.#cpuSeconds() };
  }

  /** Samples at `nowMs` (a monotonic clock, ms). */
  sample(nowMs: number): ProcessSample {
    const cpuSeconds = this.#cpuSeconds();
    let cpuRatio: number | null = null;
    // Over a few ms the clock's 1 ms steps make the ratio noise (5 ms of CPU in "1 ms" reads
    // as 5 cores): below the minimum the baseline stays and no ratio is given.
    if (this.#last === null || nowMs - this.#last.atMs >= CPU_RATIO_INTERVAL_MS_MIN) {
      if (this.#last !== null) {
        cpuRatio = Math.max(0, cpuSeconds - this.#last.cpuSeconds) /
          ((nowMs - this.#last.atMs) / 1000);
      }
      this.#last = { atMs: nowMs, cpuSeconds };
    }
    return { cpuSecondsTotal: cpuSeconds, cpuRatio, residentBytes: this.#residentBytes() };
  }
}

function defaultCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}
