/**
 * `onebit plugin new`: writes a working plugin folder for one task kind from the templates
 * in `templates/` (the module of the shipped plugin of that kind, a test, a README) with a
 * small starter model of that kind built by the model zoo with random weights.
 *
 * @module
 */

import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PLUGIN_NAME_PATTERN } from "../host/manifest.ts";
import {
  buildBinealResNet18,
  buildCenterNet,
  buildEdsr,
  buildFcn,
  buildR2d2,
  type ZooModel,
} from "../runtime/zoo.ts";
import type { PluginManifest, PluginOptionSpec, TaskKind } from "../sdk/plugin.ts";

/** The task kinds `onebit plugin new` scaffolds. */
export type ScaffoldKind = Exclude<TaskKind, "custom">;

/** Every {@linkcode ScaffoldKind}. */
export const SCAFFOLD_KINDS: readonly ScaffoldKind[] = Object.freeze([
  "classify",
  "detect",
  "segment",
  "match",
  "superres",
]);

/** The `daemon/` folder the templates import from. */
const DAEMON_DIR = fileURLToPath(new URL("../", import.meta.url));
const TEMPLATES = fileURLToPath(new URL("./templates/", import.meta.url));

/**
 * Stable codes of {@linkcode ScaffoldError}: `bad_name`, `bad_kind`, `exists` (the target
 * folder exists and is not empty).
 */
export type ScaffoldErrorCode = "bad_name" | "bad_kind" | "exists";

/** `onebit plugin new` cannot scaffold what was asked; nothing was written. */
export class ScaffoldError extends Error {
  /** Stable code. */
  readonly code: ScaffoldErrorCode;
  /** Creates an error; `message` names the value at fault. */
  constructor(code: ScaffoldErrorCode, message: string) {
    super(message);
    this.name = "ScaffoldError";
    this.code = code;
  }
}

/** What a kind's scaffold is made of. */
interface KindSpec {
  starter: () => ZooModel;
  /** How the starter was built, for the README. */
  starterText: string;
  input: PluginManifest["input"];
  frames?: 1 | 2;
  about: string;
  /** Lines of the test body asserting on `data` (and `outcome`). */
  assertions: string;
}

const KINDS: Readonly<Record<ScaffoldKind, KindSpec>> = {
  classify: {
    starter: () => buildBinealResNet18({ width: 0.25, inputSize: 32, classes: 10 }),
    starterText: "BiNeal ResNet-18, width 0.25, 32x32 input, 10 classes",
    input: { width: 32, height: 32, channels: 3, resize: "stretch" },
    about: "Classifies the frame: the top-k labels (from `labels.txt`, one per line, else " +
      "`class N`) with softmax probabilities.",
    assertions: `  const top = data.top as { score: number }[];
  assert.ok(top.length >= 1);
  for (const entry of top) assert.ok(entry.score >= 0 && entry.score <= 1);`,
  },
  detect: {
    starter: () => buildCenterNet({ width: 0.25, inputSize: 64, classes: 2, headChannels: 16 }),
    starterText: "CenterNet, width 0.25, 64x64 input, 2 classes",
    input: { width: 64, height: 64, channels: 3, resize: "letterbox" },
    about: "Detects objects CenterNet-style: boxes `[x1, y1, x2, y2]` in the pixels of the " +
      "uploaded image, with labels and scores.",
    assertions: `  for (const { box } of data.boxes as { box: number[] }[]) {
    assert.ok(box[0] >= 0 && box[0] <= box[2] && box[2] <= 96);
    assert.ok(box[1] >= 0 && box[1] <= box[3] && box[3] <= 72);
  }`,
  },
  segment: {
    starter: () => buildFcn({ width: 0.25, inputSize: [64, 128], classes: 4 }),
    starterText: "FCN, width 0.25, 64x128 input, 4 classes",
    input: { width: 128, height: 64, channels: 3, resize: "stretch" },
    about: "Segments the frame: a colour PNG mask (`mask`), a class-id PNG (`classes`) and " +
      "the pixel area of every class.",
    assertions: `  const areas = data.areas as { pixels: number }[];
  assert.equal(areas.reduce((sum, area) => sum + area.pixels, 0), 96 * 72);
  assert.ok(outcome.result.images?.mask.bytes.length);`,
  },
  match: {
    starter: () => buildR2d2({ width: 0.25, inputSize: [60, 80], descriptorBits: 128 }),
    starterText: "R2D2, width 0.25, 60x80 input, 128-bit descriptors",
    input: { width: 80, height: 60, channels: 3, resize: "stretch" },
    frames: 2,
    about: "Matches two images: keypoints and binary descriptors, Hamming matching in the " +
      "kernel library, and a RANSAC homography with its inlier count.",
    assertions: `  assert.equal((data.keypoints as number[]).length, 2);
  assert.ok(typeof data.inliers === "number");`,
  },
  superres: {
    starter: () => buildEdsr({ width: 0.25, inputSize: 32, blocks: 4 }),
    starterText: "EDSR x2, width 0.25, 32x32 input, 4 blocks",
    input: { width: 32, height: 32, channels: 3, resize: "stretch" },
    about: "Upscales the frame 2x and returns it as the PNG `upscaled`.",
    assertions: `  assert.equal(data.width, 64);
  assert.equal(outcome.result.images?.upscaled.mediaType, "image/png");`,
  },
};

/** The options of the shipped plugin of `kind` (the scaffold offers the same). */
async function kindOptions(kind: ScaffoldKind): Promise<Record<string, PluginOptionSpec>> {
  const text = await Deno.readTextFile(`${TEMPLATES}/${kind}/options.json`);
  return JSON.parse(text);
}

/** Options of {@linkcode scaffoldPlugin}. */
export interface ScaffoldOptions {
  /** Task kind. */
  task: ScaffoldKind;
  /** Folder the plugin folder is created in. Default: the current directory. */
  dir?: string;
}

/** What {@linkcode scaffoldPlugin} wrote. */
export interface ScaffoldResult {
  /** Absolute path of the new plugin folder. */
  readonly dir: string;
  /** Files written, relative to it. */
  readonly files: readonly string[];
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

/**
 * Writes `<dir>/<name>/` with `plugin.json`, `mod.ts`, `mod_test.ts`, `README.md` and a
 * starter `model.safetensors` of `task`. Imports of the daemon's SDK are relative paths
 * from the new folder to this checkout's `daemon/`. Throws {@linkcode ScaffoldError} for a
 * bad name or kind, or a non-empty target folder (nothing is written then).
 *
 * @example
 * ```ts ignore
 * const { dir } = await scaffoldPlugin("cones", { task: "detect", dir: "plugins" });
 * ```
 */
export async function scaffoldPlugin(
  name: string,
  options: ScaffoldOptions,
): Promise<ScaffoldResult> {
  if (!PLUGIN_NAME_PATTERN.test(name)) {
    throw new ScaffoldError(
      "bad_name",
      `plugin name '${name}' does not match [a-z][a-z0-9_-]{0,39}`,
    );
  }
  const spec = Object.hasOwn(KINDS, options.task) ? KINDS[options.task] : undefined;
  if (spec === undefined) {
    throw new ScaffoldError(
      "bad_kind",
      `task '${options.task}' cannot be scaffolded; expected one of ${SCAFFOLD_KINDS.join(", ")}`,
    );
  }
  const dir = resolve(options.dir ?? ".", name);
  try {
    for await (const _ of Deno.readDir(dir)) {
      throw new ScaffoldError("exists", `${dir} exists and is not empty`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  let daemon = relative(dir, DAEMON_DIR).replaceAll("\\", "/");
  if (!daemon.startsWith(".")) daemon = `./${daemon}`;
  const values = {
    NAME: name,
    TASK: options.task,
    DAEMON: daemon.replace(/\/$/, ""),
    DIR: relative(Deno.cwd(), dir) || ".",
    TEST_PATH: `${relative(Deno.cwd(), dir) || "."}/mod_test.ts`,
    ABOUT: spec.about,
    STARTER: spec.starterText,
    ASSERTIONS: spec.assertions,
  };
  const manifest: PluginManifest = {
    name,
    version: "0.1.0",
    task: options.task,
    apiVersion: 1,
    entry: "mod.ts",
    models: { model: "model.safetensors" },
    input: spec.input,
    ...(spec.frames === undefined ? {} : { frames: spec.frames }),
    options: await kindOptions(options.task),
    description: `${options.task} plugin scaffolded by onebit plugin new (starter model)`,
  };
  const read = (file: string) => Deno.readTextFile(`${TEMPLATES}/${file}`);
  const files: Record<string, string | Uint8Array> = {
    "mod.ts": fill(await read(`${options.task}/mod.ts.tmpl`), values),
    "mod_test.ts": fill(await read("mod_test.ts.tmpl"), values),
    "README.md": fill(await read("README.md.tmpl"), values),
    "model.safetensors": spec.starter().bytes,
  };
  if (options.task === "classify") {
    files["labels.txt"] = Array.from({ length: 10 }, (_, i) => `class ${i}`).join("\n") + "\n";
  }
  await Deno.mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${file}`, content);
    else await Deno.writeFile(`${dir}/${file}`, content);
  }
  // The manifest last: a watching daemon sees a complete folder.
  await Deno.writeTextFile(`${dir}/plugin.json`, JSON.stringify(manifest, null, 2) + "\n");
  return { dir, files: [...Object.keys(files), "plugin.json"] };
}
