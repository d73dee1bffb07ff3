/**
 * `onebit bench <kernels|models|daemon> [options]`: runs one of the benchmarks of bench/ in
 * a child Deno (each is also a `deno task bench:<name>`), passing the options through.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The benchmarks, by name, with what each measures. */
export const BENCHMARKS: Readonly<Record<string, string>> = Object.freeze({
  kernels: "binary conv against ONNX Runtime int8 and fp32 and the popcount roofline",
  models: "whole models (ResNet-18, CenterNet, FCN) against their ONNX Runtime int8 twins",
  daemon: "HTTP inference overhead, RSS with three plugins, hot swaps under load",
});

/** Help text of `onebit bench`. */
export const BENCH_USAGE = `Usage: onebit bench <name> [options]

Benchmarks (each writes bench/results/<name>.json and prints one JSON object last):
${Object.entries(BENCHMARKS).map(([name, what]) => `  ${name.padEnd(9)} ${what}`).join("\n")}

Options are passed to the benchmark; every one accepts --quick and --help.`;

/** Runs `onebit bench args`; resolves with the benchmark's exit code (2 on a usage error). */
export async function benchCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "-h" || name === "--help") {
    console.log(BENCH_USAGE);
    return name === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(BENCHMARKS, name)) {
    console.error(`onebit bench: unknown benchmark '${name}'\n\n${BENCH_USAGE}`);
    return 2;
  }
  const script = fileURLToPath(new URL(`../bench/${name}.ts`, import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-worker-options", "--unstable-net", script, ...rest],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  return status.code;
}
