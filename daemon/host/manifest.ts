/**
 * Reads and validates `plugin.json` ({@linkcode readManifest}) and merges option values from
 * the config into the manifest's defaults ({@linkcode resolveOptions}).
 *
 * Every error is a {@linkcode PluginError} whose message names the file and the field path:
 * `plugin.json: input.width is 0, expected an integer in 1..4096`.
 *
 * @module
 */

import { z } from "zod";
import {
  PLUGIN_API_VERSION,
  type PluginManifest,
  type PluginOptionSpec,
  TASK_KINDS,
} from "../sdk/plugin.ts";
import { errorMessage, PluginError } from "./errors.ts";

/** The manifest's file name inside a plugin folder. */
export const MANIFEST_FILE = "plugin.json";

/** Limits a manifest must keep. */
export const MANIFEST_LIMITS: Readonly<{
  inputSideMax: number;
  manifestBytesMax: number;
  optionsMax: number;
  modelsMax: number;
}> = Object.freeze({
  /** Largest input width or height, pixels. */
  inputSideMax: 4096,
  /** Largest `plugin.json`, bytes. */
  manifestBytesMax: 64 * 1024,
  /** Most options a plugin may declare. */
  optionsMax: 64,
  /** Most model files a plugin may name. */
  modelsMax: 16,
});

/** `[a-z][a-z0-9_-]{0,39}`: plugin names, also used in metric labels and URLs. */
export const PLUGIN_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

/** `MAJOR.MINOR.PATCH` with an optional `-prerelease` and `+build`. */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

const relativePath = z.string({ error: "expected a relative file path" }).min(1, {
  error: "expected a relative file path",
}).refine((path) => !path.startsWith("/") && !path.split(/[\\/]/).includes(".."), {
  error: "expected a path inside the plugin folder (no leading '/', no '..')",
});

const optionSpecSchema = z.strictObject({
  type: z.enum(["number", "integer", "boolean", "string"], {
    error: "expected one of number, integer, boolean, string",
  }),
  default: z.union([z.number(), z.boolean(), z.string()], {
    error: "expected a number, boolean or string",
  }),
  minimum: z.number({ error: "expected a number" }).optional(),
  maximum: z.number({ error: "expected a number" }).optional(),
  enum: z.array(z.string({ error: "expected a string" }), { error: "expected an array of strings" })
    .min(1, { error: "expected at least one value" }).optional(),
  description: z.string({ error: "expected a string" }).optional(),
});

const side = z.int({ error: `expected an integer in 1..${MANIFEST_LIMITS.inputSideMax}` })
  .min(1, { error: `expected an integer in 1..${MANIFEST_LIMITS.inputSideMax}` })
  .max(MANIFEST_LIMITS.inputSideMax, {
    error: `expected an integer in 1..${MANIFEST_LIMITS.inputSideMax}`,
  });

const manifestSchema = z.strictObject({
  name: z.string({ error: "expected a string" }).regex(PLUGIN_NAME_PATTERN, {
    error: "expected a name matching [a-z][a-z0-9_-]{0,39}",
  }),
  version: z.string({ error: "expected a string" }).regex(SEMVER_PATTERN, {
    error: "expected a semantic version MAJOR.MINOR.PATCH",
  }),
  task: z.enum(TASK_KINDS as [string, ...string[]], {
    error: `expected one of ${TASK_KINDS.join(", ")}`,
  }),
  apiVersion: z.literal(PLUGIN_API_VERSION, {
    error: `expected ${PLUGIN_API_VERSION} (the plugin API version of this daemon)`,
  }),
  entry: relativePath,
  models: z.record(z.string(), relativePath, { error: "expected an object of file paths" })
    .refine((models) => Object.keys(models).length <= MANIFEST_LIMITS.modelsMax, {
      error: `expected at most ${MANIFEST_LIMITS.modelsMax} models`,
    }).default({}),
  input: z.strictObject({
    width: side,
    height: side,
    channels: z.union([z.literal(1), z.literal(3)], { error: "expected 1 or 3" }),
    resize: z.enum(["stretch", "letterbox", "none"], {
      error: "expected one of stretch, letterbox, none",
    }).optional(),
  }, { error: "expected an object { width, height, channels }" }),
  frames: z.union([z.literal(1), z.literal(2)], { error: "expected 1 or 2" }).optional(),
  options: z.record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: "expected an identifier" }),
    optionSpecSchema,
    { error: "expected an object of option specs" },
  ).refine((options) => Object.keys(options).length <= MANIFEST_LIMITS.optionsMax, {
    error: `expected at most ${MANIFEST_LIMITS.optionsMax} options`,
  }).optional(),
  selftest: relativePath.optional(),
  description: z.string({ error: "expected a string" }).optional(),
}, { error: "expected a JSON object" });

/** `a.b[0].c` from a zod issue path. */
function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text === "" ? "(root)" : text;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "missing";
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** Checks an option spec's own consistency; returns a problem or `null`. */
export function optionSpecProblem(spec: PluginOptionSpec): string | null {
  if (spec.minimum !== undefined && spec.maximum !== undefined && spec.minimum > spec.maximum) {
    return `minimum ${spec.minimum} is above maximum ${spec.maximum}`;
  }
  if (spec.enum !== undefined && spec.type !== "string") {
    return `enum is only allowed for type string, not ${spec.type}`;
  }
  return optionValueProblem(spec, spec.default);
}

/** Why `value` does not fit `spec` (`"is 5, expected ..."`), or `null` when it fits. */
export function optionValueProblem(spec: PluginOptionSpec, value: unknown): string | null {
  const shown = describeValue(value);
  switch (spec.type) {
    case "boolean":
      return typeof value === "boolean" ? null : `is ${shown}, expected true or false`;
    case "string":
      if (typeof value !== "string") return `is ${shown}, expected a string`;
      if (spec.enum !== undefined && !spec.enum.includes(value)) {
        return `is ${shown}, expected one of ${spec.enum.join(", ")}`;
      }
      return null;
    case "number":
    case "integer": {
      const range = `${spec.minimum ?? "-inf"}..${spec.maximum ?? "inf"}`;
      const kind = spec.type === "integer" ? "an integer" : "a number";
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return `is ${shown}, expected ${kind} in ${range}`;
      }
      if (spec.type === "integer" && !Number.isInteger(value)) {
        return `is ${shown}, expected ${kind} in ${range}`;
      }
      if (
        (spec.minimum !== undefined && value < spec.minimum) ||
        (spec.maximum !== undefined && value > spec.maximum)
      ) {
        return `is ${shown}, expected ${kind} in ${range}`;
      }
      return null;
    }
  }
}

/**
 * Validates a parsed `plugin.json` value (shape only, no file checks) and returns the
 * manifest. `file` names it in messages. Throws `bad_manifest`.
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * const manifest = parseManifest({
 *   name: "echo", version: "1.0.0", task: "custom", apiVersion: 1, entry: "mod.ts",
 *   input: { width: 8, height: 8, channels: 3 },
 * }, "plugin.json");
 * console.log(manifest.models); // {}
 * ```
 */
export function parseManifest(value: unknown, file: string): PluginManifest {
  const parsed = manifestSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const input = (issue as { input?: unknown }).input;
    const message = issue.code === "unrecognized_keys"
      ? `${fieldPath(issue.path)} has unknown field(s) ${issue.keys.join(", ")}`
      : `${fieldPath(issue.path)} is ${describeValue(input)}, ${issue.message}`;
    throw new PluginError("bad_manifest", `${file}: ${message}`);
  }
  const manifest = parsed.data as PluginManifest;
  for (const [name, spec] of Object.entries(manifest.options ?? {})) {
    const problem = optionSpecProblem(spec);
    if (problem !== null) {
      throw new PluginError(
        "bad_manifest",
        `${file}: options.${name}.${problem.startsWith("is ") ? "default " : ""}${problem}`,
      );
    }
  }
  return deepFreeze(manifest);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Resolves `relative` in `dir` and checks it is an existing regular file there. */
async function checkFile(dir: string, relative: string, field: string, file: string) {
  const path = `${dir}/${relative}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new PluginError(
      "bad_manifest",
      `${file}: ${field} is ${JSON.stringify(relative)}, but ${path} ` +
        (error instanceof Deno.errors.NotFound
          ? "does not exist"
          : `cannot be read: ${errorMessage(error)}`),
      { cause: error },
    );
  }
  if (!info.isFile) {
    throw new PluginError(
      "bad_manifest",
      `${file}: ${field} is ${JSON.stringify(relative)}, but ${path} is not a file`,
    );
  }
  // A symlink could point out of the folder; the worker can read only the folder itself.
  const real = await Deno.realPath(path);
  const realDir = await Deno.realPath(dir);
  if (!real.startsWith(`${realDir}/`)) {
    throw new PluginError(
      "bad_manifest",
      `${file}: ${field} is ${JSON.stringify(relative)}, which resolves to ${real}, outside ` +
        `the plugin folder ${realDir}`,
    );
  }
}

/**
 * Reads `<dir>/plugin.json`, validates it against the plugin contract (name, semver,
 * `apiVersion`, input sizes 1..4096, channels 1 or 3, option specs with defaults in range)
 * and checks that the entry, every model file and the self-test image exist inside the
 * folder. Throws `plugin_not_found` when `dir` has no `plugin.json`, `bad_manifest` for
 * anything else, naming the file and the field.
 *
 * @example
 * ```ts ignore
 * import { readManifest } from "./manifest.ts";
 * const manifest = await readManifest("plugins/detect");
 * console.log(manifest.name, manifest.version);
 * ```
 */
export async function readManifest(dir: string): Promise<PluginManifest> {
  const path = `${dir}/${MANIFEST_FILE}`;
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.size > MANIFEST_LIMITS.manifestBytesMax) {
      throw new PluginError(
        "bad_manifest",
        `${path}: the file is ${info.size} bytes, max ${MANIFEST_LIMITS.manifestBytesMax}`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof PluginError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new PluginError("plugin_not_found", `No plugin in ${dir}: ${path} does not exist`, {
        cause: error,
      });
    }
    throw new PluginError("bad_manifest", `Cannot read ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PluginError("bad_manifest", `${path}: not valid JSON: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const manifest = parseManifest(value, path);
  await checkFile(dir, manifest.entry, "entry", path);
  for (const [name, model] of Object.entries(manifest.models)) {
    await checkFile(dir, model, `models.${name}`, path);
  }
  if (manifest.selftest !== undefined) await checkFile(dir, manifest.selftest, "selftest", path);
  return manifest;
}

/** Option values as the config gives them. */
export type OptionValues = Readonly<Record<string, number | boolean | string>>;

/**
 * The manifest's option defaults with `overrides` applied, each override checked against
 * its spec. Throws `bad_options` naming the option and the value for an unknown option or
 * a value out of its spec.
 *
 * @example
 * ```ts
 * import { parseManifest, resolveOptions } from "./manifest.ts";
 * const manifest = parseManifest({
 *   name: "echo", version: "1.0.0", task: "custom", apiVersion: 1, entry: "mod.ts",
 *   input: { width: 8, height: 8, channels: 3 },
 *   options: { scale: { type: "number", default: 1, minimum: 0, maximum: 10 } },
 * }, "plugin.json");
 * console.log(resolveOptions(manifest, { scale: 2 })); // { scale: 2 }
 * ```
 */
export function resolveOptions(
  manifest: PluginManifest,
  overrides: OptionValues = {},
): OptionValues {
  const specs = manifest.options ?? {};
  const values: Record<string, number | boolean | string> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.default;
  for (const [name, value] of Object.entries(overrides)) {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      const known = Object.keys(specs);
      throw new PluginError(
        "bad_options",
        `Plugin '${manifest.name}' has no option '${name}' (its options: ${
          known.length === 0 ? "none" : known.join(", ")
        })`,
      );
    }
    const problem = optionValueProblem(spec, value);
    if (problem !== null) {
      throw new PluginError(
        "bad_options",
        `Option '${name}' of plugin '${manifest.name}' ${problem}`,
      );
    }
    values[name] = value;
  }
  return Object.freeze(values);
}
