/**
 * `onebit plugin ...`: scaffold a plugin (`new`) and validate a plugin folder (`check`).
 *
 * @example
 * ```ts ignore
 * import { pluginCommand } from "./plugin_cli.ts";
 * await pluginCommand(["new", "cones", "--task", "detect", "--dir", "plugins"]);
 * const code = await pluginCommand(["check", "plugins/cones"]); // 0 when it is valid
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { readManifest } from "./host/manifest.ts";
import { readModel } from "./runtime/model_file.ts";
import { SCAFFOLD_KINDS, type ScaffoldKind, scaffoldPlugin } from "./scaffold/scaffold.ts";
import { PLUGIN_API_VERSION, type PluginManifest } from "./sdk/plugin.ts";
import { openTestHost } from "./sdk/testing.ts";

/** Help of `onebit plugin`. */
export const PLUGIN_USAGE = `Usage: onebit plugin <command> [options]

Commands:
  new NAME --task KIND [--dir DIR]   scaffold a working plugin in DIR/NAME
  check DIR                          validate a plugin folder

Run 'onebit plugin <command> --help' for a command's options.`;

/** Help of `onebit plugin new`. */
export const PLUGIN_NEW_USAGE = `Usage: onebit plugin new NAME --task KIND [--dir DIR]

Writes DIR/NAME/ (DIR default: the current directory) with plugin.json, mod.ts (using the
plugin SDK, daemon/sdk), mod_test.ts, README.md and a starter model.safetensors of the task
with random weights, so the plugin loads and runs at once. Replace the model with a trained
one before use.

Options:
  --task KIND    ${SCAFFOLD_KINDS.join(", ")}
  --dir DIR      folder to create the plugin in (default: .)
  -h, --help     print this help`;

/** Help of `onebit plugin check`. */
export const PLUGIN_CHECK_USAGE = `Usage: onebit plugin check DIR

Validates the plugin in DIR, step by step, and exits 1 at the first failure:
  manifest   plugin.json against the plugin contract (API version ${PLUGIN_API_VERSION})
  module     the entry imports and default-exports { setup, process, teardown? }
  models     every model file loads (checksum, graph) and its u8 image input matches
             the manifest's input size and channels
  warm-up    the plugin loads in a real plugin host (its own worker, the daemon's
             permissions) and processes its self-test frame

Options:
  -h, --help     print this help`;

/** Where the command writes. */
export interface PluginCliIo {
  /** Regular output. Default `console.log`. */
  out?: (line: string) => void;
  /** Diagnostics. Default `console.error`. */
  err?: (line: string) => void;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `onebit plugin <args>`; returns the exit code: 0 success, 1 a failed check or
 * scaffold, 2 bad usage.
 */
export async function pluginCommand(args: string[], io: PluginCliIo = {}): Promise<number> {
  const out = io.out ?? console.log;
  const err = io.err ?? console.error;
  const [command, ...rest] = args;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    (command === undefined ? err : out)(PLUGIN_USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "new") return await newCommand(rest, out, err);
  if (command === "check") return await checkCommand(rest, out, err);
  err(`onebit plugin: unknown command '${command}'\n\n${PLUGIN_USAGE}`);
  return 2;
}

function parse(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
  err: (line: string) => void,
  usage: string,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } | null {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    err(`onebit plugin: ${message(error)}\n\n${usage}`);
    return null;
  }
}

async function newCommand(
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const parsed = parse(
    args,
    {
      task: { type: "string" },
      dir: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    err,
    PLUGIN_NEW_USAGE,
  );
  if (parsed === null) return 2;
  if (parsed.values.help) {
    out(PLUGIN_NEW_USAGE);
    return 0;
  }
  const [name, ...extra] = parsed.positionals;
  const task = parsed.values.task as string | undefined;
  if (name === undefined || extra.length > 0 || task === undefined) {
    err(
      `onebit plugin new: ${
        name === undefined
          ? "NAME is missing"
          : extra.length > 0
          ? `unexpected argument '${extra[0]}'`
          : "--task is missing"
      }\n\n${PLUGIN_NEW_USAGE}`,
    );
    return 2;
  }
  if (!SCAFFOLD_KINDS.includes(task as ScaffoldKind)) {
    err(`onebit plugin new: --task is '${task}', expected one of ${SCAFFOLD_KINDS.join(", ")}`);
    return 2;
  }
  try {
    const result = await scaffoldPlugin(name, {
      task: task as ScaffoldKind,
      dir: (parsed.values.dir as string | undefined) ?? ".",
    });
    out(`created ${result.dir}`);
    for (const file of result.files) out(`  ${file}`);
    out(`next: onebit plugin check ${result.dir}`);
    out("      (model.safetensors has random weights: replace it with a trained model)");
    return 0;
  } catch (error) {
    err(`onebit plugin new: ${message(error)}`);
    return 1;
  }
}

/** Checks the module's default export; returns a problem or `null`. */
function exportProblem(module: Record<string, unknown>): string | null {
  const plugin = module.default as Record<string, unknown> | undefined;
  if (typeof plugin !== "object" || plugin === null) {
    return `has no default export object (got ${plugin === null ? "null" : typeof plugin})`;
  }
  for (const method of ["setup", "process"]) {
    if (typeof plugin[method] !== "function") {
      return `default export has no ${method}() function (${method} is ${typeof plugin[method]})`;
    }
  }
  if (plugin.teardown !== undefined && typeof plugin.teardown !== "function") {
    return `default export's teardown is ${typeof plugin.teardown}, expected a function`;
  }
  return null;
}

/** Checks every model file; returns the problems. */
async function modelProblems(dir: string, manifest: PluginManifest): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, file] of Object.entries(manifest.models)) {
    try {
      const model = await readModel(`${dir}/${file}`);
      const inputs = model.graph.inputs;
      const image = inputs.find((input) => input.name === "image" && input.dtype === "u8") ??
        inputs.find((input) => input.dtype === "u8" && input.shape.length === 4);
      if (image === undefined) {
        problems.push(
          `models.${name} (${file}): no u8 image input; its inputs are ${
            inputs.map((input) => `'${input.name}' (${input.dtype} [${input.shape}])`).join(", ")
          }`,
        );
        continue;
      }
      const [, height, width, channels] = image.shape;
      const want = manifest.input;
      if (height !== want.height || width !== want.width || channels !== want.channels) {
        problems.push(
          `models.${name} (${file}): input '${image.name}' is ${width}x${height}x${channels} ` +
            `(WxHxC), but the manifest's input is ${want.width}x${want.height}x${want.channels}`,
        );
      }
    } catch (error) {
      problems.push(`models.${name} (${file}): ${message(error)}`);
    }
  }
  return problems;
}

/** Checks run in this process (makes each module import URL unique). */
let checks = 0;

async function checkCommand(
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const parsed = parse(args, { help: { type: "boolean", short: "h" } }, err, PLUGIN_CHECK_USAGE);
  if (parsed === null) return 2;
  if (parsed.values.help) {
    out(PLUGIN_CHECK_USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    err(
      `onebit plugin check: expected one DIR, got ${parsed.positionals.length}\n\n${PLUGIN_CHECK_USAGE}`,
    );
    return 2;
  }
  const dir = resolve(parsed.positionals[0]);
  const fail = (step: string, problem: string) => {
    err(`FAIL ${step}: ${problem}`);
    err(`onebit plugin check: ${dir} is not a valid plugin`);
    return 1;
  };
  let manifest: PluginManifest;
  try {
    manifest = await readManifest(dir);
  } catch (error) {
    return fail("manifest", message(error));
  }
  out(
    `ok   manifest  ${manifest.name} ${manifest.version} (${manifest.task}, api ${manifest.apiVersion})`,
  );
  try {
    // A fresh URL per check: an edited module must not come from this process's cache.
    const url = `${pathToFileURL(`${dir}/${manifest.entry}`).href}?check=${++checks}`;
    const module = await import(url);
    const problem = exportProblem(module);
    if (problem !== null) return fail("module", `${manifest.entry} ${problem}`);
  } catch (error) {
    return fail("module", `cannot import ${manifest.entry}: ${message(error)}`);
  }
  out(`ok   module    ${manifest.entry}`);
  const problems = await modelProblems(dir, manifest);
  if (problems.length > 0) return fail("models", problems.join("\n     "));
  out(`ok   models    ${Object.values(manifest.models).join(", ") || "(none)"}`);
  try {
    const started = performance.now();
    await using host = await openTestHost(dir, { deadlineMs: 60_000 });
    out(
      `ok   warm-up   ${host.status.state} in ${Math.round(performance.now() - started)} ms ` +
        `(${manifest.selftest ?? "test pattern"}, ${host.status.threads} thread(s))`,
    );
  } catch (error) {
    return fail("warm-up", message(error));
  }
  out(`${manifest.name} ${manifest.version}: valid`);
  return 0;
}
