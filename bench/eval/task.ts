/**
 * The contract between `bench/eval.ts` (variants, FPS, sizes, report) and one task's
 * accuracy measurement (`bench/eval/<task>.ts`), plus the held-out sets the Python package
 * writes (`python -m onebit_train evalset <family>`), shared by every task that has one.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { ModelInstance } from "../../daemon/runtime/executor.ts";
import type { Image } from "../../daemon/sdk/image.ts";
import type { PluginManifest } from "../../daemon/sdk/plugin.ts";

/** Repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One model of the plugin bound to the runtime: `bineal`, `bineal_sks` or `int8_twin`. */
export interface EvalVariant {
  name: string;
  instance: ModelInstance;
}

/** What the task's accuracy run gets. */
export interface EvalContext {
  pluginDir: string;
  manifest: PluginManifest;
  /** Most held-out samples to use. */
  limit: number;
}

/** The accuracy figures of every variant on one held-out set. */
export interface EvalAccuracy {
  /** Metric id in the JSON report, e.g. `top1_fashion_mnist_test`. */
  metric: string;
  /** Column heading, e.g. `top-1`. */
  label: string;
  /** Samples (images, image pairs) measured. */
  count: number;
  /** The metric of each variant by name; higher is better. */
  values: Record<string, number>;
  /** Further metrics of each variant (shown in the JSON report). */
  extra?: Record<string, Record<string, number>>;
  /** The metric as shown in the table. */
  format(value: number): string;
  /** A sentence for the README under the table (e.g. a baseline), optional. */
  note?: string;
}

/** One task's accuracy measurement. */
export type TaskEval = (
  variants: readonly EvalVariant[],
  context: EvalContext,
) => Promise<EvalAccuracy>;

/** Where scripts/fetch_data.sh unpacks the datasets. */
export function dataRoot(): string {
  return `${cacheHome()}/onebit/data/root`;
}

function cacheHome(): string {
  return Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
}

async function run(cmd: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd, stderr: "inherit" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`eval: ${cmd.join(" ")} failed (exit ${out.code})`);
  return text;
}

/**
 * The folder of a family's held-out set, written on first use by the training package
 * (deterministic: the same files on every machine with the same data cache). Its
 * `manifest.json` describes the files; each task module reads its own layout.
 */
export async function evalset(family: string): Promise<string> {
  const dir = `${Deno.env.get("ONEBIT_EVAL") ?? `${cacheHome()}/onebit/eval`}/${family}`;
  try {
    await Deno.stat(`${dir}/manifest.json`);
    return dir;
  } catch {
    // Not written yet.
  }
  const python = (await run(["bash", "scripts/train_env.sh"], ROOT)).trim().split("\n").at(-1)!;
  await run(["bash", "scripts/fetch_data.sh", "all"], ROOT);
  await run([python, "-m", "onebit_train", "evalset", family, "--out", dir], `${ROOT}train`);
  return dir;
}

/**
 * A family's held-out set: its folder and its `manifest.json`, checked by `problem` (a
 * sentence saying what is wrong with it, or null), so a stale or foreign set fails loudly.
 */
export async function readEvalset<T>(
  family: string,
  problem: (set: T) => string | null,
): Promise<{ dir: string; set: T }> {
  const dir = await evalset(family);
  const set: T = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  const wrong = problem(set);
  if (wrong !== null) throw new Error(`eval ${family}: ${dir}/manifest.json ${wrong}`);
  return { dir, set };
}

/** A raw u8 RGB image file of an evalset (`width` x `height` x 3 bytes, no header). */
export async function readRawImage(path: string, width: number, height: number): Promise<Image> {
  const data = await Deno.readFile(path);
  if (data.length !== width * height * 3) {
    throw new Error(`eval: ${path} has ${data.length} bytes, expected ${width}x${height}x3`);
  }
  return { width, height, channels: 3, data };
}
