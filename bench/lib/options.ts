/**
 * What the benchmarks share outside timing and reporting: their command-line options and the
 * facts about the machine a report records.
 *
 * @module
 */

/** Options every benchmark takes. */
export interface BenchOptions {
  /** `--quick`: a subset, fewer rounds. */
  quick: boolean;
  /** `--rounds=N`. */
  rounds: number;
  /** `--threads=1,2`. */
  threads: number[];
  /** The value of the benchmark's filter flag (`--shapes=` or `--models=`). */
  filter: string;
  /** `--out=<path>`: the JSON report. */
  out: string;
}

/** How one benchmark defaults and names its options. */
export interface BenchOptionSpec {
  /** Used in error messages, e.g. `bench:kernels`. */
  name: string;
  /** The filter flag, e.g. `--shapes`. */
  filterFlag: string;
  /** Default report path. */
  out: string;
  /** Default rounds: quick and full. */
  rounds: { quick: number; full: number };
  /** Default thread counts: quick and full. */
  threads: { quick: number[]; full: number[] };
}

/**
 * Parses `--quick`, `--rounds=N`, `--threads=a,b`, the filter flag and `--out=path`,
 * refusing unknown arguments and non-positive counts.
 *
 * @example
 * ```ts
 * import { parseBenchOptions } from "./options.ts";
 * const options = parseBenchOptions(["--quick"], {
 *   name: "bench:x", filterFlag: "--shapes", out: "x.json",
 *   rounds: { quick: 5, full: 15 }, threads: { quick: [1], full: [1, 2] },
 * });
 * console.log(options.rounds, options.threads); // 5 [ 1 ]
 * ```
 */
export function parseBenchOptions(args: readonly string[], spec: BenchOptionSpec): BenchOptions {
  let quick = false;
  let rounds = 0;
  let threads: number[] = [];
  let filter = "";
  let out = spec.out;
  for (const arg of args) {
    const [flag, value = ""] = arg.split("=", 2);
    if (flag === "--quick") quick = true;
    else if (flag === "--rounds") rounds = Number(value);
    else if (flag === "--threads") threads = value.split(",").map(Number);
    else if (flag === spec.filterFlag) filter = value;
    else if (flag === "--out") out = value;
    else throw new Error(`${spec.name}: unknown argument '${arg}'`);
  }
  if (rounds === 0) rounds = quick ? spec.rounds.quick : spec.rounds.full;
  if (threads.length === 0) threads = quick ? spec.threads.quick : spec.threads.full;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`${spec.name}: --rounds is ${rounds}, must be an integer >= 1`);
  }
  for (const count of threads) {
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`${spec.name}: --threads holds ${count}, must be integers >= 1`);
    }
  }
  return { quick, rounds, threads, filter, out };
}

/** The 1-minute load average, or null where /proc/loadavg is missing. */
export function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

/** The CPU's model name from /proc/cpuinfo, or "unknown". */
export function cpuModel(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1] ??
      "unknown";
  } catch {
    return "unknown";
  }
}
