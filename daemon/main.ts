/**
 * The onebit command line.
 *
 *   deno run --allow-read --allow-env --allow-ffi daemon/main.ts [selfcheck] [options]
 *   deno run --allow-read --allow-env daemon/main.ts cpu-level [--all]
 *
 * `selfcheck` (the default for now; the daemon comes later) loads the kernel library for this
 * CPU, creates a SIMD and a scalar context, checks that a bad thread count is refused, and
 * prints the CPU level, library path, ABI version and thread count.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CPU_LEVEL_ENV,
  CPU_LEVELS,
  type CpuLevel,
  forcedCpuLevel,
  hostCpuFeatures,
  hostCpuLevel,
  hostCpuLevels,
  isCpuLevel,
} from "./kernels/cpu_level.ts";
import { KernelError } from "./kernels/errors.ts";
import { KernelContext, openKernels, THREADS_MAX } from "./kernels/library.ts";
import { benchCommand } from "./bench_cli.ts";
import { modelCommand } from "./model_cli.ts";
import { pluginCommand } from "./plugin_cli.ts";
import { serveCommand } from "./serve_cli.ts";

const usage = `Usage: onebit [command] [options]

Commands:
  serve              start the daemon (onebit serve --help)
  plugin ...         scaffold and check plugins (onebit plugin --help)
  model ...          build, inspect and estimate model files (onebit model --help)
  bench ...          run a benchmark: kernels, models or daemon (onebit bench --help)
  selfcheck          load the kernels for this CPU and check them (default)
  cpu-level          print the CPU level this machine loads; with --all, every level
                     the CPU can run, one per line

Options:
  --level <level>    CPU level to load (default: ${CPU_LEVEL_ENV}, else the best level of
                     this CPU): ${CPU_LEVELS.slice(0, 3).join(", ")},
                     ${CPU_LEVELS.slice(3).join(", ")}
  --lib-dir <dir>    directory holding libonebit-<level>.so (default: ONEBIT_LIB_DIR,
                     else zig-out/lib of the repository)
  --threads <n>      threads of the self-check context, 1 to ${THREADS_MAX} (default: all cores)
  --json             print the self-check result as JSON
  --all              with cpu-level: list every level this CPU can run
  -h, --help         print this help`;

/** Where {@linkcode main} writes: standard output and standard error by default. */
export interface MainIo {
  /** Writes one line of regular output. Default: `console.log`. */
  out?: (line: string) => void;
  /** Writes one line of diagnostics. Default: `console.error`. */
  err?: (line: string) => void;
}

/** What `selfcheck` found, as printed with `--json`. */
export interface SelfCheckReport {
  /** The CPU level loaded. */
  level: CpuLevel;
  /**
   * Why that level: `--level` (option), `ONEBIT_CPU_LEVEL` (env), detected from the CPU's
   * flags, or the lowest level because the flags could not be read (fallback: run with
   * `--allow-ffi` or `--allow-all`).
   */
  levelSource: "option" | "env" | "detected" | "fallback";
  /** The library file loaded. */
  library: string;
  /** Its ABI version. */
  abiVersion: number;
  /** Threads of the SIMD context. */
  threads: number;
  /** Variant of the default context (`simd` unless something is wrong). */
  variant: "scalar" | "simd";
}

class UsageError extends Error {}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1 || threads > THREADS_MAX) {
    throw new UsageError(`--threads is '${value}', must be an integer from 1 to ${THREADS_MAX}`);
  }
  return threads;
}

function parseLevel(value: string | undefined): CpuLevel | undefined {
  if (value === undefined) return undefined;
  if (!isCpuLevel(value)) {
    throw new UsageError(`--level is '${value}', expected one of ${CPU_LEVELS.join(", ")}`);
  }
  return value;
}

/**
 * Loads the kernels, creates a SIMD context of `threads` threads and a scalar one, checks that
 * the library refuses a context of 0 threads, and cleans up. Throws {@linkcode KernelError}.
 *
 * @example
 * ```ts
 * import { selfCheck } from "./main.ts";
 * const report = selfCheck({ threads: 2 });
 * console.log(report.level, report.library);
 * ```
 */
export function selfCheck(
  options: { level?: CpuLevel; libDir?: string; threads?: number } = {},
): SelfCheckReport {
  const levelSource = options.level !== undefined
    ? "option"
    : forcedCpuLevel() !== undefined
    ? "env"
    : hostCpuFeatures() === undefined
    ? "fallback"
    : "detected";
  using lib = openKernels({ level: options.level, libDir: options.libDir });
  using ctx = new KernelContext(lib, { threads: options.threads });
  if (ctx.variant !== "simd") {
    throw new KernelError("unsupported", `the default context runs ${ctx.variant}, not simd`);
  }
  {
    using scalar = new KernelContext(lib, { threads: 1, forceScalar: true });
    if (scalar.variant !== "scalar") {
      throw new KernelError("unsupported", `forceScalar gave the ${scalar.variant} variant`);
    }
  }
  try {
    new KernelContext(lib, { threads: 0 }).destroy();
    throw new KernelError("unsupported", "the library accepted a context of 0 threads");
  } catch (error) {
    if (!(error instanceof KernelError) || error.code !== "invalid_argument") throw error;
  }
  return {
    level: lib.level,
    levelSource,
    library: lib.path,
    abiVersion: lib.abiVersion,
    threads: ctx.threads,
    variant: ctx.variant,
  };
}

/**
 * Runs the command line `args` and returns the exit code: 0 on success, 1 when the
 * self-check fails, 2 on a usage error.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = main(["cpu-level"]); // prints e.g. "x86_64_v4", returns 0
 * ```
 */
export function main(args: string[], io: MainIo = {}): number {
  const out = io.out ?? console.log;
  const err = io.err ?? console.error;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        level: { type: "string" },
        "lib-dir": { type: "string" },
        threads: { type: "string" },
        json: { type: "boolean", default: false },
        all: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      out(usage);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`expected one command, got ${positionals}`);
    const command = positionals[0] ?? "selfcheck";
    if (command === "cpu-level") {
      const levels = values.all ? hostCpuLevels() : [
        parseLevel(values.level) ?? hostCpuLevel(),
      ];
      for (const level of levels) out(level);
      return 0;
    }
    if (command !== "selfcheck") throw new UsageError(`unknown command '${command}'`);
    const report = selfCheck({
      level: parseLevel(values.level),
      libDir: values["lib-dir"],
      threads: parseThreads(values.threads),
    });
    if (values.json) {
      out(JSON.stringify(report));
    } else {
      out("onebit kernel self-check: ok");
      out(`  cpu level    ${report.level} (${report.levelSource})`);
      out(`  library      ${report.library}`);
      out(`  abi version  ${report.abiVersion}`);
      out(`  threads      ${report.threads} (${report.variant})`);
    }
    return 0;
  } catch (error) {
    if (error instanceof KernelError) {
      err(`onebit: self-check failed: ${error.code}: ${error.message}`);
      return 1;
    }
    if (
      error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      err(`onebit: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
}

/** Commands that run asynchronously, by name; the kernel commands stay synchronous. */
const ASYNC_COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  model: modelCommand,
  serve: serveCommand,
  plugin: pluginCommand,
  bench: benchCommand,
};

if (import.meta.main) {
  const command = ASYNC_COMMANDS[Deno.args[0]];
  Deno.exit(command ? await command(Deno.args.slice(1)) : main(Deno.args));
}
