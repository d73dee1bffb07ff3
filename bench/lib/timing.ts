/**
 * Timing for side-by-side benchmarks (DESIGN.md section 8): every implementation of one
 * problem is warmed up, calibrated to samples long enough for the clock, then timed in
 * interleaved rounds so that machine noise (other tenants, frequency changes) hits all of
 * them alike. Results are medians and minima of per-call times; ratios are taken between
 * implementations measured in the same rounds.
 *
 * @module
 */

/** One implementation of a problem: `run` performs one call (sync or async). */
export interface BenchCase {
  /** Name in reports, e.g. `"binary"`, `"ort_int8"`. */
  name: string;
  /** Performs one call of the implementation. */
  run: () => void | Promise<void>;
  /**
   * Pause in milliseconds after every sample of this case, for implementations whose threads
   * keep spinning after a call (ONNX Runtime's intra-op pool spins for about 40 ms): without
   * it they would compete with the next case for the cores. Default 0.
   */
  settleAfterMs?: number;
}

/** Summary of the per-call times of one case. */
export interface CaseTiming {
  /** Case name. */
  name: string;
  /** Calls per timed sample (calibrated so one sample lasts at least `sampleMs`). */
  callsPerSample: number;
  /** Per-call time of every sample, in milliseconds, in round order. */
  samplesMs: number[];
  /** Median per-call time in milliseconds. */
  medianMs: number;
  /** Fastest per-call time in milliseconds. */
  minMs: number;
}

/** Options of {@linkcode timeInterleaved}. */
export interface TimingOptions {
  /** Timed rounds; each round takes one sample of every case. Default 20. */
  rounds?: number;
  /** Untimed calls of each case before calibration. Default 3. */
  warmupCalls?: number;
  /** Shortest sample in milliseconds: fast calls are repeated to fill it. Default 2. */
  sampleMs?: number;
  /** Most calls in one sample. Default 10000. */
  callsPerSampleMax?: number;
  /**
   * Pause in milliseconds before every sample, so threads that spin after a call (ONNX
   * Runtime's pool, onebit's pool) go back to sleep and do not steal cores from the next
   * case. Default 0.
   */
  settleMs?: number;
  /**
   * Untimed calls right before every sample. One call wakes the implementation's sleeping
   * pool threads (on a virtual machine a halted vCPU can take milliseconds to wake), so the
   * sample measures calls that follow each other, as the ops of a running model do.
   * Default 0.
   */
  primeCalls?: number;
  /**
   * Keep priming until this many milliseconds have passed (at least `primeCalls` calls), for
   * calls shorter than a vCPU's wake-up. Default 0.
   */
  primeMs?: number;
}

/** Untimed calls: at least `calls`, and until `ms` milliseconds have passed. */
async function prime(run: BenchCase["run"], calls: number, ms: number): Promise<void> {
  const start = performance.now();
  // Bounded: a call takes time, and the count is capped for calls that take none.
  for (let call = 0; call < 100_000; call++) {
    if (call >= calls && performance.now() - start >= ms) return;
    await run();
  }
}

/**
 * The median of `values` (mean of the two middle values for an even count).
 *
 * @example
 * ```ts
 * import { median } from "./timing.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 2, 3])); // 2 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timeCalls(run: BenchCase["run"], calls: number): Promise<number> {
  const start = performance.now();
  for (let call = 0; call < calls; call++) await run();
  return performance.now() - start;
}

/**
 * Warms up, calibrates and times `cases` in interleaved rounds; the order of the cases
 * rotates every round so no case always runs right after the same neighbour.
 *
 * @example
 * ```ts
 * import { timeInterleaved } from "./timing.ts";
 * const timings = await timeInterleaved([
 *   { name: "sum", run: () => { let s = 0; for (let i = 0; i < 1e5; i++) s += i; } },
 *   { name: "noop", run: () => {} },
 * ], { rounds: 5 });
 * console.log(timings.map((t) => `${t.name}: ${t.medianMs.toFixed(4)} ms`));
 * ```
 */
export async function timeInterleaved(
  cases: readonly BenchCase[],
  options: TimingOptions = {},
): Promise<CaseTiming[]> {
  const rounds = options.rounds ?? 20;
  const warmupCalls = options.warmupCalls ?? 3;
  const sampleMs = options.sampleMs ?? 2;
  const callsMax = options.callsPerSampleMax ?? 10_000;
  const settleMs = options.settleMs ?? 0;
  const primeCalls = options.primeCalls ?? 0;
  const primeMs = options.primeMs ?? 0;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds is ${rounds}`);

  const calls: number[] = [];
  for (const bench of cases) {
    const warmupMs = await timeCalls(bench.run, warmupCalls);
    const settleAfterMs = bench.settleAfterMs ?? 0;
    if (settleAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, settleAfterMs));
    const perCall = Math.max(warmupMs / Math.max(warmupCalls, 1), 1e-4);
    calls.push(Math.min(callsMax, Math.max(1, Math.ceil(sampleMs / perCall))));
  }
  const samples: number[][] = cases.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let offset = 0; offset < cases.length; offset++) {
      const index = (round + offset) % cases.length;
      if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
      await prime(cases[index].run, primeCalls, primeMs);
      samples[index].push((await timeCalls(cases[index].run, calls[index])) / calls[index]);
      const settleAfterMs = cases[index].settleAfterMs ?? 0;
      if (settleAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, settleAfterMs));
    }
  }
  return cases.map((bench, index) => ({
    name: bench.name,
    callsPerSample: calls[index],
    samplesMs: samples[index],
    medianMs: median(samples[index]),
    minMs: Math.min(...samples[index]),
  }));
}
